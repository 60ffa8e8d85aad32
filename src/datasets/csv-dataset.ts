import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as z from 'zod';
import { fileEntryShape, parseDatasetConfig } from './config-schema.js';
import { castColumn } from './csv-cast.js';
import type { FileDatasetOptions } from './file-dataset.js';
import { AbstractFileDataset } from './file-dataset.js';
import { fileOptionsFrom } from './file-options.js';
import type { ColumnarTable, TableData, TableFormat } from './table.js';
import {
  columnNamesOf,
  fromColumns,
  isArrowTable,
  stringifyCell,
  TABLE_FORMATS,
  toColumns,
} from './table.js';
import type { DatasetFactory } from './types.js';

const csvLoadArgs = z.strictObject({
  /** @default ',' */
  delimiter: z.string().min(1).optional(),
  /** The first record holds the column names. @default true */
  header: z.boolean().optional(),
  /** Column names to use (replace the header's when `header` is true). */
  columns: z.array(z.string()).optional(),
  /** Type numeric and boolean columns (see csv-cast.ts). @default true */
  cast: z.boolean().optional(),
  /** @default '"' */
  quote: z.string().min(1).optional(),
  /** Lines starting with this are skipped. */
  comment: z.string().min(1).optional(),
  /** @default 'utf8' */
  encoding: z.enum(['utf8', 'utf-8', 'latin1', 'ascii', 'utf16le']).optional(),
});

const csvSaveArgs = z.strictObject({
  /** @default ',' */
  delimiter: z.string().min(1).optional(),
  /** Write a header record. @default true */
  header: z.boolean().optional(),
  /** Which columns to write, in order. @default every key, in order of first appearance */
  columns: z.array(z.string()).optional(),
  /** @default '"' */
  quote: z.string().min(1).optional(),
  /** @default 'utf8' */
  encoding: z.enum(['utf8', 'utf-8', 'latin1', 'ascii', 'utf16le']).optional(),
});

export type CSVLoadArgs = z.infer<typeof csvLoadArgs>;
export type CSVSaveArgs = z.infer<typeof csvSaveArgs>;

export interface CSVDatasetOptions extends FileDatasetOptions {
  loadArgs?: CSVLoadArgs;
  saveArgs?: CSVSaveArgs;
  /** What `load()` returns. @default 'rows' */
  table?: TableFormat;
}

/**
 * A CSV file (kedro-datasets `csv.CSVDataset`). Loads rows as objects (typed: see `cast`) or an
 * apache-arrow Table (`table: 'arrow'`); saves rows or an arrow Table. Reading streams through
 * csv-parse, writing streams through csv-stringify into a temp file renamed on success.
 */
export class CSVDataset extends AbstractFileDataset<TableData> {
  readonly type = 'csv.CSVDataset';
  readonly loadArgs: CSVLoadArgs;
  readonly saveArgs: CSVSaveArgs;
  readonly table: TableFormat;

  constructor(options: CSVDatasetOptions) {
    super(options);
    this.loadArgs = options.loadArgs ?? {};
    this.saveArgs = options.saveArgs ?? {};
    this.table = options.table ?? 'rows';
  }

  protected async readFile(path: string): Promise<TableData> {
    const { parse } = await import('csv-parse'); // loaded with the first CSV read
    const args = this.loadArgs;
    const header = args.header ?? true;
    let names: string[] | undefined = header ? undefined : args.columns;
    let skipHeader = header;
    let columns: unknown[][] = names ? names.map(() => []) : [];
    let numRows = 0;
    const parser = parse({
      delimiter: args.delimiter ?? ',',
      quote: args.quote ?? '"',
      ...(args.comment ? { comment: args.comment } : {}),
      bom: true,
      skip_empty_lines: true,
    });
    parser.on('data', (record: string[]) => {
      if (skipHeader) {
        skipHeader = false;
        names = args.columns ?? record;
        columns = names.map(() => []);
        return;
      }
      if (names === undefined) {
        names = record.map((_, i) => String(i));
        columns = names.map(() => []);
      }
      for (let c = 0; c < columns.length; c++) (columns[c] as unknown[]).push(record[c] ?? '');
      numRows++;
    });
    await pipeline(
      createReadStream(path, { encoding: (args.encoding ?? 'utf8') as BufferEncoding }),
      parser,
    );
    if (args.cast ?? true) for (const column of columns) castColumn(column);
    const table: ColumnarTable = { names: names ?? [], columns, numRows };
    return fromColumns(table, this.table);
  }

  protected async writeFile(tempPath: string, data: TableData): Promise<void> {
    const { stringify } = await import('csv-stringify');
    const args = this.saveArgs;
    const header = args.header ?? true;
    const records = isArrowTable(data)
      ? columnRecords(toColumns(data), args.columns, header)
      : rowRecords(data, args.columns, header);
    const stringifier = stringify({
      delimiter: args.delimiter ?? ',',
      quote: args.quote ?? '"',
      cast: {
        boolean: (value) => String(value),
        date: (value) => value.toISOString(),
        object: (value) => stringifyCell(value),
        bigint: (value) => String(value),
      },
    });
    await pipeline(
      Readable.from(records, { objectMode: true, highWaterMark: 1024 }),
      stringifier,
      createWriteStream(tempPath, { encoding: (args.encoding ?? 'utf8') as BufferEncoding }),
    );
  }

  protected override describeOptions(): Record<string, unknown> {
    return {
      ...(Object.keys(this.loadArgs).length ? { load_args: this.loadArgs } : {}),
      ...(Object.keys(this.saveArgs).length ? { save_args: this.saveArgs } : {}),
      ...(this.table !== 'rows' ? { table: this.table } : {}),
    };
  }
}

function* rowRecords(
  rows: TableData,
  only: string[] | undefined,
  header: boolean,
): Generator<unknown[]> {
  if (!Array.isArray(rows))
    throw new TypeError(
      `expected an array of row objects or an apache-arrow Table, received ${typeof rows}`,
    );
  const names = only ?? columnNamesOf(rows);
  if (header) yield names;
  for (const row of rows) {
    const record = new Array<unknown>(names.length);
    for (let c = 0; c < names.length; c++) record[c] = row[names[c] as string];
    yield record;
  }
}

function* columnRecords(
  table: ColumnarTable,
  only: string[] | undefined,
  header: boolean,
): Generator<unknown[]> {
  const names = only ?? table.names;
  const columns = names.map((name) => {
    const index = table.names.indexOf(name);
    if (index < 0)
      throw new TypeError(`save_args.columns names '${name}', which the table does not have`);
    return table.columns[index] as ArrayLike<unknown>;
  });
  if (header) yield names;
  for (let i = 0; i < table.numRows; i++) yield columns.map((column) => column[i]);
}

const csvSchema = z.strictObject({
  ...fileEntryShape,
  load_args: csvLoadArgs.optional(),
  save_args: csvSaveArgs.optional(),
  table: z.enum(TABLE_FORMATS).optional(),
});

/** Registry factory for `csv.CSVDataset` (`load_args`, `save_args`, `table`). */
export const csvDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(csvSchema, config, {
    type: 'csv.CSVDataset',
    name: context.name,
  });
  return new CSVDataset({
    ...fileOptionsFrom(parsed, context),
    loadArgs: parsed.load_args,
    saveArgs: parsed.save_args,
    table: parsed.table,
  });
};
