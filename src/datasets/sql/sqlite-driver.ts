/** The SQLite adapter (better-sqlite3): synchronous calls, one connection per operation. */
import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ColumnarTable, Row } from '../table.js';
import { rowsToColumns } from '../table.js';
import { sqliteDecoder, toSqlValue } from './column-types.js';
import { qualifiedName, quoteIdentifier } from './connection.js';
import type { SqlDriver } from './driver.js';
import { TableExistsError } from './driver.js';
import type { SqlParams } from './params.js';

type Statement = Database.Statement<unknown[], unknown>;

/**
 * The native driver, required when a SQLite dataset is first used: a `require` call stays where it
 * is in a model's esbuild bundle (a static import would be hoisted), so a model whose pipeline
 * never touches SQLite loads without better-sqlite3 installed.
 */
let driver: typeof Database | undefined;
function sqlite(): typeof Database {
  driver ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  return driver;
}

function bind(params: SqlParams | undefined): unknown[] {
  if (params === undefined) return [];
  return Array.isArray(params) ? [...(params as unknown[])] : [params];
}

/**
 * Prepares `sql` for reading: plain objects straight from the driver when no column needs
 * decoding (the fast path), else raw arrays decoded column by column.
 */
function reader(
  db: Database.Database,
  sql: string,
): { statement: Statement; decode: ((values: unknown) => Row) | undefined } {
  const statement = db.prepare(sql) as Statement;
  const columns = statement.columns();
  const decoders = columns.map((column) => sqliteDecoder(column.type));
  if (decoders.every((decoder) => decoder === undefined)) return { statement, decode: undefined };
  statement.raw(true);
  const names = columns.map((column) => column.name);
  return {
    statement,
    decode: (raw) => {
      const values = raw as unknown[];
      const row: Row = {};
      for (let c = 0; c < names.length; c++) {
        const decoder = decoders[c];
        const value = values[c];
        row[names[c] as string] = decoder && value !== null ? decoder(value) : value;
      }
      return row;
    },
  };
}

export class SqliteDriver implements SqlDriver {
  constructor(private readonly filepath: string) {}

  private open(forWrite: boolean): Database.Database {
    if (forWrite && this.filepath !== ':memory:')
      mkdirSync(dirname(this.filepath), { recursive: true });
    const db = new (sqlite())(this.filepath, { fileMustExist: !forWrite });
    db.pragma('busy_timeout = 10000');
    return db;
  }

  async query(sql: string, params: SqlParams | undefined): Promise<Row[]> {
    const db = this.open(false);
    try {
      const { statement, decode } = reader(db, sql);
      const rows = statement.all(...bind(params));
      return decode ? rows.map(decode) : (rows as Row[]);
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
      const { statement, decode } = reader(db, sql);
      let batch: Row[] = [];
      for (const values of statement.iterate(...bind(params))) {
        batch.push(decode ? decode(values) : (values as Row));
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

  /**
   * One plucked scan per column inside one read transaction (a consistent snapshot), ordered by
   * rowid: about half the CPU of building row objects in the driver. Tables without rowid fall
   * back to a row query.
   */
  async loadTable(table: string, schema: string | undefined): Promise<ColumnarTable> {
    const db = this.open(false);
    try {
      const name = qualifiedName(table, schema);
      const probe = db.prepare(`SELECT * FROM ${name} LIMIT 0`) as Statement;
      const columns = probe.columns();
      const read = db.transaction((): ColumnarTable => {
        const values = columns.map((column) => {
          const decoder = sqliteDecoder(column.type);
          const plucked = (
            db.prepare(
              `SELECT ${quoteIdentifier(column.name)} FROM ${name} ORDER BY rowid`,
            ) as Statement
          )
            .pluck(true)
            .all() as unknown[];
          if (decoder)
            for (let i = 0; i < plucked.length; i++)
              if (plucked[i] !== null) plucked[i] = decoder(plucked[i]);
          return plucked;
        });
        return {
          names: columns.map((column) => column.name),
          columns: values,
          numRows: values[0]?.length ?? 0,
        };
      });
      try {
        return read.deferred();
      } catch (error) {
        if (!/no such column: rowid/i.test((error as Error).message)) throw error;
        const rows = await this.query(`SELECT * FROM ${name}`, undefined);
        return rowsToColumns(
          rows,
          columns.map((column) => column.name),
        );
      }
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
        // Multi-row INSERTs (up to 500 bound values each): far fewer calls into the driver.
        const perStatement = Math.max(1, Math.floor(500 / specs.length));
        const columnList = specs.map((spec) => quoteIdentifier(spec.name)).join(', ');
        const tuple = `(${specs.map(() => '?').join(', ')})`;
        const prepare = (rowsInStatement: number) =>
          db.prepare(
            `INSERT INTO ${name} (${columnList}) VALUES ${Array.from({ length: rowsInStatement }, () => tuple).join(', ')}`,
          );
        const full = prepare(perStatement);
        const values = new Array<unknown>(perStatement * specs.length);
        for (let start = 0; start < numRows; start += perStatement) {
          const count = Math.min(perStatement, numRows - start);
          const target = count === perStatement ? values : new Array<unknown>(count * specs.length);
          for (let r = 0; r < count; r++)
            for (let c = 0; c < specs.length; c++)
              target[r * specs.length + c] = toSqlValue(
                (columns[c] as ArrayLike<unknown>)[start + r],
                specs[c]!.kind,
                'sqlite',
              );
          (count === perStatement ? full : prepare(count)).run(target);
        }
      });
      write.immediate();
    } finally {
      db.close();
    }
  }
}
