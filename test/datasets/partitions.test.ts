import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSVDataset } from '../../src/datasets/csv-dataset.js';
import { DatasetConfigError, DatasetError } from '../../src/datasets/errors.js';
import { JSONDataset } from '../../src/datasets/json-dataset.js';
import { confirmIncrementalDatasets } from '../../src/datasets/partitions/confirm-hook.js';
import { IncrementalDataset } from '../../src/datasets/partitions/incremental-dataset.js';
import { PartitionedDataset } from '../../src/datasets/partitions/partitioned-dataset.js';
import type { PartitionData } from '../../src/datasets/partitions/partitioned-dataset.js';
import { withRunKey } from '../../src/datasets/partitions/run-scope.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import type { Row } from '../../src/datasets/table.js';
import { datasetContract } from './contract.js';

const json = (filepath: string) => new JSONDataset({ filepath });

async function materialise(loaders: Record<string, () => Promise<unknown>>) {
  const out: Record<string, unknown> = {};
  for (const [id, load] of Object.entries(loaders)) out[id] = await load();
  return out;
}

const failingPartitions = (): PartitionData => ({
  a: { ok: 1 },
  b: () => {
    throw new Error('lazy partition failed');
  },
});

datasetContract<unknown>({
  label: 'partitions.PartitionedDataset',
  create: (dir, name) =>
    new PartitionedDataset({ name, path: join(dir, name), dataset: json, filenameSuffix: '.json' }),
  sample: () => ({ '2024-01-01': { n: 1 }, 'nested/2024-01-02': [1, 2] }),
  check: (loaded, sample) => {
    expect(Object.keys(loaded as object)).toEqual(Object.keys(sample as object).sort());
    return materialise(loaded as never).then((values) => expect(values).toEqual(sample));
  },
  failingData: failingPartitions,
});

datasetContract<unknown>({
  label: 'partitions.PartitionedDataset built by the registry (csv partitions)',
  create: (dir, name) =>
    new DatasetRegistry().create(
      {
        type: 'partitions.PartitionedDataset',
        path: name,
        dataset: 'csv.CSVDataset',
        filename_suffix: '.csv',
      },
      { name, projectDir: dir, allowedRoots: [dir] },
    ),
  sample: () => ({ p1: [{ a: 1, b: 'x' }] as Row[], p2: [{ a: 2, b: 'y' }] as Row[] }),
  check: (loaded, sample) =>
    materialise(loaded as never).then((values) => expect(values).toEqual(sample)),
  failingData: failingPartitions,
});

datasetContract<unknown>({
  label: 'partitions.IncrementalDataset',
  create: (dir, name) =>
    new IncrementalDataset({ name, path: join(dir, name), dataset: json, filenameSuffix: '.json' }),
  sample: () => ({ p1: { n: 1 }, p2: { n: 2 } }),
  failingData: failingPartitions,
});

describe('partitions.PartitionedDataset', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'partitions-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads lazily: a partition is read only when its loader is called', async () => {
    const dataset = new PartitionedDataset({ path: dir, dataset: json, filenameSuffix: '.json' });
    await dataset.save({ a: { v: 1 }, b: { v: 2 } });
    await writeFile(join(dir, 'b.json'), 'not json');
    const loaders = await dataset.load();
    expect(await loaders.a!()).toEqual({ v: 1 });
    await expect(loaders.b!()).rejects.toThrow();
  });

  it('skips hidden files and files without the suffix', async () => {
    const dataset = new PartitionedDataset({ path: dir, dataset: json, filenameSuffix: '.json' });
    await dataset.save({ a: 1 });
    await writeFile(join(dir, '.a.json.123.tmp'), '{}');
    await writeFile(join(dir, 'notes.txt'), 'hi');
    expect(await dataset.partitionIds()).toEqual(['a']);
  });

  it('calls lazy values at write time, one partition after the other', async () => {
    const order: string[] = [];
    const dataset = new PartitionedDataset({ path: dir, dataset: json, filenameSuffix: '.json' });
    await dataset.save({
      b: () => (order.push('b'), 2),
      a: async () => (order.push('a'), 1),
    });
    expect(order).toEqual(['a', 'b']);
    expect(JSON.parse(await readFile(join(dir, 'a.json'), 'utf8'))).toBe(1);
  });

  it('saves functions as values when save_lazily is false', async () => {
    const dataset = new PartitionedDataset({
      path: dir,
      dataset: (filepath) => new JSONDataset({ filepath }),
      saveLazily: false,
    });
    await expect(dataset.save({ a: () => 1 })).rejects.toThrow(/not JSON-serialisable/);
  });

  it('removes existing partitions when overwrite is true, keeps them otherwise', async () => {
    const keep = new PartitionedDataset({ path: dir, dataset: json, filenameSuffix: '.json' });
    await keep.save({ old: 1 });
    await keep.save({ new: 2 });
    expect(await keep.partitionIds()).toEqual(['new', 'old']);
    const overwrite = new PartitionedDataset({
      path: dir,
      dataset: json,
      filenameSuffix: '.json',
      overwrite: true,
    });
    await overwrite.save({ newest: 3 });
    expect(await overwrite.partitionIds()).toEqual(['newest']);
  });

  it.each([['../escape'], ['/abs'], ['']])('refuses the partition id %j', async (id) => {
    const dataset = new PartitionedDataset({ path: dir, dataset: json });
    await expect(dataset.save({ [id]: 1 })).rejects.toThrow(/must be a relative path inside/);
  });

  it('limits the depth with load_args.maxdepth', async () => {
    const dataset = new DatasetRegistry().create(
      {
        type: 'partitions.PartitionedDataset',
        path: 'parts',
        dataset: { type: 'json.JSONDataset' },
        load_args: { maxdepth: 1 },
      },
      { name: 'parts', projectDir: dir },
    ) as PartitionedDataset;
    await dataset.save({ top: 1, 'deep/down': 2 });
    expect(await dataset.partitionIds()).toEqual(['top']);
  });

  it.each([
    [{ dataset: { type: 'json.JSONDataset', filepath: 'x' } }, "'filepath' must not be set"],
    [{ dataset: { type: 'json.JSONDataset', versioned: true } }, 'versioned underlying'],
    [{ dataset: 'json.JSONDatset' }, "Did you mean 'json.JSONDataset'"],
    [{ dataset: 'json.JSONDataset', overwrite: 'yes' }, 'overwrite'],
    [{ dataset: 'json.JSONDataset', filename_sufix: '.json' }, "did you mean 'filename_suffix'"],
  ])('rejects the config %j', (extra, message) => {
    const build = () =>
      new DatasetRegistry().create(
        { type: 'partitions.PartitionedDataset', path: 'p', ...extra },
        { name: 'p', projectDir: dir },
      );
    expect(build).toThrow(DatasetConfigError);
    expect(build).toThrow(message);
  });

  it('passes credentials to the underlying dataset and leaves them out of describe()', () => {
    const seen: unknown[] = [];
    const registry = new DatasetRegistry().register('spy.Dataset', (config, context) => {
      seen.push(context.credentials);
      return new JSONDataset({ filepath: String(config.filepath) });
    });
    const dataset = registry.create(
      { type: 'partitions.PartitionedDataset', path: 'p', dataset: { type: 'spy.Dataset' } },
      { name: 'p', projectDir: dir, credentials: { token: 's3cret' } },
    );
    expect(seen[0]).toEqual({ token: 's3cret' });
    expect(JSON.stringify(dataset.describe())).not.toContain('s3cret');
  });
});

describe('partitions.IncrementalDataset', () => {
  let dir: string;
  const create = (options: Partial<ConstructorParameters<typeof IncrementalDataset>[0]> = {}) =>
    new IncrementalDataset({
      name: 'events',
      path: dir,
      dataset: json,
      filenameSuffix: '.json',
      ...options,
    });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'incremental-'));
    await new PartitionedDataset({ path: dir, dataset: json, filenameSuffix: '.json' }).save({
      '2024-01-01': 1,
      '2024-01-02': 2,
    });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('behaves as Kedro: load, confirm, same load until release, then nothing new', async () => {
    const dataset = create();
    expect(await dataset.load()).toEqual({ '2024-01-01': 1, '2024-01-02': 2 });
    await dataset.confirm();
    expect(await dataset.checkpoint()).toBe('2024-01-02');
    expect(await dataset.load()).toEqual({ '2024-01-01': 1, '2024-01-02': 2 });
    await dataset.release();
    expect(await dataset.load()).toEqual({});
    await writeFile(join(dir, '2024-01-03.json'), '3');
    await dataset.release();
    expect(await dataset.load()).toEqual({ '2024-01-03': 3 });
  });

  it('pins a run’s partitions: a retry of the run sees the same ones, even after new ones and a confirm', async () => {
    const dataset = create();
    const first = await withRunKey('run-1', () => dataset.load());
    await writeFile(join(dir, '2024-01-03.json'), '3');
    await withRunKey('run-1', () => dataset.confirm());
    const retried = await withRunKey('run-1', () => create().load());
    expect(retried).toEqual(first);
    await withRunKey('run-1', () => dataset.confirm());
    expect(await dataset.checkpoint()).toBe('2024-01-02');
    expect(await withRunKey('run-2', () => create().load())).toEqual({ '2024-01-03': 3 });
  });

  it('never moves the checkpoint backwards', async () => {
    await writeFile(join(dir, 'CHECKPOINT'), '2024-01-05');
    const dataset = create({ forceCheckpoint: '2024-01-01' });
    expect(await withRunKey('r', () => dataset.load())).toEqual({ '2024-01-02': 2 });
    await withRunKey('r', () => create().confirm());
    expect(await readFile(join(dir, 'CHECKPOINT'), 'utf8')).toBe('2024-01-05');
  });

  it('honours comparison_func, a custom checkpoint path and leaves the checkpoint out of partitions', async () => {
    await mkdir(join(dir, 'state'));
    await writeFile(join(dir, 'state', 'CP.json'), '2024-01-02');
    const dataset = new DatasetRegistry().create(
      {
        type: 'partitions.IncrementalDataset',
        path: '.',
        dataset: 'json.JSONDataset',
        filename_suffix: '.json',
        checkpoint: { filepath: 'state/CP.json', comparison_func: 'operator.ge' },
      },
      { name: 'events', projectDir: dir },
    ) as IncrementalDataset;
    expect(await dataset.load()).toEqual({ '2024-01-02': 2 });
    expect(dataset.describe()).toMatchObject({ checkpoint: { comparison_func: 'operator.ge' } });
  });

  it('refuses a checkpoint outside the folder', () => {
    expect(() => create({ checkpointPath: '../CHECKPOINT' })).toThrow(/outside the dataset folder/);
  });

  it('is confirmed by the hook after the node that reads it, or by the node named in confirms', async () => {
    const dataset = create();
    const catalog = new DataCatalog({ events: dataset });
    const run = { runId: 'r', pipelineName: 'p', env: 'local', projectDir: dir, runtimeParams: {} };
    const node = (name: string, inputs: string[]) => ({ name, inputs, outputs: [], tags: [] });
    await dataset.load();
    const explicit = confirmIncrementalDatasets({ confirms: { summarise: 'events' } });
    await explicit.afterNodeRun!({
      run,
      node: node('read', ['events']),
      inputs: {},
      outputs: {},
      catalog,
    });
    expect(await dataset.checkpoint()).toBeUndefined();
    await explicit.afterNodeRun!({
      run,
      node: node('summarise', []),
      inputs: {},
      outputs: {},
      catalog,
    });
    expect(await dataset.checkpoint()).toBe('2024-01-02');
  });

  it('keeps its per-run records hidden from the partition listing', async () => {
    const dataset = create();
    await withRunKey('x', () => dataset.load());
    expect(await dataset.partitionIds()).toEqual(['2024-01-01', '2024-01-02']);
    expect((await readdir(dir)).some((name) => name.startsWith('.CHECKPOINT.runs'))).toBe(true);
  });

  it('throws a DatasetError when the folder was never written', async () => {
    const dataset = create({ path: join(dir, 'missing') });
    await expect(dataset.load()).rejects.toBeInstanceOf(DatasetError);
  });
});

// CSV partitions through the class API.
it('PartitionedDataset works with CSV partitions given in code', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'partitions-csv-'));
  try {
    const dataset = new PartitionedDataset({
      path: dir,
      dataset: (filepath) => new CSVDataset({ filepath }),
      filenameSuffix: '.csv',
    });
    await dataset.save({ a: [{ x: 1 }] });
    expect(await (await dataset.load()).a!()).toEqual([{ x: 1 }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('the confirm hook starts a new window for each local run of a pipeline', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'incremental-local-'));
  try {
    const { node, pipeline } = await import('../../src/pipeline/index.js');
    const { runPipelineLocally } = await import('../../src/runner/local-runner.js');
    await writeFile(join(dir, 'a.json'), '1');
    const events = new IncrementalDataset({ path: dir, dataset: json, filenameSuffix: '.json' });
    const seen: string[][] = [];
    const consume = pipeline([
      node((e: Record<string, number>) => (seen.push(Object.keys(e)), 1), {
        inputs: 'events',
        outputs: 'done',
        name: 'consume',
      }),
    ]);
    const catalog = new DataCatalog({ events });
    const run = (runId: string) =>
      runPipelineLocally({
        pipeline: consume,
        catalog,
        hooks: [confirmIncrementalDatasets()],
        run: { runId, pipelineName: 'p', env: 'local', projectDir: dir, runtimeParams: {} },
      });
    await run('one');
    await writeFile(join(dir, 'b.json'), '2');
    await run('two');
    await run('three');
    expect(seen).toEqual([['a'], ['b'], []]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
