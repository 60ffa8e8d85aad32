/**
 * Row ranges of a catalog dataset, for chunk activities. A local CSV dataset is scanned once (row
 * count, column types over the whole file, byte offset of every chunk) and each chunk reads only its
 * bytes; a local Parquet dataset reads its range with `rowStart`/`rowEnd`; any other dataset is
 * loaded whole (once per worker process and run) and sliced.
 */
import { stat } from 'node:fs/promises';
import type { CSVLoadArgs } from '../datasets/csv-dataset.js';
import type { ParquetLoadArgs } from '../datasets/parquet-dataset.js';
import { arrowToColumns, columnsToRows, isArrowTable, type Row } from '../datasets/table.js';
import type { Dataset } from '../datasets/types.js';
import { readCsvRange, scanCsv, type CsvColumnKind } from './csv-chunks.js';
import { parquetInfo, readParquetRange } from './parquet-chunks.js';

/** How a chunk reads its rows, as recorded in the run's manifest (never sent through Temporal). */
export type SourceLayout =
  | {
      reader: 'csv';
      path: string;
      loadArgs: CSVLoadArgs;
      names: string[];
      kinds: CsvColumnKind[];
      offsets: number[];
      chunkSize: number;
    }
  | { reader: 'parquet'; path: string; columns?: string[] }
  | { reader: 'range' }
  | { reader: 'dataset' };

export interface SourceDescription {
  layout: SourceLayout;
  numRows: number;
  /** Identifies the input's content: a changed input invalidates a run's parts. */
  version: string;
}

/** Thrown for an input that cannot be scored in chunks (not rows, not a table). */
export class BatchInputError extends Error {
  override readonly name = 'BatchInputError';
}

interface FileDatasetLike {
  type: string;
  table?: string;
  loadArgs?: unknown;
  localPath?: () => string | undefined;
}

function localFile(dataset: Dataset, type: string): string | undefined {
  const file = dataset as unknown as FileDatasetLike;
  if (file.type !== type || file.table !== 'rows' || typeof file.localPath !== 'function')
    return undefined;
  return file.localPath();
}

/**
 * A dataset that counts its rows and reads a range of them itself (sql.SQLTableDataset): chunks
 * read their rows only, never the whole table.
 */
interface RangeReadable {
  countRows(): Promise<number>;
  readRange(start: number, end: number): Promise<unknown>;
}

function rangeReadable(dataset: Dataset): RangeReadable | undefined {
  const candidate = dataset as unknown as Partial<RangeReadable>;
  return typeof candidate.countRows === 'function' && typeof candidate.readRange === 'function'
    ? (candidate as RangeReadable)
    : undefined;
}

/** Records of whatever a dataset loads: rows, an arrow Table, or an error naming what it got. */
export function rowsOf(data: unknown, name: string): unknown[] {
  if (Array.isArray(data)) return data;
  if (isArrowTable(data)) return columnsToRows(arrowToColumns(data));
  throw new BatchInputError(
    `Dataset '${name}' loads ${data === null ? 'null' : typeof data}, not records (an array of rows or an arrow Table): it cannot be scored in chunks.`,
  );
}

/** Scans a dataset for its row count and chunk layout (see the module doc). */
export async function describeSource(
  dataset: Dataset,
  name: string,
  chunkSize: number,
): Promise<SourceDescription> {
  const csv = localFile(dataset, 'csv.CSVDataset');
  if (csv) {
    const loadArgs = ((dataset as unknown as FileDatasetLike).loadArgs ?? {}) as CSVLoadArgs;
    const [scan, info] = await Promise.all([scanCsv(csv, loadArgs, chunkSize), stat(csv)]);
    return {
      layout: {
        reader: 'csv',
        path: csv,
        loadArgs,
        names: scan.names,
        kinds: scan.kinds,
        offsets: scan.offsets,
        chunkSize,
      },
      numRows: scan.numRows,
      version: `${csv}:${info.size}:${info.mtimeMs}`,
    };
  }
  const parquet = localFile(dataset, 'parquet.ParquetDataset');
  if (parquet) {
    const columns = (
      (dataset as unknown as FileDatasetLike).loadArgs as ParquetLoadArgs | undefined
    )?.columns;
    const [meta, info] = await Promise.all([parquetInfo(parquet), stat(parquet)]);
    return {
      layout: { reader: 'parquet', path: parquet, ...(columns ? { columns } : {}) },
      numRows: meta.numRows,
      version: `${parquet}:${info.size}:${info.mtimeMs}`,
    };
  }
  const ranged = rangeReadable(dataset);
  if (ranged) {
    const numRows = await ranged.countRows();
    return { layout: { reader: 'range' }, numRows, version: `range:${numRows}` };
  }
  const rows = rowsOf(await dataset.load(), name);
  return { layout: { reader: 'dataset' }, numRows: rows.length, version: `load:${rows.length}` };
}

/** Merges every `factor` consecutive chunks of a CSV layout (fewer, bigger chunks). */
export function coarsen(layout: SourceLayout, factor: number): SourceLayout {
  if (layout.reader !== 'csv' || factor <= 1) return layout;
  const offsets = layout.offsets.filter(
    (_, i) => i % factor === 0 || i === layout.offsets.length - 1,
  );
  return { ...layout, offsets, chunkSize: layout.chunkSize * factor };
}

const loaded = new Map<string, Promise<unknown[]>>();

/** Rows `[rowStart, rowEnd)` of chunk `index` (the layout's chunk size must be the plan's). */
export async function readChunk(
  layout: SourceLayout,
  dataset: Dataset,
  name: string,
  cacheKey: string,
  index: number,
  rowStart: number,
  rowEnd: number,
): Promise<unknown[]> {
  switch (layout.reader) {
    case 'csv': {
      const start = layout.offsets[index];
      const end = layout.offsets[index + 1];
      if (start === undefined || end === undefined)
        throw new BatchInputError(
          `Chunk ${index} is outside the scanned layout of '${name}' (${layout.offsets.length - 1} chunks).`,
        );
      const rows = await readCsvRange(layout.path, layout, start, end, layout.loadArgs);
      if (rows.length !== rowEnd - rowStart) {
        throw new BatchInputError(
          `Chunk ${index} of '${name}' read ${rows.length} rows, expected ${rowEnd - rowStart}: ${layout.path} changed during the run.`,
        );
      }
      return rows;
    }
    case 'parquet':
      return readParquetRange(layout.path, rowStart, rowEnd, layout.columns);
    case 'range': {
      const ranged = rangeReadable(dataset);
      if (!ranged)
        throw new BatchInputError(
          `Dataset '${name}' no longer reads ranges: its type changed during the run.`,
        );
      const rows = rowsOf(await ranged.readRange(rowStart, rowEnd), name);
      if (rows.length !== rowEnd - rowStart) {
        throw new BatchInputError(
          `Chunk ${index} of '${name}' read ${rows.length} rows, expected ${rowEnd - rowStart}: the table changed during the run.`,
        );
      }
      return rows;
    }
    case 'dataset': {
      // One load per worker process and run, shared by its chunks (the last run's only).
      let rows = loaded.get(cacheKey);
      if (!rows) {
        loaded.clear();
        rows = dataset.load().then((data) => rowsOf(data, name));
        rows.catch(() => loaded.delete(cacheKey));
        loaded.set(cacheKey, rows);
      }
      return (await rows).slice(rowStart, rowEnd) as Row[];
    }
  }
}
