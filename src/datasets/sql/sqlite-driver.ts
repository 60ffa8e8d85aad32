/** The SQLite adapter (better-sqlite3): synchronous calls, one connection per operation. */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Row } from '../table.js';
import { fromSqlite, toSqlValue } from './column-types.js';
import { qualifiedName, quoteIdentifier } from './connection.js';
import type { SqlDriver } from './driver.js';
import { TableExistsError } from './driver.js';
import type { SqlParams } from './params.js';

type Statement = Database.Statement<unknown[], unknown>;

function bind(params: SqlParams | undefined): unknown[] {
  if (params === undefined) return [];
  return Array.isArray(params) ? [...(params as unknown[])] : [params];
}

function decoder(statement: Statement): (values: unknown[]) => Row {
  const columns = statement.columns();
  const names = columns.map((column) => column.name);
  const types = columns.map((column) => column.type);
  return (values) => {
    const row: Row = {};
    for (let c = 0; c < names.length; c++)
      row[names[c] as string] = fromSqlite(values[c], types[c] ?? null);
    return row;
  };
}

export class SqliteDriver implements SqlDriver {
  constructor(private readonly filepath: string) {}

  private open(forWrite: boolean): Database.Database {
    if (forWrite && this.filepath !== ':memory:')
      mkdirSync(dirname(this.filepath), { recursive: true });
    const db = new Database(this.filepath, { fileMustExist: !forWrite });
    db.pragma('busy_timeout = 10000');
    return db;
  }

  async query(sql: string, params: SqlParams | undefined): Promise<Row[]> {
    const db = this.open(false);
    try {
      const statement = db.prepare(sql).raw(true) as Statement;
      const decode = decoder(statement);
      return (statement.all(...bind(params)) as unknown[][]).map(decode);
    } finally {
      db.close();
    }
  }

  async *stream(
    sql: string,
    params: SqlParams | undefined,
    batchSize: number,
  ): AsyncGenerator<Row[]> {
    const db = this.open(false);
    try {
      const statement = db.prepare(sql).raw(true) as Statement;
      const decode = decoder(statement);
      let batch: Row[] = [];
      for (const values of statement.iterate(...bind(params)) as IterableIterator<unknown[]>) {
        batch.push(decode(values));
        if (batch.length === batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      db.close();
    }
  }

  async tableExists(table: string, schema: string | undefined): Promise<boolean> {
    if (this.filepath !== ':memory:' && !existsSync(this.filepath)) return false;
    const db = this.open(false);
    try {
      const master = schema ? `${quoteIdentifier(schema)}.sqlite_master` : 'sqlite_master';
      return (
        db.prepare(`SELECT 1 FROM ${master} WHERE type = 'table' AND name = ?`).get(table) !==
        undefined
      );
    } finally {
      db.close();
    }
  }

  async writeTable(args: Parameters<SqlDriver['writeTable']>[0]): Promise<void> {
    const { table, schema, specs, columns, numRows, ifExists } = args;
    const db = this.open(true);
    try {
      const name = qualifiedName(table, schema);
      const master = schema ? `${quoteIdentifier(schema)}.sqlite_master` : 'sqlite_master';
      const write = db.transaction(() => {
        const exists =
          db.prepare(`SELECT 1 FROM ${master} WHERE type = 'table' AND name = ?`).get(table) !==
          undefined;
        if (exists && ifExists === 'fail')
          throw new TableExistsError(`table ${name} already exists (if_exists: fail)`);
        if (exists && ifExists === 'replace') db.exec(`DROP TABLE ${name}`);
        if (!exists || ifExists === 'replace') {
          const definitions = specs.map((spec) => `${quoteIdentifier(spec.name)} ${spec.sqlType}`);
          db.exec(`CREATE TABLE ${name} (${definitions.join(', ')})`);
        }
        if (specs.length === 0) return;
        const insert = db.prepare(
          `INSERT INTO ${name} (${specs.map((spec) => quoteIdentifier(spec.name)).join(', ')}) VALUES (${specs.map(() => '?').join(', ')})`,
        );
        const values = new Array<unknown>(specs.length);
        for (let i = 0; i < numRows; i++) {
          for (let c = 0; c < specs.length; c++) {
            const spec = specs[c]!;
            values[c] = toSqlValue((columns[c] as ArrayLike<unknown>)[i], spec.kind, 'sqlite');
          }
          insert.run(values);
        }
      });
      write.immediate();
    } finally {
      db.close();
    }
  }
}
