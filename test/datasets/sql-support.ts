/** Databases for the SQL dataset tests: a SQLite file per suite, a PostgreSQL schema per suite. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readServicesEnv, repoRoot } from '../support/services.js';

/** `.local/postgres/url`, written by `scripts/postgres start` (services.env may be rewritten). */
function urlFile(): string | undefined {
  const file = join(repoRoot, '.local', 'postgres', 'url');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** The PostgreSQL URL of `scripts/postgres` (env var first, then .local/services.env). */
export function postgresUrl(): string | undefined {
  const url =
    process.env.TEMPORAL_MLFLOW_POSTGRES_URL ??
    (readServicesEnv() as Record<string, string | undefined>).TEMPORAL_MLFLOW_POSTGRES_URL ??
    urlFile();
  if (!url && process.env.CI)
    throw new Error(
      'TEMPORAL_MLFLOW_POSTGRES_URL is not set: run scripts/postgres start before the SQL tests',
    );
  return url;
}

export interface TestDatabase {
  label: string;
  dialect: 'sqlite' | 'postgresql';
  con: string;
  /** PostgreSQL: the suite's own schema. */
  schema: string | undefined;
  /** Runs SQL directly (setup and checks). */
  exec(sql: string): Promise<unknown[]>;
  close(): Promise<void>;
}

export async function sqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'sql-ds-'));
  const file = join(dir, 'test.sqlite');
  const { default: Database } = await import('better-sqlite3');
  return {
    label: 'SQLite',
    dialect: 'sqlite',
    con: `sqlite:///${file}`,
    schema: undefined,
    async exec(sql) {
      const db = new Database(file);
      try {
        const statement = db.prepare(sql);
        return statement.reader ? statement.all() : (statement.run(), []);
      } finally {
        db.close();
      }
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresDatabase(url: string): Promise<TestDatabase> {
  const schema = `tm_sql_${randomBytes(4).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows as unknown[];
    } finally {
      await client.end();
    }
  };
  await run(`CREATE SCHEMA ${schema}`);
  return {
    label: 'PostgreSQL',
    dialect: 'postgresql',
    con: url,
    schema,
    exec: run,
    async close() {
      await run(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}
