/**
 * The PostgreSQL adapter (`pg`, `pg-cursor`): one client per operation; saves insert in batches
 * with `unnest` (one array parameter per column, so a batch's size is not bounded by the 65,535
 * parameter limit) inside one transaction; streaming reads through a server-side cursor.
 */
import { createRequire } from 'node:module';
import type pg from 'pg';
import type CursorClass from 'pg-cursor';
import type { ColumnarTable, Row } from '../table.js';
import { rowsToColumns } from '../table.js';
import { toSqlValue } from './column-types.js';
import type { SqlConnection } from './connection.js';
import { qualifiedName, quoteIdentifier } from './connection.js';
import type { SqlDriver } from './driver.js';
import { TableExistsError } from './driver.js';
import type { SqlParams } from './params.js';
import { toPositional } from './params.js';

/**
 * The drivers, required when a PostgreSQL dataset is first used: `require` calls stay where they
 * are in a model's esbuild bundle (static imports would be hoisted and bundled into every model).
 */
const requireDriver = createRequire(import.meta.url);
let drivers: { pg: typeof pg; Cursor: typeof CursorClass } | undefined;
function postgres(): { pg: typeof pg; Cursor: typeof CursorClass } {
  drivers ??= {
    pg: requireDriver('pg') as typeof pg,
    Cursor: requireDriver('pg-cursor') as typeof CursorClass,
  };
  return drivers;
}

type PostgresConnection = Extract<SqlConnection, { dialect: 'postgresql' }>;

const OID = { int8: 20, numeric: 1700, date: 1082 } as const;

/** Type parsers of our mapping (column-types.ts), per client: the global pg defaults stay as they are. */
const typeParsers = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === OID.int8)
      return (value) => {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : BigInt(value);
      };
    if (oid === OID.numeric) return (value) => Number(value);
    if (oid === OID.date) return (value) => new Date(`${value}T00:00:00Z`);
    return postgres().pg.types.getTypeParser(oid, (format ?? 'text') as 'text');
  },
};

function statement(
  sql: string,
  params: SqlParams | undefined,
): { text: string; values: unknown[] } {
  if (params === undefined) return { text: sql, values: [] };
  if (Array.isArray(params)) return { text: sql, values: [...(params as unknown[])] };
  return toPositional(sql, params as Record<string, unknown>);
}

/** The element type of an `unnest` array parameter for a created column type. */
function arrayType(sqlType: string): string {
  return `${sqlType.toLowerCase()}[]`;
}

export class PostgresDriver implements SqlDriver {
  constructor(private readonly connection: PostgresConnection) {}

  private async connect(): Promise<pg.Client> {
    const { host, port, user, password, database, ssl } = this.connection;
    const client = new (postgres().pg.Client)({
      host,
      port,
      user,
      password,
      database,
      ssl: ssl ? { rejectUnauthorized: true } : undefined,
      types: typeParsers,
      application_name: 'temporal-mlflow',
    });
    await client.connect();
    return client;
  }

  async query(sql: string, params: SqlParams | undefined): Promise<Row[]> {
    const client = await this.connect();
    try {
      const { text, values } = statement(sql, params);
      return (await client.query<Row>({ text, values })).rows;
    } finally {
      await client.end();
    }
  }

  async *stream(
    sql: string,
    params: SqlParams | undefined,
    batchSize: number,
  ): AsyncGenerator<Row[]> {
    const client = await this.connect();
    try {
      const { text, values } = statement(sql, params);
      const cursor = client.query(
        new (postgres().Cursor)<Row>(text, values, { types: typeParsers }),
      );
      try {
        for (;;) {
          const rows = await cursor.read(batchSize);
          if (rows.length === 0) break;
          yield rows;
        }
      } finally {
        await cursor.close();
      }
    } finally {
      await client.end();
    }
  }

  async loadTable(table: string, schema: string | undefined): Promise<ColumnarTable> {
    return rowsToColumns(
      await this.query(`SELECT * FROM ${qualifiedName(table, schema)}`, undefined),
    );
  }

  async tableExists(table: string, schema: string | undefined): Promise<boolean> {
    const client = await this.connect();
    try {
      return await existsOn(client, table, schema);
    } finally {
      await client.end();
    }
  }

  async writeTable(args: Parameters<SqlDriver['writeTable']>[0]): Promise<void> {
    const { table, schema, specs, columns, numRows, ifExists, batchSize } = args;
    const name = qualifiedName(table, schema);
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      try {
        // Serialises concurrent saves of one table (the lock ends with the transaction).
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [name]);
        const exists = await existsOn(client, table, schema);
        if (exists && ifExists === 'fail')
          throw new TableExistsError(`table ${name} already exists (if_exists: fail)`);
        if (exists && ifExists === 'replace') await client.query(`DROP TABLE ${name}`);
        if (!exists || ifExists === 'replace') {
          const definitions = specs.map((spec) => `${quoteIdentifier(spec.name)} ${spec.sqlType}`);
          await client.query(`CREATE TABLE ${name} (${definitions.join(', ')})`);
        }
        const targetTypes =
          exists && ifExists === 'append' ? await columnTypes(client, table, schema) : undefined;
        const columnList = specs.map((spec) => quoteIdentifier(spec.name)).join(', ');
        const unnest = specs
          .map((spec, c) => `$${c + 1}::${arrayType(targetTypes?.get(spec.name) ?? spec.sqlType)}`)
          .join(', ');
        const insert = `INSERT INTO ${name} (${columnList}) SELECT * FROM unnest(${unnest})`;
        for (let start = 0; start < numRows && specs.length > 0; start += batchSize) {
          const end = Math.min(numRows, start + batchSize);
          const arrays = specs.map((spec, c) => {
            const source = columns[c] as ArrayLike<unknown>;
            const out = new Array<unknown>(end - start);
            for (let i = start; i < end; i++)
              out[i - start] = toSqlValue(source[i], spec.kind, 'postgresql');
            return out;
          });
          await client.query(insert, arrays);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      await client.end();
    }
  }
}

async function existsOn(
  client: pg.Client,
  table: string,
  schema: string | undefined,
): Promise<boolean> {
  const result = await client.query(
    `SELECT 1 FROM information_schema.tables WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())`,
    [table, schema ?? null],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Column name → the type to cast inserted arrays to (an appended table keeps its own types). */
async function columnTypes(
  client: pg.Client,
  table: string,
  schema: string | undefined,
): Promise<Map<string, string>> {
  const result = await client.query<{ column_name: string; type: string }>(
    `SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [qualifiedName(table, schema)],
  );
  return new Map(result.rows.map((row) => [row.column_name, row.type]));
}
