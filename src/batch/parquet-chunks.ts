/**
 * Parquet files in chunks: the row count from the footer, rows of a range (`rowStart`/`rowEnd`, so
 * only the row groups holding it are decoded), the whole file one row group at a time, and a writer
 * that appends one row group per chunk. Values come back as `ParquetDataset` returns them: INT64 as
 * numbers, missing values as null.
 */
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import type { BasicType, ColumnSource, ParquetWriter } from 'hyparquet-writer';
import type * as HyparquetWriter from 'hyparquet-writer';
import type { Row } from '../datasets/table.js';

// hyparquet and hyparquet-writer load with the first Parquet chunk, not with the package.
let writerModule: typeof HyparquetWriter | undefined;

/** Loads hyparquet-writer for `ParquetRowWriter` (once); call it before constructing one. */
export async function loadParquetWriter(): Promise<void> {
  writerModule ??= await import('hyparquet-writer');
}

function parquetWriter(): typeof HyparquetWriter {
  if (!writerModule) throw new Error('ParquetRowWriter needs `await loadParquetWriter()` first.');
  return writerModule;
}

/** Row count and column names from the footer (no data read). */
export async function parquetInfo(
  path: string,
): Promise<{ numRows: number; names: string[]; rowGroups: number[] }> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetSchema } = await import('hyparquet');
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
  return {
    numRows: Number(metadata.num_rows),
    names: parquetSchema(metadata).children.map((child) => child.element.name),
    rowGroups: metadata.row_groups.map((group) => Number(group.num_rows)),
  };
}

function normalise(rows: Record<string, unknown>[], names: readonly string[]): Row[] {
  return rows.map((source) => {
    const row: Row = {};
    for (const name of names) {
      const value = source[name];
      row[name] = typeof value === 'bigint' ? Number(value) : value === undefined ? null : value;
    }
    return row;
  });
}

async function open(
  path: string,
  columns?: string[],
): Promise<{
  file: AsyncBuffer;
  metadata: FileMetaData;
  names: string[];
}> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetSchema } = await import('hyparquet');
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const all = parquetSchema(metadata).children.map((child) => child.element.name);
  const missing = (columns ?? []).filter((name) => !all.includes(name));
  if (missing.length)
    throw new Error(
      `load_args.columns names ${missing.join(', ')}, not in ${path} (columns: ${all.join(', ')})`,
    );
  return { file, metadata, names: columns ?? all };
}

/** Rows `[rowStart, rowEnd)` of a Parquet file. */
export async function readParquetRange(
  path: string,
  rowStart: number,
  rowEnd: number,
  columns?: string[],
): Promise<Row[]> {
  const { file, metadata, names } = await open(path, columns);
  const { parquetReadObjects } = await import('hyparquet');
  const end = Math.min(rowEnd, Number(metadata.num_rows));
  if (end <= rowStart) return [];
  const rows = (await parquetReadObjects({
    file,
    metadata,
    columns: names,
    rowStart,
    rowEnd: end,
  })) as Record<string, unknown>[];
  return normalise(rows, names);
}

/** The file's rows, one row group at a time (re-chunk with `rechunk` for a fixed size). */
export async function* readParquetRowGroups(
  path: string,
  columns?: string[],
): AsyncGenerator<Row[]> {
  const { file, metadata, names } = await open(path, columns);
  const { parquetReadObjects } = await import('hyparquet');
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    if (end > start) {
      const rows = (await parquetReadObjects({
        file,
        metadata,
        columns: names,
        rowStart: start,
        rowEnd: end,
      })) as Record<string, unknown>[];
      yield normalise(rows, names);
    }
    start = end;
  }
}

type Kind = 'number' | 'boolean' | 'string' | 'bigint' | 'date' | 'json';
const TYPES: Record<Kind, BasicType> = {
  number: 'DOUBLE',
  boolean: 'BOOLEAN',
  string: 'STRING',
  bigint: 'INT64',
  date: 'TIMESTAMP',
  json: 'JSON',
};

function kindOf(value: unknown): Kind | undefined {
  if (value === null || value === undefined) return undefined;
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'string' ||
    typeof value === 'bigint'
  )
    return typeof value as Kind;
  return value instanceof Date ? 'date' : 'json';
}

/**
 * Appends rows to a Parquet file one row group per `write`. The schema is fixed by the first
 * chunk: every column nullable, numbers as DOUBLE (a chunk of whole numbers must not narrow a column
 * that holds fractions elsewhere), and a later value of another type is an error naming the column.
 */
export class ParquetRowWriter {
  #writer: ParquetWriter | undefined;
  #names: string[] = [];
  #kinds: Kind[] = [];
  rows = 0;

  constructor(private readonly path: string) {}

  write(rows: readonly Row[]): void {
    if (rows.length === 0) return;
    if (!this.#writer) {
      const seen = new Set<string>();
      for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
      this.#names = [...seen];
      // A column with no value in the first chunk is JSON: any later value fits it.
      this.#kinds = this.#names.map(
        (name) => rows.map((row) => kindOf(row[name])).find((kind) => kind !== undefined) ?? 'json',
      );
    }
    const columnData: ColumnSource[] = this.#names.map((name, c) => {
      const data = rows.map((row, i) => {
        const value = row[name];
        if (value === undefined || value === null) return null;
        const kind = kindOf(value);
        if (kind !== this.#kinds[c] && this.#kinds[c] !== 'json') {
          throw new TypeError(
            `column '${name}' holds ${this.#kinds[c]} values and then a ${kind} (row ${this.rows + i}): a Parquet column has one type.`,
          );
        }
        return value;
      });
      return { name, data, type: TYPES[this.#kinds[c]!], nullable: true };
    });
    if (!this.#writer) {
      const { fileWriter, ParquetWriter, schemaFromColumnData } = parquetWriter();
      this.#writer = new ParquetWriter({
        writer: fileWriter(this.path),
        schema: schemaFromColumnData({ columnData }),
      });
    }
    const schemaFree = columnData.map(({ name, data }) => ({ name, data }));
    void this.#writer.write({ columnData: schemaFree, rowGroupSize: rows.length });
    this.rows += rows.length;
  }

  /** Writes the footer (an empty file gets a schema-less one). */
  finish(): void {
    const { fileWriter, ParquetWriter, schemaFromColumnData } = parquetWriter();
    this.#writer ??= new ParquetWriter({
      writer: fileWriter(this.path),
      schema: schemaFromColumnData({ columnData: [] }),
    });
    void this.#writer.finish();
  }
}
