/**
 * Pipelines run with the local runner and the MLflow tracking hook, against the real MLflow
 * server, read back through the REST API. The project is test/fixtures/mlflow-project, copied to
 * a temporary folder per test; every test uses its own experiment.
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProjectConfig } from '../../src/catalog/config-loader.js';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { TAG_COMMAND, TAG_PIPELINE_NAME } from '../../src/constants.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import type { Hooks, RunInfo } from '../../src/hooks/types.js';
import {
  MlflowClient,
  MlflowParamTooLongError,
  createMlflowTrackingHook,
  mlflowClientOptions,
  registerMlflowDatasets,
  resolveMlflowConfig,
  tagsToRecord,
  withActiveRun,
} from '../../src/mlflow/index.js';
import type { ActiveRunSlot, Run } from '../../src/mlflow/index.js';
import { node, pipeline } from '../../src/pipeline/index.js';
import type { Pipeline } from '../../src/pipeline/index.js';
import { NodeRunError } from '../../src/runner/errors.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { realClient, trackingUri, uniqueName } from './support.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mlflow-project', import.meta.url));
const SECRET = 'TOP-SECRET-VALUE-123';
const reader = realClient();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const train = node(
  (numbers: number[], options: { learning_rate: number }, seed: number) => ({
    weights: numbers.map((n) => n * options.learning_rate),
    seed,
  }),
  {
    inputs: ['raw_numbers', 'params:model_options', 'params:seed'],
    outputs: 'model',
    name: 'train',
  },
);
const evaluate = node(
  async (model: { weights: number[] }) => {
    await sleep(20);
    const total = model.weights.reduce((a, b) => a + b, 0);
    return [
      { value: total, step: 3 },
      [0.9, 0.5, 0.25],
      {
        accuracy: { value: 0.8, step: 1 },
        f1: [
          { value: 0.5, step: 0 },
          { value: 0.7, step: 1 },
        ],
      },
    ];
  },
  { inputs: 'model', outputs: ['rmse', 'loss_history', 'scores'], name: 'evaluate' },
);
const trainingPipeline = pipeline([train, evaluate]);

interface ProjectRun {
  slot: ActiveRunSlot;
  projectDir: string;
  experimentId: string | undefined;
  runs: Run[];
  error?: unknown;
}

const tempDirs: string[] = [];
const sharedHooks = new Map<string, { client: MlflowClient; hook: Hooks }>();
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Copies the fixture, loads its config like a session does, runs `pipe` inside withActiveRun with the hook. */
async function runProject(options: {
  pipe?: Pipeline;
  pipelineName?: string;
  experiment?: string;
  tracking?: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  runtimeParams?: Record<string, unknown>;
  /** Reuse one hook (and client) for every run of this experiment, as a long-lived worker would. */
  shareHook?: boolean;
}): Promise<ProjectRun> {
  const projectDir = await mkdtemp(join(tmpdir(), 'mlflow-project-'));
  tempDirs.push(projectDir);
  await cp(FIXTURE, projectDir, { recursive: true });
  const runtimeParams = options.runtimeParams ?? {};
  const config = await loadProjectConfig({
    projectDir,
    env: 'local',
    runtimeParams,
    environment: {},
  });
  const experiment = options.experiment ?? uniqueName('local-run');
  const mlflowRaw = {
    ...config.mlflow,
    tracking: {
      ...(config.mlflow.tracking as object),
      ...options.tracking,
      experiment: { name: experiment },
    },
  };
  const mlflow = resolveMlflowConfig(mlflowRaw, {
    projectName: 'fixture',
    env: { MLFLOW_TRACKING_URI: trackingUri() },
    credentials: config.credentials,
  });
  const shared = options.shareHook ? sharedHooks.get(experiment) : undefined;
  const client = shared?.client ?? new MlflowClient(mlflowClientOptions(mlflow)!);
  const hook = shared?.hook ?? createMlflowTrackingHook({ client, config: mlflow });
  if (options.shareHook) sharedHooks.set(experiment, { client, hook });
  const registry = registerMlflowDatasets(new DatasetRegistry(), () => client);
  const catalog = DataCatalog.fromConfig({
    catalog: config.catalog,
    credentials: config.credentials,
    parameters: { ...config.parameters, ...options.parameters },
    projectDir,
    registry,
  });
  const pipelineName = options.pipelineName ?? '__default__';
  const run: RunInfo = {
    runId: uniqueName('session'),
    pipelineName,
    env: 'local',
    projectDir,
    runtimeParams,
    command: `temporal-mlflow run --pipeline ${pipelineName}`,
  };
  const slot: ActiveRunSlot = { client };
  const hooks = [hook];
  let error: unknown;
  await withActiveRun(slot, () =>
    runPipelineLocally({ pipeline: options.pipe ?? trainingPipeline, catalog, run, hooks }),
  ).catch((e: unknown) => {
    error = e;
  });
  const found = await reader.experiments.getByName(experiment);
  const runs = found
    ? (await reader.runs.search({ experimentIds: [found.experiment_id] })).items
    : [];
  return { slot, projectDir, experimentId: found?.experiment_id, runs, error };
}

const params = (run: Run) => tagsToRecord(run.data.params);
const tags = (run: Run) => tagsToRecord(run.data.tags);

describe('a pipeline run under the local runner with the MLflow hook', () => {
  test('leaves one FINISHED run with its flattened params, metrics with steps and artifacts', async () => {
    const result = await runProject({ runtimeParams: { seed: 7, extra_flag: 'on' } });
    expect(result.error).toBeUndefined();
    expect(result.runs).toHaveLength(1);
    const run = result.runs[0]!;
    const runId = run.info.run_id;
    expect(result.slot.runId).toBe(runId);
    expect(result.slot.experimentId).toBe(result.experimentId);
    expect(run.info.status).toBe('FINISHED');
    expect(run.info.run_name).toMatch(/^__default__ \d{2}:\d{2}:\d{2}$/);

    // Flattened per mlflow.yml; the runtime override reaches MLflow through params:seed only.
    expect(params(run)).toEqual({
      'model_options.learning_rate': '0.1',
      'model_options.features': '["a","b"]',
      'model_options.layers.hidden': '8',
      'model_options.layers.dropout': '0.2',
      seed: '7',
    });
    expect(tags(run)).toMatchObject({
      [TAG_COMMAND]: 'temporal-mlflow run --pipeline __default__',
      [TAG_PIPELINE_NAME]: '__default__',
      env: 'local',
      'mlflow.source.type': 'LOCAL',
    });

    const history = async (key: string) =>
      (await reader.runs.getMetricHistory(runId, key))
        .map((m) => [m.step, m.value])
        .sort((a, b) => a[0]! - b[0]!);
    expect(await history('rmse')).toEqual([[3, (1 + 2 + 3 + 4) * 0.1]]);
    expect(await history('loss_history')).toEqual([
      [0, 0.9],
      [1, 0.5],
      [2, 0.25],
    ]);
    expect(await history('scores.accuracy')).toEqual([[1, 0.8]]);
    expect(await history('scores.f1')).toEqual([
      [0, 0.5],
      [1, 0.7],
    ]);

    const artifacts = await reader.artifacts.listArtifacts(runId, undefined, { recursive: true });
    expect(artifacts.filter((f) => !f.isDir).map((f) => f.path)).toEqual(['models/model.json']);
    const downloaded = join(result.projectDir, 'downloaded.json');
    await reader.artifacts.downloadFile(runId, 'models/model.json', downloaded);
    expect(JSON.parse(await readFile(downloaded, 'utf8'))).toEqual({
      weights: [0.1, 0.2, 0.30000000000000004, 0.4],
      seed: 7,
    });
  });

  test('a failing node leaves the run FAILED', async () => {
    const boom = node(
      () => {
        throw new Error('evaluation exploded');
      },
      { inputs: 'model', outputs: 'rmse', name: 'evaluate' },
    );
    const result = await runProject({ pipe: pipeline([train, boom]) });
    expect(result.error).toBeInstanceOf(NodeRunError);
    expect(result.runs).toHaveLength(1);
    expect(result.runs[0]!.info.status).toBe('FAILED');
    expect(result.runs[0]!.info.end_time).toBeGreaterThan(0);
    // What ran before the failure was logged.
    expect(params(result.runs[0]!)).toHaveProperty('seed', '42');
  });

  test('a pipeline listed in disable_tracking creates no run and logs nothing', async () => {
    const experiment = uniqueName('disabled');
    await reader.experiments.create(experiment);
    const result = await runProject({
      experiment,
      pipelineName: 'training',
      tracking: { disable_tracking: { pipelines: ['training'] } },
    });
    expect(result.error).toBeUndefined();
    expect(result.runs).toEqual([]);
    expect(result.slot.runId).toBeUndefined();
    // The artifact dataset still saved its file locally.
    expect(
      JSON.parse(await readFile(join(result.projectDir, 'data/06_models/model.json'), 'utf8')),
    ).toHaveProperty('seed', 42);
  });

  describe('long params follow long_params_strategy', () => {
    const longValue = 'x'.repeat(7000);
    const usesBlob = pipeline([
      node((blob: string) => blob.length, {
        inputs: 'params:blob',
        outputs: 'blob_length',
        name: 'measure',
      }),
    ]);

    test('fail raises an error naming the param and leaves the run FAILED', async () => {
      const result = await runProject({ pipe: usesBlob, parameters: { blob: longValue } });
      expect(result.error).toBeInstanceOf(NodeRunError);
      const cause = (result.error as Error).cause;
      expect(cause).toBeInstanceOf(MlflowParamTooLongError);
      expect((cause as MlflowParamTooLongError).paramName).toBe('blob');
      expect((cause as Error).message).toMatch(/Parameter 'blob' is 7000 characters long/);
      expect(result.runs[0]!.info.status).toBe('FAILED');
      expect(params(result.runs[0]!)).not.toHaveProperty('blob');
    });

    test('truncate stores the first 6000 characters', async () => {
      const result = await runProject({
        pipe: usesBlob,
        parameters: { blob: longValue },
        tracking: { params: { long_params_strategy: 'truncate' } },
      });
      expect(result.error).toBeUndefined();
      expect(params(result.runs[0]!).blob).toBe('x'.repeat(6000));
    });

    test('tag logs the whole value as a tag instead of a param', async () => {
      const result = await runProject({
        pipe: usesBlob,
        parameters: { blob: longValue },
        tracking: { params: { long_params_strategy: 'tag' } },
      });
      expect(result.error).toBeUndefined();
      expect(params(result.runs[0]!)).not.toHaveProperty('blob');
      expect(tags(result.runs[0]!).blob).toBe(longValue);
    });
  });

  test('a value from credentials.yml appears nowhere in the run', async () => {
    const all = pipeline([
      train,
      evaluate,
      node((p: unknown) => Object.keys(p as object).length, {
        inputs: 'parameters',
        outputs: 'n_params',
        name: 'count_params',
      }),
    ]);
    const result = await runProject({ pipe: all });
    expect(result.error).toBeUndefined();
    const run = await reader.runs.get(result.runs[0]!.info.run_id);
    expect(JSON.stringify(run)).not.toContain(SECRET);
    const dir = await mkdtemp(join(tmpdir(), 'artifacts-'));
    tempDirs.push(dir);
    const files = await reader.artifacts.downloadDirectory(run.info.run_id, undefined, dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(await readFile(file, 'utf8')).not.toContain(SECRET);
  });

  test('two concurrent runs sharing one hook and client each log to their own active run', async () => {
    const experiment = uniqueName('concurrent');
    const slow = (seed: number) =>
      pipeline([
        node(
          async (numbers: number[], s: number) => {
            await sleep(50);
            return { weights: numbers, seed: s };
          },
          { inputs: ['raw_numbers', 'params:seed'], outputs: 'model', name: 'train' },
        ),
        node(
          async () => {
            await sleep(50);
            return seed;
          },
          { inputs: 'model', outputs: 'rmse', name: `evaluate` },
        ),
      ]);
    const [first, second] = await Promise.all([
      runProject({ experiment, pipe: slow(1), parameters: { seed: 1 }, shareHook: true }),
      runProject({ experiment, pipe: slow(2), parameters: { seed: 2 }, shareHook: true }),
    ]);
    expect(first.error).toBeUndefined();
    expect(second.error).toBeUndefined();
    expect(first.slot.runId).toBeDefined();
    expect(first.slot.runId).not.toBe(second.slot.runId);
    for (const [result, seed] of [
      [first, 1],
      [second, 2],
    ] as const) {
      const run = await reader.runs.get(result.slot.runId!);
      expect(run.info.status).toBe('FINISHED');
      expect(params(run).seed).toBe(String(seed));
      expect(run.data.metrics?.find((m) => m.key === 'rmse')?.value).toBe(seed);
      expect(
        (await reader.artifacts.listArtifacts(run.info.run_id, 'models')).map((f) => f.path),
      ).toEqual(['models/model.json']);
    }
  });
});
