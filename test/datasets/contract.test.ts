import { join } from 'node:path';
import { Table } from 'apache-arrow';
import { CSVDataset } from '../../src/datasets/csv-dataset.js';
import { JSONDataset } from '../../src/datasets/json-dataset.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import { ModelStateDataset } from '../../src/datasets/model-state-dataset.js';
import { ParquetDataset } from '../../src/datasets/parquet-dataset.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import type { Row, TableData } from '../../src/datasets/table.js';
import { TextDataset } from '../../src/datasets/text-dataset.js';
import { datasetContract } from './contract.js';

const rows: Row[] = [
  { id: 1, name: 'ada', score: 0.5, active: true },
  { id: 2, name: 'grace, "hopper"', score: 1.25, active: false },
  { id: 3, name: 'linus', score: -3, active: true },
];

/** 5,000 rows, the 4,000th of which throws when read: the save fails part-way. */
function rowsFailingPartWay(): Row[] {
  const many: Row[] = Array.from({ length: 5000 }, (_, i) => ({
    id: i,
    name: `n${i}`,
    score: i / 2,
    active: true,
  }));
  Object.defineProperty(many[3999], 'name', {
    enumerable: true,
    get() {
      throw new Error('disk on fire');
    },
  });
  return many;
}

const unsavable = { big: 10n };

datasetContract<unknown>({
  label: 'MemoryDataset',
  create: (_dir, name) => new MemoryDataset({ name }),
  sample: () => ({ a: [1, 2, 3] }),
});

datasetContract<unknown>({
  label: 'json.JSONDataset',
  create: (dir, name) => new JSONDataset({ name, filepath: join(dir, 'data', `${name}.json`) }),
  sample: () => ({ a: [1, 2, { b: 'c' }], d: null }),
  failingData: () => unsavable,
});

datasetContract<unknown>({
  label: 'json.JSONDataset (versioned)',
  create: (dir, name) =>
    new JSONDataset({ name, filepath: join(dir, 'data', `${name}.json`), versioned: true }),
  sample: () => ({ a: 1 }),
  failingData: () => unsavable,
});

datasetContract<string>({
  label: 'text.TextDataset',
  create: (dir, name) => new TextDataset({ name, filepath: join(dir, `${name}.txt`) }),
  sample: () => 'hello\nworld ✓',
  failingData: () => 42 as unknown as string,
});

datasetContract<TableData>({
  label: 'csv.CSVDataset',
  create: (dir, name) => new CSVDataset({ name, filepath: join(dir, 'csv', `${name}.csv`) }),
  sample: () => rows,
  failingData: rowsFailingPartWay,
});

datasetContract<TableData>({
  label: 'csv.CSVDataset (versioned)',
  create: (dir, name) =>
    new CSVDataset({ name, filepath: join(dir, `${name}.csv`), versioned: true }),
  sample: () => rows,
  failingData: rowsFailingPartWay,
});

datasetContract<TableData>({
  label: 'parquet.ParquetDataset',
  create: (dir, name) => new ParquetDataset({ name, filepath: join(dir, `${name}.parquet`) }),
  sample: () => rows,
  failingData: rowsFailingPartWay,
});

datasetContract<TableData>({
  label: 'parquet.ParquetDataset (arrow)',
  create: (dir, name) =>
    new ParquetDataset({ name, filepath: join(dir, `${name}.parquet`), table: 'arrow' }),
  sample: () => rows,
  check: (loaded) => {
    expect(loaded).toBeInstanceOf(Table);
    expect((loaded as Table).toArray().map((row) => ({ ...row.toJSON() }))).toEqual(rows);
  },
  failingData: rowsFailingPartWay,
});

datasetContract<unknown>({
  label: 'model.ModelStateDataset',
  create: (dir, name) =>
    new ModelStateDataset({ name, filepath: join(dir, 'models', `${name}.json`) }),
  sample: () => ({ weights: [0.5, -1], bias: 2 }),
  failingData: () => ({
    toState() {
      throw new Error('not fitted');
    },
  }),
});

datasetContract<unknown>({
  label: 'a dataset built by the registry from YAML-like config',
  create: (dir, name) =>
    new DatasetRegistry().create(
      { type: 'json.JSONDataset', filepath: `${name}.json` },
      { name, projectDir: dir },
    ),
  sample: () => [1, 2, 3],
  failingData: () => unsavable,
});
