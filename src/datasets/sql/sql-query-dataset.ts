/**
 * `sql.SQLQueryDataset` (kedro-datasets' `pandas.SQLQueryDataset`): the result of a query, given
 * inline (`sql`) or in a `.sql` file (`filepath`). Parameters (`load_args.params`) are bound by the
 * driver, never spliced into the text. Load only.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TableData } from '../table.js';
import type { SqlParams } from './params.js';
import type { SqlDatasetOptions } from './sql-table-dataset.js';
import { AbstractSqlDataset } from './sql-table-dataset.js';

export interface SQLQueryDatasetOptions extends SqlDatasetOptions {
  /** The query. Exactly one of `sql` and `filepath`. */
  sql?: string | undefined;
  /** A file holding the query (relative to `projectDir`). */
  filepath?: string | undefined;
  /** Bound parameters: an array (`?` / `$1`) or an object (`:name`). */
  params?: SqlParams | undefined;
}

export class SQLQueryDataset extends AbstractSqlDataset<TableData> {
  readonly type: string = 'sql.SQLQueryDataset';
  readonly sql: string | undefined;
  readonly filepath: string | undefined;
  readonly params: SqlParams | undefined;
  readonly #projectDir: string;

  constructor(options: SQLQueryDatasetOptions) {
    super(options);
    if ((options.sql === undefined) === (options.filepath === undefined))
      throw this.error("give exactly one of 'sql' and 'filepath'");
    if (options.sql !== undefined && options.sql.trim() === '')
      throw this.error("'sql' must not be empty");
    this.sql = options.sql;
    this.filepath = options.filepath;
    this.params = options.params;
    this.#projectDir = options.projectDir ?? process.cwd();
  }

  protected async selectStatement() {
    const sql =
      this.sql ??
      (await readFile(resolve(this.#projectDir, this.filepath!), 'utf8'))
        .trim()
        .replace(/;\s*$/, '');
    return { sql, ...(this.params ? { params: this.params } : {}) };
  }

  protected async doLoad(): Promise<TableData> {
    const { sql, params } = await this.selectStatement();
    return this.output(await (await this.driver()).query(sql, params));
  }

  protected async doSave(): Promise<void> {
    throw this.error("'save' is not supported on SQLQueryDataset", 'save');
  }

  protected async doExists(): Promise<boolean> {
    try {
      await this.countRows();
      return true;
    } catch {
      return false;
    }
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      ...(this.sql !== undefined ? { sql: this.sql } : { filepath: this.filepath }),
      ...this.describeCommon(),
      ...(this.params ? { load_args: { params: this.params } } : {}),
    };
  }
}
