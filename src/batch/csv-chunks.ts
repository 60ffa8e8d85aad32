/**
 * CSV files in chunks of rows, typed as `CSVDataset` types them: a first streaming pass (`scanCsv`)
 * counts the rows, decides each column's type over the whole file (so a chunk types its cells as a
 * whole-file load would) and remembers the byte offset where each chunk starts; chunks are then
 * read by byte range (`readCsvRange`) or in sequence (`readCsvChunks`), never the whole file at once.
 */
import { createReadStream } from 'node:fs';
import type { Info, Options } from 'csv-parse';
import type { CSVLoadArgs } from '../datasets/csv-dataset.js';
import type { Row } from '../datasets/table.js';

/** How a column's cells are typed (csv-cast.ts rules, decided over every row of the file). */
export type CsvColumnKind = 'number' | 'boolean' | 'string' | 'raw';

/** What one pass over a CSV file learns. */
export interface CsvScan {
  names: string[];
  kinds: CsvColumnKind[];
  numRows: number;
  /** Byte offset of the first record of chunk i (chunks of `chunkSize` rows), and the file's end. */
  offsets: number[];
  chunkSize: number;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:NaN|Infinity)$/;
const BOOLEAN = /^(?:true|false)$/i;

function parserOptions(args: CSVLoadArgs, extra: Options = {}): Options {
  return {
    delimiter: args.delimiter ?? ',',
    quote: args.quote ?? '"',
    ...(args.comment ? { comment: args.comment } : {}),
    encoding: (args.encoding ?? 'utf8') as BufferEncoding,
    skip_empty_lines: true,
    ...extra,
  };
}

/** Reads every record once: names, column types, row count and chunk offsets. */
export async function scanCsv(
  path: string,
  args: CSVLoadArgs = {},
  chunkSize = 10_000,
): Promise<CsvScan> {
  const header = args.header ?? true;
  let names: string[] | undefined = header ? undefined : args.columns;
  let expectHeader = header;
  let numeric: boolean[] = [];
  let boolean: boolean[] = [];
  let numRows = 0;
  let lastEnd = 0;
  const offsets: number[] = [];
  const { parse } = await import('csv-parse'); // loaded with the first CSV chunk
  const parser = createReadStream(path).pipe(parse(parserOptions(args, { bom: true, info: true })));
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
    if (expectHeader) {
      expectHeader = false;
      names = args.columns ?? record;
      lastEnd = info.bytes;
      continue;
    }
    names ??= record.map((_, i) => String(i));
    if (numeric.length === 0) {
      numeric = names.map(() => true);
      boolean = names.map(() => true);
    }
    if (numRows % chunkSize === 0) offsets.push(lastEnd);
    for (let c = 0; c < names.length; c++) {
      const cell = record[c] ?? '';
      if (cell === '') continue;
      if (numeric[c] && !NUMBER.test(cell)) numeric[c] = false;
      if (boolean[c] && !BOOLEAN.test(cell)) boolean[c] = false;
    }
    lastEnd = info.bytes;
    numRows++;
  }
  offsets.push(lastEnd);
  const cast = args.cast ?? true;
  const kinds = (names ?? []).map((_, c): CsvColumnKind =>
    !cast ? 'raw' : (numeric[c] ?? true) ? 'number' : (boolean[c] ?? true) ? 'boolean' : 'string',
  );
  return { names: names ?? [], kinds, numRows, offsets, chunkSize };
}

/** One record as a row object, cells typed by `kinds`; missing cells are null (as CSVDataset's). */
export function toRow(
  record: string[],
  names: readonly string[],
  kinds: readonly CsvColumnKind[],
): Row {
  const row: Row = {};
  for (let c = 0; c < names.length; c++) {
    const cell = record[c] ?? '';
    const kind = kinds[c];
    row[names[c]!] =
      kind === 'raw'
        ? cell
        : cell === ''
          ? null
          : kind === 'number'
            ? Number(cell)
            : kind === 'boolean'
              ? cell.toLowerCase() === 'true'
              : cell;
  }
  return row;
}

/** The rows between two record offsets found by `scanCsv` (a chunk's byte range). */
export async function readCsvRange(
  path: string,
  scan: Pick<CsvScan, 'names' | 'kinds'>,
  byteStart: number,
  byteEnd: number,
  args: CSVLoadArgs = {},
): Promise<Row[]> {
  if (byteEnd <= byteStart) return [];
  const rows: Row[] = [];
  const { parse } = await import('csv-parse'); // loaded with the first CSV chunk
  const parser = createReadStream(path, { start: byteStart, end: byteEnd - 1 }).pipe(
    parse(parserOptions(args, { bom: byteStart === 0 })),
  );
  for await (const record of parser as AsyncIterable<string[]>)
    rows.push(toRow(record, scan.names, scan.kinds));
  return rows;
}

/** The file's rows in chunks of `chunkSize`, typed by a scan (one parser, read once, in order). */
export async function* readCsvChunks(
  path: string,
  scan: Pick<CsvScan, 'names' | 'kinds'>,
  chunkSize: number,
  args: CSVLoadArgs = {},
): AsyncGenerator<Row[]> {
  const header = args.header ?? true;
  const { parse } = await import('csv-parse'); // loaded with the first CSV chunk
  const parser = createReadStream(path).pipe(parse(parserOptions(args, { bom: true })));
  let skipHeader = header;
  let chunk: Row[] = [];
  for await (const record of parser as AsyncIterable<string[]>) {
    if (skipHeader) {
      skipHeader = false;
      continue;
    }
    chunk.push(toRow(record, scan.names, scan.kinds));
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
