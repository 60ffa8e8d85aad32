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
 * numbers, date/timestamp(tz) into Dates, json(b) into values, bytea into Buffers. SQLite integers
 * load as numbers (exact up to 2^53).
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

const toBoolean = (value: unknown): unknown => (typeof value === 'number' ? value !== 0 : value);
const toDate = (value: unknown): unknown => (typeof value === 'string' ? new Date(value) : value);
const fromJson = (value: unknown): unknown =>
  typeof value === 'string' ? (JSON.parse(value) as unknown) : value;

/**
 * The decoder of a SQLite column by its declared type (BOOLEAN, TIMESTAMP/DATETIME/DATE, JSON),
 * or undefined when its values are used as they are.
 */
export function sqliteDecoder(
  declaredType: string | null,
): ((value: unknown) => unknown) | undefined {
  switch (declaredType?.toUpperCase()) {
    case 'BOOLEAN':
    case 'BOOL':
      return toBoolean;
    case 'TIMESTAMP':
    case 'DATETIME':
    case 'DATE':
      return toDate;
    case 'JSON':
      return fromJson;
    default:
      return undefined;
  }
}
