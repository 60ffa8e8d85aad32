/**
 * SQL datasets for SQLite (better-sqlite3) and PostgreSQL (pg): `SQLTableDataset`,
 * `SQLQueryDataset`, their connection parsing and column-type mapping.
 *
 * @module
 */
export { SQLTableDataset, AbstractSqlDataset } from './sql-table-dataset.js';
export type { SQLTableDatasetOptions, SqlDatasetOptions } from './sql-table-dataset.js';
export { SQLQueryDataset } from './sql-query-dataset.js';
export type { SQLQueryDatasetOptions } from './sql-query-dataset.js';
export { parseConnection, describeConnection, maskUrl, SqlConnectionError } from './connection.js';
export type { SqlConnection, SqlConnectionFields, SqlDialect } from './connection.js';
export type { IfExists } from './driver.js';
export { TableExistsError } from './driver.js';
export type { SqlParams } from './params.js';
export { columnSpecs } from './column-types.js';
export type { ColumnSpec } from './column-types.js';
export { sqlQueryDatasetFactory, sqlTableDatasetFactory } from './factories.js';
