/**
 * `sql.SQLTableDataset` (kedro-datasets' `pandas.SQLTableDataset`): loads a whole table, saves
 * with `if_exists: fail | replace | append` in one transaction (a failed save leaves the table as
 * it was), streams a table larger than memory with `stream()`. SQLite and PostgreSQL.
 */
import type { BaseDatasetOptions } from '../abstract-dataset.js';
import { AbstractDataset } from '../abstract-dataset.js';
import type { Row, TableData, TableFormat } from '../table.js';
import { fromColumns, rowsToColumns, toColumns } from '../table.js';
import { columnSpecs } from './column-types.js';
import type { SqlConnection, SqlConnectionFields } from './connection.js';
import { describeConnection, parseConnection, qualifiedName } from './connection.js';
import type { IfExists, SqlDriver } from './driver.js';
import { openDriver } from './driver.js';

/** Options shared by the SQL datasets. */
export interface SqlDatasetOptions extends BaseDatasetOptions {
  /** Kedro's `credentials.con` (a URL) or connection fields. Never shown by `describe()`. */
  connection: string | SqlConnectionFields;
  /** Relative SQLite files resolve against it. @default process.cwd() */
  projectDir?: string;
  /** `rows` (objects) or `arrow` (an apache-arrow Table). @default 'rows' */
  table?: TableFormat;
  /** Rows per batch for streaming reads and batched inserts. @default 10000 */
  batchSize?: number;
}

export interface SQLTableDatasetOptions extends SqlDatasetOptions {
  tableName: string;
  /** Schema (PostgreSQL) or attached database (SQLite). @default the connection's default */
  schema?: string | undefined;
  /** @default 'fail' (as pandas' `to_sql`) */
  ifExists?: IfExists;
  /** Column(s) to order by when reading a range (`readRange`). @default SQLite rowid, PostgreSQL ctid */
  orderBy?: string | undefined;
}

/** Base of the SQL datasets: connection, output format, streaming. */
export abstract class AbstractSqlDataset<T> extends AbstractDataset<T> {
  readonly persisted = true;
  readonly connection: SqlConnection;
  readonly format: TableFormat;
  readonly batchSize: number;

  protected constructor(options: SqlDatasetOptions) {
    super(options);
    this.connection = parseConnection(options.connection, options.projectDir ?? process.cwd());
    this.format = options.table ?? 'rows';
    this.batchSize = options.batchSize ?? 10_000;
  }

  /** The SQL a load runs and its parameters. */
  protected abstract selectStatement(): Promise<{
    sql: string;
    params?: Record<string, unknown> | readonly unknown[];
  }>;

  /**
   * The rows of a load, `batchSize` at a time (a cursor: memory stays flat in table size). Each
   * batch is rows, or an arrow Table when `table: arrow`.
   */
  async *stream(options: { batchSize?: number } = {}): AsyncGenerator<TableData> {
    const { sql, params } = await this.selectStatement();
    const driver = await this.driver();
    try {
      for await (const rows of driver.stream(sql, params, options.batchSize ?? this.batchSize))
        yield this.format === 'arrow' ? await fromColumns(rowsToColumns(rows), 'arrow') : rows;
    } catch (error) {
      throw this.error(`streaming failed: ${(error as Error).message}`, 'load', error);
    }
  }

  /** Number of rows a load returns. */
  async countRows(): Promise<number> {
    const { sql, params } = await this.selectStatement();
    const [row] = await (
      await this.driver()
    ).query(`SELECT count(*) AS n FROM (${sql}) AS counted`, params);
    return Number(row?.n ?? 0);
  }

  protected driver(): Promise<SqlDriver> {
    return openDriver(this.connection);
  }

  protected async output(rows: Row[]): Promise<TableData> {
    return this.format === 'rows' ? rows : fromColumns(rowsToColumns(rows), this.format);
  }

  protected describeCommon(): Record<string, unknown> {
    return {
      con: describeConnection(this.connection),
      ...(this.format === 'rows' ? {} : { table: this.format }),
    };
  }
}

/** A database table (see the module doc). */
export class SQLTableDataset extends AbstractSqlDataset<TableData> {
  readonly type: string = 'sql.SQLTableDataset';
  readonly tableName: string;
  readonly schema: string | undefined;
  readonly ifExists: IfExists;
  readonly orderBy: string | undefined;

  constructor(options: SQLTableDatasetOptions) {
    super(options);
    if (!options.tableName) throw this.error("'table_name' must not be empty");
    this.tableName = options.tableName;
    this.schema = options.schema;
    this.ifExists = options.ifExists ?? 'fail';
    this.orderBy = options.orderBy;
  }

  /** `"schema"."table"`, quoted. */
  get qualifiedName(): string {
    return qualifiedName(this.tableName, this.schema);
  }

  /** Rows `[start, end)` in a stable order (`orderBy`, else the storage order). */
  async readRange(start: number, end: number): Promise<TableData> {
    const order = this.orderBy ?? (this.connection.dialect === 'sqlite' ? 'rowid' : 'ctid');
    const rows = await (
      await this.driver()
    ).query(
      `SELECT * FROM ${this.qualifiedName} ORDER BY ${order} LIMIT ${Math.max(0, end - start)} OFFSET ${Math.max(0, start)}`,
      undefined,
    );
    return this.output(rows);
  }

  protected async selectStatement() {
    return { sql: `SELECT * FROM ${this.qualifiedName}` };
  }

  protected async doLoad(): Promise<TableData> {
    const driver = await this.driver();
    if (!(await driver.tableExists(this.tableName, this.schema)))
      throw this.error(`no data saved yet: table ${this.qualifiedName} does not exist`, 'load');
    const table = await driver.loadTable(this.tableName, this.schema);
    return fromColumns(table, this.format);
  }

  protected async doSave(data: TableData): Promise<void> {
    const table = toColumns(data);
    const specs = columnSpecs(table.names, table.columns, this.connection.dialect);
    await (
      await this.driver()
    ).writeTable({
      table: this.tableName,
      schema: this.schema,
      specs,
      columns: table.columns,
      numRows: table.numRows,
      ifExists: this.ifExists,
      batchSize: this.batchSize,
    });
  }

  protected async doExists(): Promise<boolean> {
    return (await this.driver()).tableExists(this.tableName, this.schema);
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      table_name: this.tableName,
      ...(this.schema ? { schema: this.schema } : {}),
      ...this.describeCommon(),
      save_args: { if_exists: this.ifExists },
    };
  }
}
