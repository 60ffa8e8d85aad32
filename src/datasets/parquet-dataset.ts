import type { ColumnData, DecodedArray } from 'hyparquet';
import type { BasicType, ColumnSource } from 'hyparquet-writer';
import * as z from 'zod';
import { fileEntryShape, parseDatasetConfig } from './config-schema.js';
import type { FileDatasetOptions } from './file-dataset.js';
import { AbstractFileDataset } from './file-dataset.js';
import { fileOptionsFrom } from './file-options.js';
import type { ColumnarTable, ColumnInfo, TableData, TableFormat } from './table.js';
import { fromColumns, inferColumn, TABLE_FORMATS, toColumns } from './table.js';
import type { DatasetFactory } from './types.js';

const parquetLoadArgs = z.strictObject({
  /** Read only these columns. @default every column */
  columns: z.array(z.string()).min(1).optional(),
});

const parquetSaveArgs = z.strictObject({
  /** @default 'SNAPPY' */
  compression: z.enum(['SNAPPY', 'UNCOMPRESSED']).optional(),
  /** Rows per row group. @default 100000 */
  row_group_size: z.number().int().positive().optional(),
});

export type ParquetLoadArgs = z.infer<typeof parquetLoadArgs>;
export type ParquetSaveArgs = z.infer<typeof parquetSaveArgs>;

export interface ParquetDatasetOptions extends FileDatasetOptions {
  loadArgs?: ParquetLoadArgs;
  saveArgs?: ParquetSaveArgs;
  /** What `load()` returns. @default 'rows' */
  table?: TableFormat;
}

/**
 * A Parquet file (kedro-datasets `parquet.ParquetDataset`), read with hyparquet column by
 * column and written with hyparquet-writer. Loads rows as objects or an apache-arrow Table
 * (`table: 'arrow'`); saves rows or an arrow Table. Column types written: 32-bit integers →
 * INT32, other numbers → DOUBLE, booleans → BOOLEAN, strings → STRING, bigints → INT64, dates
 * → TIMESTAMP, objects → JSON. INT64 values read back as numbers (exact up to 2^53).
 */
export class ParquetDataset extends AbstractFileDataset<TableData> {
  readonly type = 'parquet.ParquetDataset';
  readonly loadArgs: ParquetLoadArgs;
  readonly saveArgs: ParquetSaveArgs;
  readonly table: TableFormat;

  constructor(options: ParquetDatasetOptions) {
    super(options);
    this.loadArgs = options.loadArgs ?? {};
    this.saveArgs = options.saveArgs ?? {};
    this.table = options.table ?? 'rows';
  }

  protected async readFile(path: string): Promise<TableData> {
    // hyparquet loads with the first Parquet read, not with the package.
    const { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } =
      await import('hyparquet');
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    const numRows = Number(metadata.num_rows);
    const all = parquetSchema(metadata).children.map((child) => child.element.name);
    const names = this.loadArgs.columns ?? all;
    const missing = names.filter((name) => !all.includes(name));
    if (missing.length)
      throw new Error(
        `load_args.columns names ${missing.join(', ')}, not in the file (columns: ${all.join(', ')})`,
      );
    const columns = new Map<string, ColumnAccumulator>(
      names.map((name) => [name, new ColumnAccumulator(numRows)]),
    );
    await parquetRead({
      file,
      metadata,
      columns: names,
      onChunk: (chunk: ColumnData) => columns.get(chunk.columnName)?.add(chunk),
    });
    const table: ColumnarTable = {
      names,
      columns: names.map((name) => columns.get(name)?.values() ?? []),
      numRows,
    };
    return fromColumns(table, this.table);
  }

  protected async writeFile(tempPath: string, data: TableData): Promise<void> {
    const { parquetWriteFile } = await import('hyparquet-writer');
    const table = toColumns(data);
    const columnData = table.names.map((name, c) =>
      columnSource(name, table.columns[c] as ArrayLike<unknown>),
    );
    parquetWriteFile({
      filename: tempPath,
      columnData,
      codec: this.saveArgs.compression ?? 'SNAPPY',
      rowGroupSize: this.saveArgs.row_group_size ?? 100_000,
    });
  }

  protected override describeOptions(): Record<string, unknown> {
    return {
      ...(Object.keys(this.loadArgs).length ? { load_args: this.loadArgs } : {}),
      ...(Object.keys(this.saveArgs).length ? { save_args: this.saveArgs } : {}),
      ...(this.table !== 'rows' ? { table: this.table } : {}),
    };
  }
}

const BASIC_TYPES: Record<ColumnInfo['kind'], BasicType> = {
  int: 'INT32',
  float: 'DOUBLE',
  boolean: 'BOOLEAN',
  string: 'STRING',
  bigint: 'INT64',
  date: 'TIMESTAMP',
  json: 'JSON',
  null: 'STRING',
};

function columnSource(name: string, values: ArrayLike<unknown>): ColumnSource {
  const info = inferColumn(values);
  const wide = info.kind === 'int' && !info.int32;
  const type = wide ? 'DOUBLE' : BASIC_TYPES[info.kind];
  let data: DecodedArray;
  if (!info.nullable && type === 'INT32')
    data = values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  else if (!info.nullable && type === 'DOUBLE')
    data = values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
  else data = Array.isArray(values) ? values : Array.from(values);
  return { name, data, type, nullable: info.nullable || info.kind === 'null' };
}

/** Places a column's chunks (one per row group, in any order) into one array. */
class ColumnAccumulator {
  #values: DecodedArray | undefined;

  constructor(private readonly numRows: number) {}

  add({ columnData, rowStart, rowEnd }: ColumnData): void {
    const count = Math.min(rowEnd, this.numRows) - rowStart;
    let chunk: DecodedArray = columnData;
    if (chunk instanceof BigInt64Array || chunk instanceof BigUint64Array)
      chunk = Float64Array.from(chunk, Number);
    if (this.#values === undefined) {
      const Typed = ArrayBuffer.isView(chunk)
        ? (chunk.constructor as new (n: number) => DecodedArray)
        : undefined;
      this.#values = Typed ? new Typed(this.numRows) : new Array<unknown>(this.numRows);
    }
    const target = this.#values;
    if (
      ArrayBuffer.isView(target) &&
      ArrayBuffer.isView(chunk) &&
      target.constructor === chunk.constructor
    ) {
      (target as Float64Array).set((chunk as Float64Array).subarray(0, count), rowStart);
      return;
    }
    const out = ArrayBuffer.isView(target)
      ? (this.#values = Array.from(target as ArrayLike<unknown>))
      : target;
    for (let i = 0; i < count; i++) {
      const value: unknown = chunk[i];
      (out as unknown[])[rowStart + i] =
        typeof value === 'bigint' ? Number(value) : value === undefined ? null : value;
    }
  }

  values(): ArrayLike<unknown> {
    return this.#values ?? [];
  }
}

const parquetSchemaConfig = z.strictObject({
  ...fileEntryShape,
  load_args: parquetLoadArgs.optional(),
  save_args: parquetSaveArgs.optional(),
  table: z.enum(TABLE_FORMATS).optional(),
});

/** Registry factory for `parquet.ParquetDataset` (`load_args`, `save_args`, `table`). */
export const parquetDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(parquetSchemaConfig, config, {
    type: 'parquet.ParquetDataset',
    name: context.name,
  });
  return new ParquetDataset({
    ...fileOptionsFrom(parsed, context),
    loadArgs: parsed.load_args,
    saveArgs: parsed.save_args,
    table: parsed.table,
  });
};
