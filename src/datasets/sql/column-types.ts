/**
 * Column types between JavaScript values and SQL (documented in docs/datasets.md).
 *
 * Saving creates columns from the data's kinds (see `inferColumn` in ../table.ts):
 *
 * | JS kind                | SQLite            | PostgreSQL        |
 * |------------------------|-------------------|-------------------|
 * | int, all within int32  | INTEGER           | INTEGER           |
 * | int                    | INTEGER           | BIGINT            |
 * | float                  | REAL              | DOUBLE PRECISION  |
 * | boolean                | BOOLEAN (0/1)     | BOOLEAN           |
 * | string / only nulls    | TEXT              | TEXT              |
 * | bigint                 | INTEGER           | BIGINT            |
 * | Date                   | TIMESTAMP (ISO text) | TIMESTAMPTZ    |
 * | objects, mixed         | JSON (text)       | JSONB             |
 *
 * Loading turns SQLite's declared BOOLEAN into booleans, TIMESTAMP/DATETIME/DATE text into Dates
 * and JSON text into values; PostgreSQL's int8 into numbers (BigInt past 2^53), numeric into
 * numbers, date/timestamp(tz) into Dates, json(b) into values, bytea into Buffers.
 */
import type { ColumnKind } from '../table.js';
import { inferColumn } from '../table.js';
import type { SqlDialect } from './connection.js';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** The SQL type the column is created with. */
  sqlType: string;
}

const SQLITE: Record<ColumnKind, string> = {
  int: 'INTEGER',
  float: 'REAL',
  boolean: 'BOOLEAN',
  string: 'TEXT',
  bigint: 'INTEGER',
  date: 'TIMESTAMP',
  json: 'JSON',
  null: 'TEXT',
};

const POSTGRES: Record<ColumnKind, string> = {
  int: 'BIGINT',
  float: 'DOUBLE PRECISION',
  boolean: 'BOOLEAN',
  string: 'TEXT',
  bigint: 'BIGINT',
  date: 'TIMESTAMPTZ',
  json: 'JSONB',
  null: 'TEXT',
};

/** Column specs of a table's columns, for CREATE TABLE. */
export function columnSpecs(
  names: readonly string[],
  columns: readonly ArrayLike<unknown>[],
  dialect: SqlDialect,
): ColumnSpec[] {
  return names.map((name, c) => {
    const info = inferColumn(columns[c] as ArrayLike<unknown>);
    const sqlType =
      dialect === 'sqlite'
        ? SQLITE[info.kind]
        : info.kind === 'int' && info.int32
          ? 'INTEGER'
          : POSTGRES[info.kind];
    return { name, kind: info.kind, sqlType };
  });
}

/** A JS value as the driver should bind it for a column of `kind`. */
export function toSqlValue(value: unknown, kind: ColumnKind, dialect: SqlDialect): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isNaN(value)) return null;
  switch (kind) {
    case 'boolean':
      return dialect === 'sqlite' ? (value ? 1 : 0) : Boolean(value);
    case 'date':
      return value instanceof Date ? value.toISOString() : String(value);
    case 'json':
      return JSON.stringify(value);
    case 'bigint':
      return dialect === 'sqlite' ? value : String(value);
    default:
      return value;
  }
}

/** Decodes a SQLite value by its column's declared type. */
export function fromSqlite(value: unknown, declaredType: string | null): unknown {
  if (value === null || declaredType === null) return value;
  const type = declaredType.toUpperCase();
  if (type === 'BOOLEAN' || type === 'BOOL') return typeof value === 'number' ? value !== 0 : value;
  if ((type === 'TIMESTAMP' || type === 'DATETIME' || type === 'DATE') && typeof value === 'string')
    return new Date(value);
  if (type === 'JSON' && typeof value === 'string') return JSON.parse(value) as unknown;
  if (typeof value === 'bigint')
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value;
  return value;
}
