/** The batch scoring chunk reader on a SQL table: chunks read their own rows, never the whole table. */
import { jest } from '@jest/globals';
import { describeSource, readChunk } from '../../src/batch/dataset-chunks.js';
import { SQLTableDataset } from '../../src/datasets/sql/sql-table-dataset.js';
import type { Row } from '../../src/datasets/table.js';
import { sqliteDatabase, type TestDatabase } from './sql-support.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await sqliteDatabase();
});
afterAll(async () => db?.close());

it('plans a SQL table by row count and reads each chunk by range without loading the table', async () => {
  const dataset = new SQLTableDataset({ name: 'inputs', connection: db.con, tableName: 'inputs' });
  await dataset.save(Array.from({ length: 10_005 }, (_, i) => ({ id: i, x: i / 10 })));
  const load = jest.spyOn(dataset, 'load');
  const source = await describeSource(dataset, 'inputs', 5_000);
  expect(source).toMatchObject({ layout: { reader: 'range' }, numRows: 10_005 });
  const chunk = (await readChunk(
    source.layout,
    dataset,
    'inputs',
    'run-1',
    1,
    5_000,
    10_000,
  )) as Row[];
  expect(chunk).toHaveLength(5_000);
  expect(chunk[0]).toEqual({ id: 5_000, x: 500 });
  expect(chunk.at(-1)).toEqual({ id: 9_999, x: 999.9 });
  const last = (await readChunk(
    source.layout,
    dataset,
    'inputs',
    'run-1',
    2,
    10_000,
    10_005,
  )) as Row[];
  expect(last.map((row) => row.id)).toEqual([10_000, 10_001, 10_002, 10_003, 10_004]);
  expect(load).not.toHaveBeenCalled();
});
