import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Table, tableFromArrays } from 'apache-arrow';
import { CSVDataset } from '../../src/datasets/csv-dataset.js';
import {
  DatasetConfigError,
  UnknownDatasetTypeError,
  VersionNotFoundError,
} from '../../src/datasets/errors.js';
import { JSONDataset } from '../../src/datasets/json-dataset.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import { ModelStateDataset } from '../../src/datasets/model-state-dataset.js';
import { ParquetDataset } from '../../src/datasets/parquet-dataset.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import { TextDataset } from '../../src/datasets/text-dataset.js';
import { VERSION_PATTERN } from '../../src/datasets/versioning.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'datasets-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('MemoryDataset', () => {
  it('deep-copies plain objects by default so callers cannot mutate the stored value', async () => {
    const dataset = new MemoryDataset<{ list: number[] }>();
    const value = { list: [1] };
    await dataset.save(value);
    value.list.push(2);
    const loaded = await dataset.load();
    loaded.list.push(3);
    expect(await dataset.load()).toEqual({ list: [1] });
  });

  it('shares class instances by default (assign) and copies shallowly in copy mode', async () => {
    class Model {
      constructor(readonly w: number[]) {}
    }
    const assigned = new MemoryDataset<Model>();
    const model = new Model([1]);
    await assigned.save(model);
    expect(await assigned.load()).toBe(model);

    const shallow = new MemoryDataset<{ list: number[] }>({ copyMode: 'copy' });
    const value = { list: [1] };
    await shallow.save(value);
    const loaded = await shallow.load();
    expect(loaded).not.toBe(value);
    expect(loaded.list).toBe(value.list);
  });

  it('is not persisted and forgets its value on release', async () => {
    const dataset = new MemoryDataset({ data: 5 });
    expect(dataset.persisted).toBe(false);
    expect(await dataset.load()).toBe(5);
    await dataset.release();
    expect(await dataset.exists()).toBe(false);
  });
});

describe('csv.CSVDataset', () => {
  it('types numeric and boolean columns, and empty cells become null', async () => {
    const path = join(dir, 'in.csv');
    await writeFile(path, 'id,name,price,flag\n1,a,1.5,true\n2,,2,false\n3,007,,TRUE\n');
    const loaded = await new CSVDataset({ filepath: path }).load();
    expect(loaded).toEqual([
      { id: 1, name: 'a', price: 1.5, flag: true },
      { id: 2, name: null, price: 2, flag: false },
      { id: 3, name: '007', price: null, flag: true },
    ]);
  });

  it('keeps every cell a string with load_args.cast false', async () => {
    const path = join(dir, 'in.csv');
    await writeFile(path, 'id,name\n1,a\n');
    expect(await new CSVDataset({ filepath: path, loadArgs: { cast: false } }).load()).toEqual([
      { id: '1', name: 'a' },
    ]);
  });

  it('honours delimiter, header and columns in load and save args', async () => {
    const path = join(dir, 'out.csv');
    const dataset = new CSVDataset({
      filepath: path,
      saveArgs: { delimiter: ';', header: false, columns: ['b', 'a'] },
      loadArgs: { delimiter: ';', header: false, columns: ['b', 'a'] },
    });
    await dataset.save([{ a: 1, b: 'x' }]);
    expect(await readFile(path, 'utf8')).toBe('x;1\n');
    expect(await dataset.load()).toEqual([{ b: 'x', a: 1 }]);
  });

  it('loads an apache-arrow Table with table: arrow and saves one', async () => {
    const path = join(dir, 't.csv');
    const dataset = new CSVDataset({ filepath: path, table: 'arrow' });
    await dataset.save(tableFromArrays({ n: Int32Array.from([1, 2]), s: ['a', 'b'] }));
    const table = (await dataset.load()) as Table;
    expect(table).toBeInstanceOf(Table);
    expect(table.numRows).toBe(2);
    expect(table.getChild('n')?.toArray()).toEqual(Int32Array.from([1, 2]));
    expect(table.getChild('s')?.toArray()).toEqual(['a', 'b']);
  });
});

describe('parquet.ParquetDataset', () => {
  it('round-trips nulls, strings, booleans and numbers, and reads a column subset', async () => {
    const path = join(dir, 'p.parquet');
    const rows = [
      { i: 1, f: 1.5, s: 'a', b: true, n: null },
      { i: null, f: 2, s: null, b: false, n: null },
    ];
    await new ParquetDataset({ filepath: path }).save(rows);
    expect(await new ParquetDataset({ filepath: path }).load()).toEqual(rows);
    expect(
      await new ParquetDataset({ filepath: path, loadArgs: { columns: ['s'] } }).load(),
    ).toEqual([{ s: 'a' }, { s: null }]);
  });

  it('saves an arrow Table and loads it back as rows', async () => {
    const path = join(dir, 'p.parquet');
    await new ParquetDataset({ filepath: path }).save(
      tableFromArrays({ x: Float64Array.from([0.5, 1.5]) }),
    );
    expect(await new ParquetDataset({ filepath: path }).load()).toEqual([{ x: 0.5 }, { x: 1.5 }]);
  });
});

describe('versioned datasets', () => {
  it('save to <filepath>/<version>/<basename> and load the latest by default', async () => {
    const dataset = new JSONDataset({
      filepath: 'data/model.json',
      projectDir: dir,
      versioned: true,
    });
    await dataset.save({ v: 1 });
    await dataset.save({ v: 2 });
    const versions = await readdir(join(dir, 'data', 'model.json'));
    expect(versions).toHaveLength(2);
    for (const version of versions) expect(version).toMatch(VERSION_PATTERN);
    expect(dataset.localPath()).toBe(
      join(dir, 'data', 'model.json', versions.sort()[1] as string, 'model.json'),
    );
    expect(
      await new JSONDataset({
        filepath: 'data/model.json',
        projectDir: dir,
        versioned: true,
      }).load(),
    ).toEqual({ v: 2 });
  });

  it('load a pinned version, and name it when it does not exist', async () => {
    const writer = new TextDataset({
      filepath: join(dir, 'a.txt'),
      versioned: true,
      saveVersion: '2024-01-01T00.00.00.000Z',
    });
    await writer.save('old');
    await new TextDataset({ filepath: join(dir, 'a.txt'), versioned: true }).save('new');
    const pinned = new TextDataset({
      filepath: join(dir, 'a.txt'),
      versioned: true,
      loadVersion: '2024-01-01T00.00.00.000Z',
    });
    expect(await pinned.load()).toBe('old');
    const missing = new TextDataset({
      name: 'notes',
      filepath: join(dir, 'a.txt'),
      versioned: true,
      loadVersion: '2020-01-01T00.00.00.000Z',
    });
    await expect(missing.load()).rejects.toThrow(VersionNotFoundError);
    await expect(missing.load()).rejects.toThrow(/notes.*2020-01-01T00\.00\.00\.000Z' not found/);
  });

  it('never overwrite an existing version', async () => {
    const options = {
      filepath: join(dir, 'a.txt'),
      versioned: true,
      saveVersion: '2024-01-01T00.00.00.000Z',
    };
    await new TextDataset(options).save('first');
    await expect(new TextDataset(options).save('second')).rejects.toThrow(/already exists/);
  });
});

describe('model.ModelStateDataset', () => {
  class Scaler {
    constructor(readonly mean: number) {}
    toState(): { mean: number } {
      return { mean: this.mean };
    }
    static fromState(state: unknown): Scaler {
      return new Scaler((state as { mean: number }).mean);
    }
  }

  it('saves toState() and revives with the given function', async () => {
    const filepath = join(dir, 'scaler.json');
    await new ModelStateDataset({ filepath }).save(new Scaler(3));
    expect(JSON.parse(await readFile(filepath, 'utf8'))).toEqual({ mean: 3 });
    const loaded = await new ModelStateDataset({ filepath, revive: Scaler.fromState }).load();
    expect(loaded).toBeInstanceOf(Scaler);
    expect(loaded.mean).toBe(3);
  });

  it('honours toJSON() and stores typed arrays as arrays', async () => {
    const filepath = join(dir, 'm.json');
    await new ModelStateDataset({ filepath }).save({
      w: Float64Array.from([1, 2]),
      inner: { toJSON: () => 'x' },
    });
    expect(await new ModelStateDataset({ filepath }).load()).toEqual({ w: [1, 2], inner: 'x' });
  });
});

describe('DatasetRegistry', () => {
  it('lists the kedro-datasets names of the built-ins', () => {
    expect(new DatasetRegistry().types()).toEqual([
      'MemoryDataset',
      'csv.CSVDataset',
      'io.MemoryDataset',
      'json.JSONDataset',
      'model.ModelStateDataset',
      'parquet.ParquetDataset',
      'partitions.IncrementalDataset',
      'partitions.PartitionedDataset',
      'sql.SQLQueryDataset',
      'sql.SQLTableDataset',
      'text.TextDataset',
    ]);
  });

  it('builds user types registered in code', async () => {
    const registry = new DatasetRegistry().register(
      'my.Constant',
      (config, context) => new MemoryDataset({ name: context.name, data: config.value }),
    );
    const dataset = registry.create(
      { type: 'my.Constant', value: 7 },
      { name: 'seven', projectDir: dir },
    );
    expect(await dataset.load()).toBe(7);
    expect(() => registry.register('my.Constant', () => new MemoryDataset())).toThrow(
      DatasetConfigError,
    );
  });

  it('rejects an unknown type with the sorted known types and a suggestion', () => {
    const error = (() => {
      try {
        new DatasetRegistry().create(
          { type: 'csv.CsvDataset', filepath: 'x' },
          { name: 'companies', projectDir: dir },
        );
      } catch (e) {
        return e;
      }
    })() as UnknownDatasetTypeError;
    expect(error).toBeInstanceOf(UnknownDatasetTypeError);
    expect(error.suggestion).toBe('csv.CSVDataset');
    expect(error.message).toMatch(/companies.*Did you mean 'csv.CSVDataset'\?/);
    expect(error.knownTypes).toEqual([...error.knownTypes].sort());
  });

  it('reports every invalid key of an entry with its path', () => {
    try {
      new DatasetRegistry().create(
        { type: 'csv.CSVDataset', load_arg: {}, table: 'pandas' },
        { name: 'companies', projectDir: dir },
      );
      throw new Error('expected failure');
    } catch (e) {
      const error = e as DatasetConfigError;
      expect(error).toBeInstanceOf(DatasetConfigError);
      expect(error.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
        'filepath',
        'load_arg',
        'table',
      ]);
      expect(error.message).toContain('✖ missing filepath → at companies.filepath');
      expect(error.message).toContain("unknown key 'load_arg' (did you mean 'load_args'?)");
    }
  });
});
