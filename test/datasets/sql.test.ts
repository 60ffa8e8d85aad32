import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Table } from 'apache-arrow';
import { DatasetConfigError, DatasetError } from '../../src/datasets/errors.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import { SQLQueryDataset } from '../../src/datasets/sql/sql-query-dataset.js';
import { SQLTableDataset } from '../../src/datasets/sql/sql-table-dataset.js';
import type { SQLTableDatasetOptions } from '../../src/datasets/sql/sql-table-dataset.js';
import type { Row, TableData } from '../../src/datasets/table.js';
import { datasetContract } from './contract.js';
import type { TestDatabase } from './sql-support.js';
import { postgresDatabase, postgresUrl, sqliteDatabase } from './sql-support.js';

const rows: Row[] = [
  { id: 1, name: 'ada', score: 0.5, active: true },
  { id: 2, name: "grace; DROP TABLE x; --'", score: 1.25, active: false },
  { id: 3, name: 'linus', score: -3, active: true },
];

/** 5,000 rows whose `meta` column is JSON; row 3,000 cannot be serialised: the insert fails there. */
function rowsFailingHalfWay(): Row[] {
  return Array.from({ length: 5000 }, (_, i) => ({
    id: i,
    name: `n${i}`,
    score: i / 2,
    active: i % 2 === 0,
    meta: i === 3000 ? { bad: 10n } : { i },
  }));
}

const url = postgresUrl();
const databases: [string, () => Promise<TestDatabase>][] = [['SQLite', sqliteDatabase]];
if (url) databases.push(['PostgreSQL', () => postgresDatabase(url)]);
else
  console.warn('SQL dataset tests: TEMPORAL_MLFLOW_POSTGRES_URL not set, PostgreSQL cases skipped');

let counter = 0;

describe.each(databases)('SQL datasets on %s', (_label, open) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => db?.close());

  const table = (name: string, options: Partial<SQLTableDatasetOptions> = {}) =>
    new SQLTableDataset({
      name,
      connection: db.con,
      tableName: `${name}_${++counter}`,
      schema: db.schema,
      ifExists: 'replace',
      batchSize: 1000,
      ...options,
    });

  datasetContract<TableData>({
    label: 'sql.SQLTableDataset',
    create: (_dir, name) => table(name),
    sample: () => rows,
    failingData: rowsFailingHalfWay,
  });

  datasetContract<TableData>({
    label: 'sql.SQLTableDataset (arrow)',
    create: (_dir, name) => table(name, { table: 'arrow' }),
    sample: () => rows,
    check: (loaded) => {
      expect(loaded).toBeInstanceOf(Table);
      expect((loaded as Table).toArray().map((row) => ({ ...row.toJSON() }))).toEqual(rows);
    },
    failingData: rowsFailingHalfWay,
  });

  it.each(['replace', 'append'] as const)(
    'leaves the table unchanged when a save (if_exists: %s) fails half-way',
    async (ifExists) => {
      const dataset = table('half_way', { ifExists });
      await dataset.save(rows);
      const error = await dataset.save(rowsFailingHalfWay()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatasetError);
      expect(await dataset.load()).toEqual(rows);
      expect(await dataset.countRows()).toBe(3);
    },
  );

  it('refuses to overwrite with if_exists: fail and appends with append', async () => {
    const name = `modes_${++counter}`;
    const failing = table('modes', { tableName: name, ifExists: 'fail' });
    await failing.save(rows);
    await expect(failing.save(rows)).rejects.toThrow(/already exists \(if_exists: fail\)/);
    const appending = table('modes', { tableName: name, ifExists: 'append' });
    await appending.save([{ id: 4, name: 'new', score: 2, active: false }]);
    expect(((await appending.load()) as Row[]).map((row) => row.id)).toEqual([1, 2, 3, 4]);
  });

  it('maps column types both ways (dates, JSON, booleans, nulls, big integers)', async () => {
    const dataset = table('types');
    const when = new Date('2024-05-06T07:08:09.010Z');
    const data: Row[] = [
      { at: when, doc: { a: [1, 'x'] }, flag: true, big: 2 ** 40, text: null },
      { at: null, doc: null, flag: null, big: -1, text: 'é' },
    ];
    await dataset.save(data);
    expect(await dataset.load()).toEqual(data);
  });

  it('binds a query parameter that contains SQL instead of executing it', async () => {
    const target = table('injection');
    await target.save(rows);
    const quoted = db.schema ? `"${db.schema}"."${target.tableName}"` : `"${target.tableName}"`;
    const hostile = `x'; DROP TABLE ${quoted}; --`;
    const named = new SQLQueryDataset({
      name: 'by_name',
      connection: db.con,
      sql: `SELECT id, name FROM ${quoted} WHERE name = :name OR name = :name`,
      params: { name: hostile },
    });
    expect(await named.load()).toEqual([]);
    const positional = new SQLQueryDataset({
      name: 'by_position',
      connection: db.con,
      sql: `SELECT id FROM ${quoted} WHERE name = ${db.dialect === 'sqlite' ? '?' : '$1'}`,
      params: [rows[1]!.name],
    });
    expect(await positional.load()).toEqual([{ id: 2 }]);
    expect(await target.countRows()).toBe(3);
  });

  it('loads a query from a .sql file, with a named parameter and a :: cast left alone', async () => {
    const target = table('from_file');
    await target.save(rows);
    const dir = await mkdtemp(join(tmpdir(), 'sql-file-'));
    try {
      const quoted = db.schema ? `"${db.schema}"."${target.tableName}"` : `"${target.tableName}"`;
      const cast = db.dialect === 'postgresql' ? 'id::integer' : 'CAST(id AS INTEGER)';
      writeFileSync(
        join(dir, 'q.sql'),
        `-- ids above a bound\nSELECT ${cast} AS id FROM ${quoted} WHERE id > :min AND name <> ':min' ORDER BY id;\n`,
      );
      const query = new SQLQueryDataset({
        name: 'q',
        connection: db.con,
        filepath: 'q.sql',
        projectDir: dir,
        params: { min: 1 },
      });
      expect(await query.load()).toEqual([{ id: 2 }, { id: 3 }]);
      await expect(query.save([])).rejects.toThrow(/not supported on SQLQueryDataset/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('streams a 100,000-row table in batches with bounded memory', async () => {
    const dataset = table('streamed', { batchSize: 20_000 });
    const n = 100_000;
    await dataset.save(
      Array.from({ length: n }, (_, i) => ({
        id: i,
        a: i * 0.5,
        b: `row ${i}`,
        c: i % 3 === 0,
        d: i * 7,
      })),
    );
    const reader = table('streamed', { tableName: dataset.tableName, batchSize: 5_000 });
    const before = process.memoryUsage().rss;
    let peak = before;
    let count = 0;
    let largest = 0;
    let sum = 0;
    for await (const batch of reader.stream()) {
      const part = batch as Row[];
      count += part.length;
      largest = Math.max(largest, part.length);
      for (const row of part) sum += row.id as number;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(count).toBe(n);
    expect(sum).toBe((n * (n - 1)) / 2);
    expect(largest).toBe(5_000);
    expect(peak - before).toBeLessThan(150 * 1024 * 1024);
    expect(await reader.readRange(10, 13)).toEqual([
      { id: 10, a: 5, b: 'row 10', c: false, d: 70 },
      { id: 11, a: 5.5, b: 'row 11', c: false, d: 77 },
      { id: 12, a: 6, b: 'row 12', c: true, d: 84 },
    ]);
  }, 60_000);

  it('builds from YAML with credentials (con) and never shows the password', async () => {
    const password = 'pa55-w0rd-s3cret';
    const con =
      db.dialect === 'sqlite' ? db.con : db.con.replace(/\/\/([^:]+):[^@]*@/, `//$1:${password}@`);
    const dataset = new DatasetRegistry().create(
      {
        type: 'sql.SQLTableDataset',
        table_name: `yaml_${++counter}`,
        save_args: { if_exists: 'replace', ...(db.schema ? { schema: db.schema } : {}) },
      },
      { name: 'yaml_table', projectDir: tmpdir(), credentials: { con } },
    );
    expect(JSON.stringify(dataset.describe())).not.toContain(password);
    if (db.dialect === 'postgresql') {
      expect(String(dataset)).toContain(':***@');
      const error = await dataset.load().catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(DatasetError);
      expect(
        `${(error as Error).message} ${JSON.stringify((error as DatasetError).description)}`,
      ).not.toContain(password);
    } else {
      await dataset.save(rows);
      expect(await dataset.load()).toEqual(rows);
    }
  });
});

describe('SQL dataset configuration', () => {
  const create = (entry: Record<string, unknown>, credentials?: Record<string, unknown>) =>
    new DatasetRegistry().create(entry, { name: 'db_table', projectDir: tmpdir(), credentials });

  it.each([
    [{ type: 'sql.SQLTableDataset', table_name: 't' }, undefined, 'missing credentials'],
    [
      { type: 'sql.SQLTableDataset', table_name: 't', save_args: { if_exists: 'upsert' } },
      { con: 'sqlite:///x.db' },
      'if_exists',
    ],
    [
      { type: 'sql.SQLTableDataset', tablename: 't' },
      { con: 'sqlite:///x.db' },
      "did you mean 'table_name'",
    ],
    [
      { type: 'sql.SQLQueryDataset' },
      { con: 'sqlite:///x.db' },
      "exactly one of 'sql' and 'filepath'",
    ],
    [
      { type: 'sql.SQLQueryDataset', sql: 'select 1', filepath: 'q.sql' },
      { con: 'sqlite:///x.db' },
      "exactly one of 'sql' and 'filepath'",
    ],
  ])('rejects %j', (entry, credentials, message) => {
    expect(() => create(entry, credentials)).toThrow(DatasetConfigError);
    expect(() => create(entry, credentials)).toThrow(message);
  });

  it('rejects an unsupported URL without echoing its password', () => {
    const build = () =>
      create({ type: 'sql.SQLTableDataset', table_name: 't' }, { con: 'mysql://u:hunter2@h/db' });
    expect(build).toThrow(/unsupported connection URL mysql:\/\/u:\*\*\*@h\/db/);
  });

  it('accepts connection fields instead of con', () => {
    const dataset = create(
      { type: 'sql.SQLTableDataset', table_name: 't' },
      { host: 'db.internal', port: 6543, user: 'etl', password: 'x', database: 'warehouse' },
    );
    expect(dataset.describe()).toMatchObject({
      con: 'postgresql://etl:***@db.internal:6543/warehouse',
    });
  });
});
