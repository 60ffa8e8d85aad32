/** The MLflow datasets against the real MLflow server: the shared contract, modes, forms and bad input. */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbstractDataset } from '../../src/datasets/abstract-dataset.js';
import { DatasetConfigError, DatasetError } from '../../src/datasets/errors.js';
import { JSONDataset } from '../../src/datasets/json-dataset.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import {
  MLFLOW_DATASET_TYPES,
  MlflowArtifactDataset,
  MlflowMetricDataset,
  MlflowMetricHistoryDataset,
  MlflowMetricsHistoryDataset,
  registerMlflowDatasets,
  tagsToRecord,
  withActiveRun,
} from '../../src/mlflow/index.js';
import type { MetricHistoryMode, MetricValue, MetricsDict } from '../../src/mlflow/index.js';
import { datasetContract } from '../datasets/contract.js';
import { realClient, uniqueName } from './support.js';

const client = realClient();
const getClient = () => client;
let experimentId: string;
/** A fresh run per contract suite, so metric names never collide between suites. */
const contractRuns: Record<string, string> = {};

async function newRun(name: string): Promise<string> {
  return (await client.runs.create({ experimentId, runName: name })).info.run_id;
}

beforeAll(async () => {
  experimentId = (await client.experiments.getOrCreate(uniqueName('datasets'))).experiment_id;
  for (const label of ['metric', 'list', 'dict', 'history', 'metrics', 'artifact'])
    contractRuns[label] = await newRun(label);
});

datasetContract<MetricValue>({
  label: 'mlflow.MlflowMetricDataset',
  create: (_dir, name) => new MlflowMetricDataset({ name, getClient, runId: contractRuns.metric }),
  sample: () => 0.75,
});

for (const [mode, sample] of [
  ['list', [0.5, 0.25, 0.125]],
  ['dict', { 0: 1.5, 3: 2.5, 10: -1 }],
] as const) {
  datasetContract<unknown>({
    label: `mlflow.MlflowMetricHistoryDataset (${mode})`,
    create: (_dir, name) =>
      new MlflowMetricHistoryDataset({
        name,
        getClient,
        runId: contractRuns[mode],
        saveMode: mode as MetricHistoryMode,
      }),
    sample: () => sample,
  });
}

datasetContract<unknown>({
  label: 'mlflow.MlflowMetricHistoryDataset (history)',
  create: (_dir, name) =>
    new MlflowMetricHistoryDataset({
      name,
      getClient,
      runId: contractRuns.history,
      saveMode: 'history',
    }),
  sample: () => [
    { step: 0, value: 3, timestamp: 1_700_000_000_000 },
    { step: 1, value: 2, timestamp: 1_700_000_001_000 },
  ],
});

datasetContract<MetricsDict>({
  label: 'mlflow.MlflowMetricsHistoryDataset',
  create: (_dir, name) =>
    new MlflowMetricsHistoryDataset({ name, getClient, runId: contractRuns.metrics }),
  sample: () => ({
    rmse: { value: 0.5, step: 0 },
    loss: [
      { value: 2, step: 0 },
      { value: 1, step: 1 },
    ],
  }),
  // Loads return the logged names, prefixed with the entry's name (as kedro-mlflow).
  check: (loaded, sample) =>
    expect(loaded).toEqual(
      Object.fromEntries(Object.entries(sample).map(([k, v]) => [`round_trip.${k}`, v])),
    ),
});

datasetContract<unknown>({
  label: 'mlflow.MlflowArtifactDataset (with run_id)',
  create: (dir, name) =>
    new MlflowArtifactDataset({
      name,
      getClient,
      runId: contractRuns.artifact,
      artifactPath: 'contract',
      dataset: new JSONDataset({ name, filepath: join(dir, `${name}.json`) }),
    }),
  sample: () => ({ weights: [1, 2, 3] }),
  failingData: () => ({ big: 10n }),
});

describe('registering the MLflow datasets', () => {
  test('registers kedro-mlflow type names and short ones', () => {
    const registry = registerMlflowDatasets(new DatasetRegistry(), getClient);
    for (const type of Object.values(MLFLOW_DATASET_TYPES).flat())
      expect(registry.has(type)).toBe(true);
    expect(registry.has('kedro_mlflow.io.metrics.MlflowMetricDataset')).toBe(true);
    expect(registry.has('mlflow.MlflowArtifactDataset')).toBe(true);
  });

  test('metric keys and prefixes default to the catalog entry name', () => {
    const registry = registerMlflowDatasets(new DatasetRegistry(), getClient);
    const ctx = { projectDir: tmpdir() };
    const metric = registry.create(
      { type: 'kedro_mlflow.io.metrics.MlflowMetricDataset' },
      { ...ctx, name: 'accuracy' },
    );
    const history = registry.create(
      { type: 'mlflow.MlflowMetricHistoryDataset', key: 'loss' },
      { ...ctx, name: 'h' },
    );
    const many = registry.create(
      { type: 'mlflow.MlflowMetricsHistoryDataset' },
      { ...ctx, name: 'scores' },
    );
    expect((metric as MlflowMetricDataset).key).toBe('accuracy');
    expect((history as MlflowMetricHistoryDataset).key).toBe('loss');
    expect((many as MlflowMetricsHistoryDataset).prefix).toBe('scores');
    expect(metric.persisted).toBe(true);
  });

  test('an artifact dataset builds its wrapped dataset and never describes credentials', () => {
    const registry = registerMlflowDatasets(new DatasetRegistry(), getClient);
    const dataset = registry.create(
      {
        type: 'mlflow.MlflowArtifactDataset',
        dataset: { type: 'json.JSONDataset', filepath: 'data/m.json' },
        artifact_path: 'models',
      },
      { name: 'm', projectDir: tmpdir(), credentials: { token: 'S3CRET-TOKEN' } },
    );
    expect(dataset.describe()).toEqual({
      type: 'mlflow.MlflowArtifactDataset',
      dataset: { type: 'json.JSONDataset', filepath: 'data/m.json' },
      artifact_path: 'models',
    });
    expect(JSON.stringify(dataset.describe())).not.toContain('S3CRET');
  });

  test.each([
    [{ type: 'mlflow.MlflowMetricDataset', save_args: { mode: 'replace' } }, /save_args\.mode/],
    [
      { type: 'mlflow.MlflowMetricDataset', kee: 'x' },
      /unknown key 'kee' \(did you mean 'key'\?\)/,
    ],
    [
      { type: 'mlflow.MlflowMetricHistoryDataset', save_args: { mode: 'table' } },
      /save_args\.mode/,
    ],
    [{ type: 'mlflow.MlflowArtifactDataset' }, /missing dataset/],
    [
      { type: 'mlflow.MlflowArtifactDataset', dataset: { type: 'MemoryDataset' } },
      /no local file to log/,
    ],
  ])('rejects the invalid entry %j', (entry, message) => {
    const registry = registerMlflowDatasets(new DatasetRegistry(), getClient);
    expect(() => registry.create(entry, { name: 'bad', projectDir: tmpdir() })).toThrow(
      DatasetError,
    );
    expect(() => registry.create(entry, { name: 'bad', projectDir: tmpdir() })).toThrow(message);
  });

  test('a config error is a DatasetConfigError naming the entry', () => {
    const registry = registerMlflowDatasets(new DatasetRegistry(), getClient);
    expect(() =>
      registry.create(
        { type: 'mlflow.MlflowMetricDataset', kee: 1 },
        { name: 'acc', projectDir: tmpdir() },
      ),
    ).toThrow(DatasetConfigError);
  });
});

describe('using MLflow datasets without tracking', () => {
  test('a save without a configured client logs nothing and does not fail (tracking is off)', async () => {
    const dataset = new MlflowMetricDataset({ name: 'acc', getClient: () => undefined });
    await expect(dataset.save(1)).resolves.toBeUndefined();
  });

  test('a load without a configured client says how to configure tracking', async () => {
    const dataset = new MlflowMetricDataset({ name: 'acc', getClient: () => undefined });
    const error = (await dataset.load().catch((e: unknown) => e)) as DatasetError;
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toMatch(/tracking is not configured/);
    expect(error.message).toContain('mlflow_tracking_uri');
    expect(error.message).toContain('MLFLOW_TRACKING_URI');
    expect(error.dataset).toBe('acc');
  });

  test('a save with a client but outside any run says there is no active run', async () => {
    const dataset = new MlflowMetricDataset({ name: 'acc', getClient });
    await expect(dataset.save(1)).rejects.toThrow(/no active MLflow run to log to.*run_id/);
  });

  test('inside a run scope whose pipeline is not tracked, saves log nothing and do not fail', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'untracked-'));
    const artifact = new MlflowArtifactDataset({
      name: 'a',
      getClient: () => undefined,
      dataset: new JSONDataset({ name: 'a', filepath: join(dir, 'a.json') }),
    });
    await withActiveRun({ client }, async () => {
      await new MlflowMetricDataset({ name: 'acc', getClient: () => undefined }).save(1);
      await artifact.save({ x: 1 });
    });
    expect(JSON.parse(await readFile(join(dir, 'a.json'), 'utf8'))).toEqual({ x: 1 });
    await rm(dir, { recursive: true, force: true });
  });
});

describe('invalid metric values', () => {
  test.each([
    ['a string', 'MlflowMetricDataset', '0.5'],
    ['null', 'MlflowMetricDataset', null],
    ['an object without value', 'MlflowMetricDataset', { step: 1 }],
    ['a fractional step', 'MlflowMetricDataset', { value: 1, step: 0.5 }],
    ['a list with a string', 'list', [1, 'two', 3]],
    ['a dict with a non-integer step', 'dict', { one: 1 }],
    ['a history entry without step', 'history', [{ value: 1 }]],
    ['a metrics dict with a string value', 'metrics', { rmse: { value: 'low', step: 0 } }],
    ['a metrics dict with a bare number', 'metrics', { rmse: 0.3 }],
  ])(
    '%s is refused with a DatasetError naming the dataset and the metric',
    async (_label, kind, value) => {
      const runId = await newRun('invalid');
      const dataset =
        kind === 'MlflowMetricDataset'
          ? new MlflowMetricDataset({ name: 'scores', key: 'rmse', getClient, runId })
          : kind === 'metrics'
            ? new MlflowMetricsHistoryDataset({ name: 'scores', getClient, runId })
            : new MlflowMetricHistoryDataset({
                name: 'scores',
                key: 'rmse',
                getClient,
                runId,
                saveMode: kind as MetricHistoryMode,
              });
      const error = (await (dataset as AbstractDataset)
        .save(value)
        .catch((e: unknown) => e)) as DatasetError;
      expect(error).toBeInstanceOf(DatasetError);
      expect(error.dataset).toBe('scores');
      expect(error.message).toContain("'scores'");
      expect(error.message).toContain("metric 'rmse'");
      expect((await client.runs.get(runId)).data.metrics ?? []).toEqual([]);
    },
  );
});

/** A client that records the keys whose metric history it reads. */
function countingHistoryReads() {
  const counted = realClient();
  const reads: string[] = [];
  const read = counted.runs.getMetricHistory.bind(counted.runs);
  Object.assign(counted.runs, {
    getMetricHistory: (run: string, key: string) => (reads.push(key), read(run, key)),
  });
  return { counted, reads };
}

describe('MlflowMetricDataset modes', () => {
  test('overwrite logs at the last step, append at the next, and a given step wins', async () => {
    const runId = await newRun('modes');
    const overwrite = new MlflowMetricDataset({ name: 'acc', getClient, runId });
    const append = new MlflowMetricDataset({ name: 'acc', getClient, runId, mode: 'append' });
    const pinned = new MlflowMetricDataset({ name: 'acc', getClient, runId, saveStep: 10 });
    await overwrite.save(0.1); // step 0
    await overwrite.save(0.2); // step 0 again, wins
    await append.save(0.3); // step 1
    await append.save({ value: 0.4, step: 5 }); // step 5
    await append.save(0.5); // step 6
    await pinned.save(0.6); // step 10
    const history = await client.runs.getMetricHistory(runId, 'acc');
    expect(
      history.map((m) => [m.step, m.value]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!),
    ).toEqual([
      [0, 0.1],
      [0, 0.2],
      [1, 0.3],
      [5, 0.4],
      [6, 0.5],
      [10, 0.6],
    ]);
    expect(await overwrite.load()).toBe(0.6);
    expect(
      await new MlflowMetricDataset({ name: 'acc', getClient, runId, loadStep: 0 }).load(),
    ).toBe(0.2);
    await expect(
      new MlflowMetricDataset({ name: 'acc', getClient, runId, loadStep: 3 }).load(),
    ).rejects.toThrow(/no value at step 3.*steps logged: 0, 1, 5, 6, 10/);
  });

  test('a pinned step logs without reading the history, the later of two saves sorting last', async () => {
    const runId = await newRun('pinned');
    const { counted, reads } = countingHistoryReads();
    const pinned = new MlflowMetricDataset({
      name: 'acc',
      getClient: () => counted,
      runId,
      saveStep: 3,
    });
    await pinned.save(0.1);
    await pinned.save(0.2);
    await pinned.save({ value: 0.3, step: 7 });
    expect(reads).toEqual([]);
    const loaded = new MlflowMetricDataset({ name: 'acc', getClient, runId });
    expect(
      await new MlflowMetricDataset({ name: 'acc', getClient, runId, loadStep: 3 }).load(),
    ).toBe(0.2);
    expect(await loaded.load()).toBe(0.3);
    // Overwrite and append need the last step: they read it.
    await new MlflowMetricDataset({ name: 'acc', getClient: () => counted, runId }).save(0.4);
    expect(reads).toEqual(['acc']);
    expect(await loaded.load()).toBe(0.4);
  });

  test('overwriting a key the active run only logged at step 0 needs no read; other keys and modes still read', async () => {
    const runId = await newRun('step-zero');
    const { counted, reads } = countingHistoryReads();
    const slot = { client: counted, runId, stepZeroKeys: new Set(['acc']) };
    const dataset = (key: string, mode?: 'append') =>
      new MlflowMetricDataset({ name: key, getClient: () => counted, ...(mode ? { mode } : {}) });
    await withActiveRun(slot, async () => {
      await dataset('acc').save(0.1);
      await dataset('acc').save(0.2); // a retried node: step 0 again, sorting last
      expect(reads).toEqual([]);
      await dataset('loss').save(0.3);
      await dataset('acc', 'append').save(0.4);
    });
    expect(reads).toEqual(['loss', 'acc']);
    const history = await client.runs.getMetricHistory(runId, 'acc');
    expect(history.map((m) => [m.step, m.value])).toEqual([
      [0, 0.1],
      [0, 0.2],
      [1, 0.4],
    ]);
    // Outside a run that says so, overwrite reads as before (the local runner, a configured run).
    await new MlflowMetricDataset({ name: 'acc', getClient: () => counted, runId }).save(0.5);
    expect(reads).toEqual(['loss', 'acc', 'acc']);
    expect((await client.runs.getMetricHistory(runId, 'acc')).at(-1)).toMatchObject({
      step: 1,
      value: 0.5,
    });
  });

  test('inside withActiveRun the active run is used', async () => {
    const runId = await newRun('active');
    const dataset = new MlflowMetricDataset({ name: 'f1', getClient });
    await withActiveRun({ client, runId }, async () => {
      await dataset.save(0.9);
      expect(await dataset.exists()).toBe(true);
      expect(await dataset.load()).toBe(0.9);
    });
  });
});

describe('MlflowMetricHistoryDataset forms', () => {
  test('a list saved loads back as a dict and as a history with steps 0..n-1', async () => {
    const runId = await newRun('forms');
    await new MlflowMetricHistoryDataset({ name: 'loss', getClient, runId }).save([3, 2, 1]);
    expect(
      await new MlflowMetricHistoryDataset({
        name: 'loss',
        getClient,
        runId,
        loadMode: 'dict',
      }).load(),
    ).toEqual({ 0: 3, 1: 2, 2: 1 });
    const history = (await new MlflowMetricHistoryDataset({
      name: 'loss',
      getClient,
      runId,
      loadMode: 'history',
    }).load()) as {
      step: number;
      value: number;
    }[];
    expect(history.map(({ step, value }) => ({ step, value }))).toEqual([
      { step: 0, value: 3 },
      { step: 1, value: 2 },
      { step: 2, value: 1 },
    ]);
  });
});

/** A dataset writing a folder of files, to check folder artifacts. */
class FolderDataset extends AbstractDataset<Record<string, string>> {
  readonly type = 'test.FolderDataset';
  readonly persisted = true;
  constructor(readonly dir: string) {
    super({ name: 'folder' });
  }
  localPath(): string {
    return this.dir;
  }
  protected async doLoad(): Promise<Record<string, string>> {
    const names = (await readdir(this.dir)).sort();
    return Object.fromEntries(
      await Promise.all(
        names.map(async (n) => [n, await readFile(join(this.dir, n), 'utf8')] as const),
      ),
    );
  }
  protected async doSave(data: Record<string, string>): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const [name, text] of Object.entries(data)) await writeFile(join(this.dir, name), text);
  }
  protected async doExists(): Promise<boolean> {
    return readdir(this.dir).then(
      () => true,
      () => false,
    );
  }
  protected doDescribe(): Record<string, unknown> {
    return { dir: this.dir };
  }
}

describe('MlflowArtifactDataset', () => {
  test('logs a folder under artifact_path and downloads it again from the run', async () => {
    const runId = await newRun('folder');
    const dir = await mkdtemp(join(tmpdir(), 'folder-artifact-'));
    const saved = new MlflowArtifactDataset({
      name: 'folder',
      getClient,
      artifactPath: 'reports',
      dataset: new FolderDataset(join(dir, 'out')),
    });
    await withActiveRun({ client, runId }, () => saved.save({ 'a.txt': 'A', 'b.txt': 'B' }));
    const listing = await client.artifacts.listArtifacts(runId, 'reports', { recursive: true });
    expect(
      listing
        .filter((f) => !f.isDir)
        .map((f) => f.path)
        .sort(),
    ).toEqual(['reports/out/a.txt', 'reports/out/b.txt']);

    const elsewhere = join(dir, 'copy', 'out');
    const loaded = new MlflowArtifactDataset({
      name: 'folder',
      getClient,
      runId,
      artifactPath: 'reports',
      dataset: new FolderDataset(elsewhere),
    });
    expect(await loaded.load()).toEqual({ 'a.txt': 'A', 'b.txt': 'B' });
    await rm(dir, { recursive: true, force: true });
  });

  test('logs the file to the run given as run_id, not to the active one', async () => {
    const [active, pinned] = [await newRun('active'), await newRun('pinned')];
    const dir = await mkdtemp(join(tmpdir(), 'pinned-artifact-'));
    const dataset = new MlflowArtifactDataset({
      name: 'p',
      getClient,
      runId: pinned,
      dataset: new JSONDataset({ name: 'p', filepath: join(dir, 'p.json') }),
    });
    await withActiveRun({ client, runId: active }, () => dataset.save([1]));
    expect((await client.artifacts.listArtifacts(pinned)).map((f) => f.path)).toEqual(['p.json']);
    expect(await client.artifacts.listArtifacts(active)).toEqual([]);
    expect(tagsToRecord((await client.runs.get(pinned)).data.tags)['mlflow.runName']).toBe(
      'pinned',
    );
    await rm(dir, { recursive: true, force: true });
  });
});
