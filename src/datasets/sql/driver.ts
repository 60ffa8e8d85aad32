/**
 * The database operations SQL datasets need, with one adapter per database (sqlite-driver.ts,
 * postgres-driver.ts). Every operation opens its own connection and closes it, so a dataset holds
 * nothing between calls (safe across Temporal activities and worker threads).
 */
import type { ColumnarTable, Row } from '../table.js';
import type { ColumnSpec } from './column-types.js';
import type { SqlConnection } from './connection.js';
import type { SqlParams } from './params.js';

/** Kedro's `if_exists`: what a save does when the table is there. */
export type IfExists = 'fail' | 'replace' | 'append';

export interface SqlDriver {
  /** Every row of a query. */
  query(sql: string, params: SqlParams | undefined): Promise<Row[]>;
  /** The rows of a query, `batchSize` at a time, with bounded memory (a cursor). */
  stream(sql: string, params: SqlParams | undefined, batchSize: number): AsyncGenerator<Row[]>;
  tableExists(table: string, schema: string | undefined): Promise<boolean>;
  /** A whole table, column by column (faster than rows where the driver can). */
  loadTable(table: string, schema: string | undefined): Promise<ColumnarTable>;
  /**
   * Writes `rows` (columns `specs`) into the table in one transaction: a failure leaves the table as
   * it was. `replace` drops and recreates it, `append` creates it when missing, `fail` refuses an
   * existing table.
   */
  writeTable(args: {
    table: string;
    schema: string | undefined;
    specs: ColumnSpec[];
    columns: readonly ArrayLike<unknown>[];
    numRows: number;
    ifExists: IfExists;
    batchSize: number;
  }): Promise<void>;
}

export async function openDriver(connection: SqlConnection): Promise<SqlDriver> {
  if (connection.dialect === 'sqlite') {
    const { SqliteDriver } = await import('./sqlite-driver.js');
    return new SqliteDriver(connection.filepath);
  }
  const { PostgresDriver } = await import('./postgres-driver.js');
  return new PostgresDriver(connection);
}

/** The table already exists and `if_exists` is `fail`. */
export class TableExistsError extends Error {
  override readonly name = 'TableExistsError';
}
