/**
 * Tables in memory. Datasets return rows (`Row[]`, one plain object per row) by default, or an
 * apache-arrow `Table` (a well-kept columnar type from the Apache Arrow project) on request.
 * Internally they convert through `ColumnarTable`: one array per column.
 */
import type { DataType, Table, Utf8, Vector } from 'apache-arrow';
import { isArrowTable, loadArrow, type ArrowModule } from './arrow-module.js';

export { isArrowTable };

/** One table row: column name → value (`null` for a missing value). */
export type Row = Record<string, unknown>;

/** A table as datasets accept it: rows, or an apache-arrow Table. */
export type TableData = Row[] | Table;

/** How a table dataset returns data: `rows` (default) or an apache-arrow `Table`. */
export type TableFormat = 'rows' | 'arrow';

export const TABLE_FORMATS = ['rows', 'arrow'] as const;

/** Column-major table: `columns[i]` holds the values of `names[i]`. */
export interface ColumnarTable {
  readonly names: string[];
  readonly columns: ArrayLike<unknown>[];
  readonly numRows: number;
}

/** The JS type of a column's non-null values. */
export type ColumnKind =
  'int' | 'float' | 'boolean' | 'string' | 'bigint' | 'date' | 'json' | 'null';

export interface ColumnInfo {
  kind: ColumnKind;
  nullable: boolean;
  /** For `int`: every value fits a 32-bit signed integer. */
  int32: boolean;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Column names in order of first appearance over every row. */
export function columnNamesOf(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  let width = -1;
  for (const row of rows) {
    // Fast path: rows of one shape add nothing new.
    const keys = Object.keys(row);
    if (keys.length === width && seen.has(keys[keys.length - 1] ?? '')) continue;
    for (const key of keys) seen.add(key);
    width = keys.length;
  }
  return [...seen];
}

export function rowsToColumns(
  rows: readonly Row[],
  names: string[] = columnNamesOf(rows),
): ColumnarTable {
  const columns = names.map(() => new Array<unknown>(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Row;
    for (let c = 0; c < names.length; c++) {
      const value = row[names[c] as string];
      (columns[c] as unknown[])[i] = value === undefined ? null : value;
    }
  }
  return { names, columns, numRows: rows.length };
}

export function columnsToRows(table: ColumnarTable): Row[] {
  const { names, columns, numRows } = table;
  const rows = new Array<Row>(numRows);
  for (let i = 0; i < numRows; i++) {
    const row: Row = {};
    for (let c = 0; c < names.length; c++)
      row[names[c] as string] = (columns[c] as ArrayLike<unknown>)[i];
    rows[i] = row;
  }
  return rows;
}

/** Infers a column's kind from all of its values. Mixed kinds are `json` (`string` if all scalar). */
export function inferColumn(values: ArrayLike<unknown>): ColumnInfo {
  if (values instanceof Float64Array || values instanceof Float32Array)
    return { kind: 'float', nullable: false, int32: false };
  if (
    ArrayBuffer.isView(values) &&
    !(values instanceof BigInt64Array || values instanceof BigUint64Array)
  ) {
    return {
      kind: 'int',
      nullable: false,
      int32:
        values instanceof Int32Array ||
        values instanceof Int16Array ||
        values instanceof Int8Array ||
        values instanceof Uint8Array ||
        values instanceof Uint16Array,
    };
  }
  let kind: ColumnKind = 'null';
  let nullable = false;
  let int32 = true;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      nullable = true;
      continue;
    }
    const valueKind = kindOf(value);
    if (valueKind === 'int' && ((value as number) < INT32_MIN || (value as number) > INT32_MAX))
      int32 = false;
    if (kind === valueKind || kind === 'json') continue;
    if (kind === 'null') kind = valueKind;
    else if ((kind === 'int' && valueKind === 'float') || (kind === 'float' && valueKind === 'int'))
      kind = 'float';
    else kind = 'json';
  }
  return { kind, nullable, int32 };
}

function kindOf(value: unknown): ColumnKind {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) ? 'int' : 'float';
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'bigint':
      return 'bigint';
    default:
      return value instanceof Date ? 'date' : 'json';
  }
}

function arrowVector(arrow: ArrowModule, values: ArrayLike<unknown>, info: ColumnInfo) {
  const { Bool, Float64, Int32, makeVector, Null, Utf8, vectorFromArray } = arrow;
  const plain = ArrayBuffer.isView(values) ? values : Array.from(values);
  const type: DataType = ((): DataType => {
    switch (info.kind) {
      case 'int':
        return info.int32 ? new Int32() : new Float64();
      case 'float':
        return new Float64();
      case 'boolean':
        return new Bool();
      case 'null':
        return new Null();
      default:
        return new Utf8();
    }
  })();
  if (!info.nullable && info.kind === 'int' && info.int32)
    return makeVector(Int32Array.from(plain as ArrayLike<number>));
  if (!info.nullable && (info.kind === 'int' || info.kind === 'float'))
    return makeVector(Float64Array.from(plain as ArrayLike<number>));
  if (type instanceof Utf8) return utf8Vector(arrow, plain as ArrayLike<unknown>);
  return vectorFromArray(plain as unknown[], type);
}

/**
 * A Utf8 vector built directly into one byte buffer (the generic builder needs several times
 * the memory for a million strings). Non-strings are stored as their text form.
 */
function utf8Vector(arrow: ArrowModule, values: ArrayLike<unknown>): Vector<Utf8> {
  const { makeData, Utf8, Vector } = arrow;
  const encoder = new TextEncoder();
  const length = values.length;
  const offsets = new Int32Array(length + 1);
  const validity = new Uint8Array((length + 7) >> 3);
  let bytes = new Uint8Array(Math.max(1024, length * 8));
  let position = 0;
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      nullCount++;
    } else {
      validity[i >> 3] = (validity[i >> 3] as number) | (1 << (i & 7));
      const text = stringifyCell(value);
      if (position + text.length * 3 > bytes.length) {
        const grown = new Uint8Array(Math.max(bytes.length * 2, position + text.length * 3));
        grown.set(bytes.subarray(0, position));
        bytes = grown;
      }
      position += encoder.encodeInto(text, bytes.subarray(position)).written;
    }
    offsets[i + 1] = position;
  }
  const data = makeData({
    type: new Utf8(),
    length,
    nullCount,
    ...(nullCount > 0 ? { nullBitmap: validity } : {}),
    valueOffsets: offsets,
    data: bytes.slice(0, position),
  });
  return new Vector([data]);
}

/** Text form of a non-string cell (dates as ISO strings, objects as JSON). */
export function stringifyCell(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Builds an arrow Table: integers → Int32 (Float64 beyond 32 bits), floats → Float64, booleans
 * → Bool, strings → Utf8; dates, bigints and objects → Utf8 (ISO / decimal / JSON text).
 */
export async function columnsToArrow(table: ColumnarTable): Promise<Table> {
  const arrow = await loadArrow();
  const vectors: Record<string, ReturnType<typeof arrowVector>> = {};
  table.names.forEach((name, c) => {
    const values = table.columns[c] as ArrayLike<unknown>;
    vectors[name] = arrowVector(arrow, values, inferColumn(values));
  });
  return new arrow.Table(vectors);
}

/** Columns of an arrow Table: typed arrays for null-free numbers, arrays (with `null`) otherwise. */
export function arrowToColumns(table: Table): ColumnarTable {
  const names = table.schema.fields.map((field) => field.name);
  const columns = names.map((name) => {
    const vector = table.getChild(name);
    if (!vector) return [];
    const values: ArrayLike<unknown> =
      vector.nullCount === 0 ? (vector.toArray() as ArrayLike<unknown>) : Array.from(vector);
    if (values instanceof BigInt64Array || values instanceof BigUint64Array)
      return Float64Array.from(values, Number);
    if (Array.isArray(values) && typeof values.find((v) => v !== null) === 'bigint') {
      return values.map((v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
    }
    return values;
  });
  return { names, columns, numRows: table.numRows };
}

/** Columns of rows or of an arrow Table, for writers. */
export function toColumns(data: TableData, names?: string[]): ColumnarTable {
  if (isArrowTable(data)) return arrowToColumns(data);
  if (!Array.isArray(data))
    throw new TypeError(
      `expected an array of row objects or an apache-arrow Table, received ${typeof data}`,
    );
  return rowsToColumns(data, names);
}

/** Rows or an arrow Table from columns, as the dataset's `table` option asks. */
export async function fromColumns(table: ColumnarTable, format: TableFormat): Promise<TableData> {
  return format === 'arrow' ? columnsToArrow(table) : columnsToRows(table);
}
