/**
 * Where a SQL dataset connects: Kedro's `credentials: { con: <URL> }` (SQLAlchemy-style URLs:
 * `sqlite:///relative.db`, `sqlite:////abs/path.db`, `postgresql://user:pass@host:5432/db`, also
 * `postgres://` and `postgresql+psycopg2://`) or the same as fields (`dialect`, `host`, `port`,
 * `user`/`username`, `password`, `database`, `filepath` for SQLite). Passwords never leave this
 * module unmasked except towards the driver.
 */
import { isAbsolute, resolve } from 'node:path';

export type SqlDialect = 'sqlite' | 'postgresql';

/** Connection fields, as `credentials.yml` may spell them instead of `con`. */
export interface SqlConnectionFields {
  dialect?: SqlDialect | 'postgres' | undefined;
  host?: string | undefined;
  port?: number | string | undefined;
  user?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  database?: string | undefined;
  /** SQLite: the database file (relative to the project). */
  filepath?: string | undefined;
  /** PostgreSQL: `require` turns TLS on. */
  sslmode?: string | undefined;
}

/** A connection, resolved. */
export type SqlConnection =
  | { dialect: 'sqlite'; filepath: string }
  | {
      dialect: 'postgresql';
      host: string;
      port: number;
      user: string | undefined;
      password: string | undefined;
      database: string | undefined;
      ssl: boolean;
    };

export class SqlConnectionError extends Error {
  override readonly name = 'SqlConnectionError';
}

/** Parses `con` (a URL) or connection fields; relative SQLite paths resolve against `projectDir`. */
export function parseConnection(
  spec: string | SqlConnectionFields,
  projectDir: string,
): SqlConnection {
  if (typeof spec === 'string') return parseUrl(spec, projectDir);
  const dialect = spec.dialect === 'postgres' ? 'postgresql' : (spec.dialect ?? 'postgresql');
  if (dialect === 'sqlite') {
    const file = spec.filepath ?? spec.database;
    if (!file) throw new SqlConnectionError('a SQLite connection needs filepath (or database)');
    return { dialect, filepath: file === ':memory:' ? file : resolve(projectDir, file) };
  }
  return {
    dialect,
    host: spec.host ?? '127.0.0.1',
    port: Number(spec.port ?? 5432),
    user: spec.user ?? spec.username,
    password: spec.password,
    database: spec.database,
    ssl: spec.sslmode === 'require' || spec.sslmode === 'verify-full',
  };
}

function parseUrl(con: string, projectDir: string): SqlConnection {
  const scheme = /^([a-z0-9]+)(\+[a-z0-9_]+)?:/i.exec(con)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    // SQLAlchemy: sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:// = memory.
    const rest = con.replace(/^sqlite(\+[a-z0-9_]+)?:\/\//i, '');
    if (rest === '' || rest === '/:memory:') return { dialect: 'sqlite', filepath: ':memory:' };
    const path = rest.startsWith('/') ? rest.slice(1) : rest;
    return {
      dialect: 'sqlite',
      filepath: isAbsolute(path) ? path : resolve(projectDir, decodeURIComponent(path)),
    };
  }
  if (scheme === 'postgresql' || scheme === 'postgres') {
    let url: URL;
    try {
      url = new URL(con.replace(/^[a-z0-9]+(\+[a-z0-9_]+)?:/i, 'postgresql:'));
    } catch {
      throw new SqlConnectionError(`connection URL ${maskUrl(con)} is not a valid URL`);
    }
    return {
      dialect: 'postgresql',
      host: decodeURIComponent(url.hostname) || '127.0.0.1',
      port: url.port ? Number(url.port) : 5432,
      user: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      database: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined,
      ssl: ['require', 'verify-full', 'verify-ca'].includes(url.searchParams.get('sslmode') ?? ''),
    };
  }
  throw new SqlConnectionError(
    `unsupported connection URL ${maskUrl(con)}: expected sqlite:///<file> or postgresql://<user>:<password>@<host>:<port>/<database>`,
  );
}

/** `postgresql://user:***@host/db`: a URL with its password masked. */
export function maskUrl(con: string): string {
  return con.replace(/^([a-z0-9+]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** A JSON-safe, password-free description of a connection. */
export function describeConnection(connection: SqlConnection): string {
  if (connection.dialect === 'sqlite') return `sqlite:///${connection.filepath}`;
  const user = connection.user
    ? `${encodeURIComponent(connection.user)}${connection.password ? ':***' : ''}@`
    : '';
  return `postgresql://${user}${connection.host}:${connection.port}/${connection.database ?? ''}`;
}

/** `"schema"."table"`: identifiers quoted, embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(table: string, schema?: string): string {
  return schema ? `${quoteIdentifier(schema)}.${quoteIdentifier(table)}` : quoteIdentifier(table);
}
