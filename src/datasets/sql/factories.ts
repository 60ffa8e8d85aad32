/**
 * Registry factories of `sql.SQLTableDataset` and `sql.SQLQueryDataset`. The connection comes
 * from the entry's credentials (`credentials: db` naming a `credentials.yml` key holding `con:` or
 * connection fields), never from the entry itself, so it is never logged with the catalog.
 */
import * as z from 'zod';
import { parseDatasetConfig } from '../config-schema.js';
import { DatasetConfigError } from '../errors.js';
import { resolveDatasetPath } from '../paths.js';
import { TABLE_FORMATS } from '../table.js';
import type { DatasetContext, DatasetFactory } from '../types.js';
import type { SqlConnectionFields } from './connection.js';
import { SQLQueryDataset } from './sql-query-dataset.js';
import { SQLTableDataset } from './sql-table-dataset.js';

const common = {
  table: z.enum(TABLE_FORMATS).optional(),
  batch_size: z.number().int().min(1).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
};

const tableSchema = z.strictObject({
  ...common,
  table_name: z.string().min(1, 'table_name must not be empty'),
  load_args: z
    .strictObject({ schema: z.string().optional(), order_by: z.string().optional() })
    .optional(),
  save_args: z
    .strictObject({
      if_exists: z.enum(['fail', 'replace', 'append']).optional(),
      schema: z.string().optional(),
    })
    .optional(),
});

const querySchema = z.strictObject({
  ...common,
  sql: z.string().min(1).optional(),
  filepath: z.string().min(1).optional(),
  load_args: z
    .strictObject({
      params: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
    })
    .optional(),
});

const credentialsSchema = z.union([
  z.looseObject({ con: z.string().min(1) }),
  z.looseObject({
    dialect: z.enum(['sqlite', 'postgresql', 'postgres']).optional(),
    host: z.string().optional(),
    port: z.union([z.number(), z.string()]).optional(),
    user: z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    database: z.string().optional(),
    filepath: z.string().optional(),
    sslmode: z.string().optional(),
  }),
]);

/** The connection of an entry, from its credentials. Messages never quote credential values. */
function connectionOf(context: DatasetContext, type: string): string | SqlConnectionFields {
  const fail = (message: string): never => {
    throw new DatasetConfigError(
      `Invalid configuration for dataset '${context.name}' of type ${type}: ${message}`,
      { dataset: context.name, type, issues: [{ path: ['credentials'], message }] },
    );
  };
  const credentials = context.credentials;
  if (!credentials)
    return fail(
      "missing credentials: name a credentials.yml key holding 'con' (e.g. postgresql://user:pass@host:5432/db or sqlite:///data/db.sqlite) or connection fields",
    );
  const parsed = credentialsSchema.safeParse(credentials);
  if (!parsed.success)
    return fail(
      "credentials need 'con' (a URL) or connection fields (host, port, user, password, database)",
    );
  const value = parsed.data as Record<string, unknown>;
  if (typeof value.con === 'string') return value.con;
  return value as SqlConnectionFields;
}

/** SQLite files named by relative paths must stay in the project (as file datasets). */
function checkSqlitePath(con: string | SqlConnectionFields, context: DatasetContext): void {
  const file =
    typeof con === 'string'
      ? /^sqlite(\+[a-z0-9_]+)?:\/\/\/(?!\/)(.+)$/i.exec(con)?.[2]
      : con.dialect === 'sqlite'
        ? (con.filepath ?? con.database)
        : undefined;
  if (file && file !== ':memory:') resolveDatasetPath(file, context);
}

/** Registry factory for `sql.SQLTableDataset`. */
export const sqlTableDatasetFactory: DatasetFactory = (config, context) => {
  const type = 'sql.SQLTableDataset';
  const parsed = parseDatasetConfig(tableSchema, config, { type, name: context.name });
  const connection = connectionOf(context, type);
  checkSqlitePath(connection, context);
  const loadSchema = parsed.load_args?.schema;
  const saveSchema = parsed.save_args?.schema;
  if (loadSchema && saveSchema && loadSchema !== saveSchema)
    throw new DatasetConfigError(
      `Dataset '${context.name}': load_args.schema '${loadSchema}' and save_args.schema '${saveSchema}' differ; one table has one schema`,
      { dataset: context.name, type },
    );
  return new SQLTableDataset({
    name: context.name,
    projectDir: context.projectDir,
    connection,
    tableName: parsed.table_name,
    schema: loadSchema ?? saveSchema,
    ifExists: parsed.save_args?.if_exists,
    orderBy: parsed.load_args?.order_by,
    table: parsed.table,
    batchSize: parsed.batch_size,
  });
};

/** Registry factory for `sql.SQLQueryDataset`. */
export const sqlQueryDatasetFactory: DatasetFactory = (config, context) => {
  const type = 'sql.SQLQueryDataset';
  const parsed = parseDatasetConfig(querySchema, config, { type, name: context.name });
  if ((parsed.sql === undefined) === (parsed.filepath === undefined))
    throw new DatasetConfigError(
      `Invalid configuration for dataset '${context.name}' of type ${type}: give exactly one of 'sql' and 'filepath'`,
      {
        dataset: context.name,
        type,
        issues: [{ path: ['sql'], message: "give exactly one of 'sql' and 'filepath'" }],
      },
    );
  if (parsed.filepath) resolveDatasetPath(parsed.filepath, context);
  const connection = connectionOf(context, type);
  checkSqlitePath(connection, context);
  return new SQLQueryDataset({
    name: context.name,
    projectDir: context.projectDir,
    connection,
    sql: parsed.sql,
    filepath: parsed.filepath,
    params: parsed.load_args?.params,
    table: parsed.table,
    batchSize: parsed.batch_size,
  });
};
