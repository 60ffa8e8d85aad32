/**
 * The model datasets against the real MLflow server: MlflowModelLocalFileSystemDataset,
 * MlflowModelTrackingDataset and MlflowModelRegistryDataset hold a loaded PipelineModel. The model
 * is the minimal PipelineML of test/fixtures/model-datasets-project, trained in this process and
 * packaged with savePipelineModel into a temporary folder.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetConfigError, DatasetError } from '../../src/datasets/errors.js';
import { DatasetRegistry } from '../../src/datasets/registry.js';
import type { MlflowClient } from '../../src/mlflow/client.js';
import { registerMlflowDatasets } from '../../src/mlflow/datasets/register.js';
import { registerModelDatasets } from '../../src/model/datasets/register.js';
import { withActiveRun } from '../../src/mlflow/active-run.js';
import {
  MODEL_DATASET_TYPES,
  MlflowModelLocalFileSystemDataset,
  MlflowModelRegistryDataset,
  MlflowModelTrackingDataset,
  isPipelineModel,
} from '../../src/model/datasets/index.js';
import { loadModel } from '../../src/model/load-model.js';
import { readMLmodel } from '../../src/model/mlmodel.js';
import { isPipelineMl } from '../../src/model/pipeline-ml.js';
import type { PipelineModel } from '../../src/model/runtime.js';
import { savePipelineModel } from '../../src/model/save-model.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { openSession } from '../../src/session.js';
import { datasetContract } from '../datasets/contract.js';
import { realClient, uniqueName } from '../mlflow/support.js';
import { repoRoot } from '../support/services.js';

const projectDir = join(repoRoot, 'test', 'fixtures', 'model-datasets-project');
const RECORDS = [
  { id: 'a', x: 1 },
  { id: 'b', x: 2 },
  { id: 'c', x: 6 },
];
/** The scaler fitted on the fixture's instances has mean 3. */
const CENTRED = [
  { id: 'a', centred: -2 },
  { id: 'b', centred: -1 },
  { id: 'c', centred: 3 },
];

let workDir: string;
/** The packaged model folder. */
let modelDir: string;
let cacheDir: string;
let client: MlflowClient;
const getClient = () => client;
let experimentId: string;
let contractRunId: string;

async function newRun(name: string): Promise<string> {
  return (await client.runs.create({ experimentId, runName: name })).info.run_id;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

function checkModel(loaded: unknown): void {
  expect(isPipelineModel(loaded)).toBe(true);
  const model = loaded as PipelineModel;
  expect(model.metadata.pipeline).toBe('__default__');
  expect(model.metadata.inputName).toBe('instances');
  expect(model.metadata.outputs).toEqual(['predictions']);
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tm-model-datasets-'));
  cacheDir = join(workDir, 'cache');
  const session = await openSession({ projectDir });
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered))
    throw new Error('the fixture __default__ pipeline should be a PipelineML');
  // Fit the scaler (persisted in the fixture's catalog), no MLflow involved.
  await runPipelineLocally({
    pipeline: registered.training,
    catalog: session.catalog,
    run: {
      runId: 'model-datasets-test',
      pipelineName: '__default__',
      env: 'local',
      projectDir,
      runtimeParams: {},
    },
  });
  modelDir = join(workDir, 'model');
  await savePipelineModel({
    session,
    pipelineName: '__default__',
    pipelineMl: registered,
    modelDir,
  });

  client = realClient();
  experimentId = (await client.experiments.getOrCreate(uniqueName('model-datasets'))).experiment_id;
  contractRunId = await newRun('contract');
}, 120_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

datasetContract<unknown>({
  label: 'mlflow.MlflowModelLocalFileSystemDataset',
  create: (dir, name) =>
    new MlflowModelLocalFileSystemDataset({ name, filepath: join(dir, name, 'model') }),
  sample: () => modelDir,
  check: (loaded) => checkModel(loaded),
  failingData: () => join(tmpdir(), 'no-such-model-folder'),
});

datasetContract<unknown>({
  label: 'mlflow.MlflowModelLocalFileSystemDataset (versioned)',
  create: (dir, name) =>
    new MlflowModelLocalFileSystemDataset({
      name,
      filepath: join(dir, name, 'model'),
      versioned: true,
    }),
  sample: () => modelDir,
  check: (loaded) => checkModel(loaded),
  failingData: () => join(tmpdir(), 'no-such-model-folder'),
});

datasetContract<unknown>({
  label: 'mlflow.MlflowModelTrackingDataset (with run_id)',
  create: (_dir, name) =>
    new MlflowModelTrackingDataset({ name, getClient, runId: contractRunId, cacheDir }),
  sample: () => modelDir,
  check: (loaded) => checkModel(loaded),
});

describe('MlflowModelLocalFileSystemDataset', () => {
  it('copies the model folder and loads a model that predicts', async () => {
    const target = join(workDir, 'local', 'model');
    const dataset = new MlflowModelLocalFileSystemDataset({
      name: 'local_model',
      filepath: target,
    });
    await dataset.save(modelDir);
    expect(existsSync(join(target, 'MLmodel'))).toBe(true);
    const model = await dataset.load();
    expect(await model.predict(RECORDS)).toEqual(CENTRED);
    expect(model.metadata.dir).toBe(target);
  });

  it('saves a loaded PipelineModel (its folder) and replaces a model already there, leaving no temp folder', async () => {
    const parent = join(workDir, 'replace');
    const dataset = new MlflowModelLocalFileSystemDataset({
      name: 'm',
      filepath: join(parent, 'model'),
    });
    await dataset.save(modelDir);
    await dataset.save(await loadModel(modelDir));
    expect(await readdir(parent)).toEqual(['model']);
    expect(await (await dataset.load()).predict(RECORDS)).toEqual(CENTRED);
  });

  it('keeps every save as a version when versioned', async () => {
    const filepath = join(workDir, 'versioned', 'model');
    const dataset = new MlflowModelLocalFileSystemDataset({ name: 'v', filepath, versioned: true });
    await dataset.save(modelDir);
    await dataset.save(modelDir);
    const versions = dataset.versions();
    expect(versions).toHaveLength(2);
    expect(existsSync(join(filepath, versions[1]!, 'model', 'MLmodel'))).toBe(true);
    const pinned = new MlflowModelLocalFileSystemDataset({
      name: 'v',
      filepath,
      versioned: true,
      loadVersion: versions[1],
    });
    expect((await pinned.load()).metadata.dir).toBe(join(filepath, versions[1]!, 'model'));
  });

  it.each([
    ['a folder without MLmodel', () => workDir, /not an MLflow model folder/],
    [
      'a plain object',
      () => ({ weights: [1] }),
      /expected a model folder path or a PipelineModel.*keys \[weights\]/,
    ],
    [
      'a model without a folder',
      () => ({ predict: () => 1, metadata: { pipeline: 'p' } }),
      /has no model folder/,
    ],
  ])('refuses %s with a DatasetError naming the dataset', async (_label, value, message) => {
    const dataset = new MlflowModelLocalFileSystemDataset({
      name: 'bad_model',
      filepath: join(workDir, 'bad', 'model'),
    });
    const error = await rejection(dataset.save(value() as string));
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).dataset).toBe('bad_model');
    expect(error.message).toMatch(message);
    expect(existsSync(join(workDir, 'bad'))).toBe(false);
  });
});

describe('MlflowModelTrackingDataset', () => {
  it('logs the folder as a ready LoggedModel of the active run, linked to it, and loads it back', async () => {
    const runId = await newRun('tracking');
    const dataset = new MlflowModelTrackingDataset({
      name: 'tracked_model',
      getClient,
      modelName: 'centring',
      cacheDir,
    });
    await withActiveRun({ client, runId }, () => dataset.save(modelDir));
    const saved = dataset.lastSaved!;
    expect(saved.runId).toBe(runId);
    const logged = await client.loggedModels.get(saved.modelId);
    expect(logged.info.status).toBe('LOGGED_MODEL_READY');
    expect(logged.info.source_run_id).toBe(runId);
    expect(logged.info.name).toBe('centring');
    expect(JSON.stringify((await client.runs.get(runId)).outputs ?? {})).toContain(saved.modelId);

    const model = await dataset.load();
    expect(await model.predict(RECORDS)).toEqual(CENTRED);
    // The uploaded MLmodel names its new model and run, as log_model writes them.
    expect(model.metadata.modelId).toBe(saved.modelId);
    expect(model.metadata.runId).toBe(runId);
    expect((await readMLmodel(model.metadata.dir!)).artifact_path).toBe('centring');
    // runs:/<run>/<name> resolves to the same model.
    expect(
      (await loadModel(`runs:/${runId}/centring`, { client, cacheDir })).metadata.modelId,
    ).toBe(saved.modelId);
    expect(dataset.describe()).toMatchObject({
      type: 'mlflow.MlflowModelTrackingDataset',
      name: 'centring',
      model_uri: saved.modelUri,
    });
  });

  it('logs a loaded PipelineModel to the run given as run_id', async () => {
    const runId = await newRun('pinned');
    const dataset = new MlflowModelTrackingDataset({
      name: 'pinned_model',
      getClient,
      runId,
      cacheDir,
    });
    await dataset.save(await loadModel(modelDir));
    expect((await client.loggedModels.get(dataset.lastSaved!.modelId)).info.source_run_id).toBe(
      runId,
    );
    expect(await (await dataset.load()).predict(RECORDS)).toEqual(CENTRED);
  });

  it('loads by model_uri and refuses to save then', async () => {
    const runId = await newRun('by-uri');
    const writer = new MlflowModelTrackingDataset({ name: 'w', getClient, runId, cacheDir });
    await writer.save(modelDir);
    const reader = new MlflowModelTrackingDataset({
      name: 'r',
      getClient,
      modelUri: `runs:/${runId}/model`,
      cacheDir,
    });
    expect(await reader.exists()).toBe(true);
    expect((await reader.load()).metadata.modelId).toBe(writer.lastSaved!.modelId);
    const error = await rejection(reader.save(modelDir));
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toMatch(/cannot save while 'model_uri' is set/);
    const missing = new MlflowModelTrackingDataset({
      name: 'gone',
      getClient,
      modelUri: `runs:/${runId}/nothing`,
      cacheDir,
    });
    expect(await missing.exists()).toBe(false);
  });

  it('without model_uri and before any save, a load says how to name a model', async () => {
    const dataset = new MlflowModelTrackingDataset({ name: 'unsaved_model', getClient });
    expect(await dataset.exists()).toBe(false);
    const error = await rejection(dataset.load());
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).dataset).toBe('unsaved_model');
    expect(error.message).toMatch(
      /no model to load: set 'model_uri'.*or save a model with this dataset first/,
    );
  });

  it('registers each save when registered_model_name is set, and points the alias at it', async () => {
    const runId = await newRun('register');
    const registeredName = uniqueName('centring');
    const dataset = new MlflowModelTrackingDataset({
      name: 'reg',
      getClient,
      runId,
      registeredModelName: registeredName,
      alias: 'champion',
    });
    await dataset.save(modelDir);
    await dataset.save(modelDir);
    expect(dataset.lastSaved!.registeredModelVersion).toBe('2');
    const champion = await client.registry.getModelVersionByAlias(registeredName, 'champion');
    expect(champion.version).toBe('2');
    // Some servers leave model_id out of the alias lookup; the source always names the model.
    expect(champion.model_id ?? champion.source).toMatch(dataset.lastSaved!.modelId);
  });

  it('outside a tracked run, a save says there is no run; in an untracked run scope it logs nothing', async () => {
    const dataset = new MlflowModelTrackingDataset({ name: 'm', getClient });
    expect((await rejection(dataset.save(modelDir))).message).toMatch(
      /no active MLflow run to log to/,
    );
    await withActiveRun({ client }, () => dataset.save(modelDir));
    expect(dataset.lastSaved).toBeUndefined();
  });

  it('refuses a value that is not a model before logging anything', async () => {
    const runId = await newRun('bad-value');
    const dataset = new MlflowModelTrackingDataset({ name: 'm', getClient, runId });
    expect((await rejection(dataset.save(workDir))).message).toMatch(/not an MLflow model folder/);
    const models = [];
    for await (const model of client.loggedModels.searchAll({
      experimentIds: [experimentId],
      filter: `source_run_id = '${runId}'`,
    }))
      models.push(model);
    expect(models).toEqual([]);
  });
});

describe('MlflowModelRegistryDataset', () => {
  let registeredName: string;
  let firstModelId: string;
  let secondModelId: string;

  beforeAll(async () => {
    const runId = await newRun('registry');
    registeredName = uniqueName('registry-model');
    const first = new MlflowModelTrackingDataset({
      name: 'v1',
      getClient,
      runId,
      modelName: 'first',
      registeredModelName: registeredName,
      alias: 'champion',
    });
    await first.save(modelDir);
    const second = new MlflowModelTrackingDataset({
      name: 'v2',
      getClient,
      runId,
      modelName: 'second',
      registeredModelName: registeredName,
    });
    await second.save(modelDir);
    firstModelId = first.lastSaved!.modelId;
    secondModelId = second.lastSaved!.modelId;
  }, 60_000);

  it('loads a version by number', async () => {
    const dataset = new MlflowModelRegistryDataset({
      name: 'by_version',
      getClient,
      modelName: registeredName,
      version: 1,
      cacheDir,
    });
    expect(dataset.modelUri).toBe(`models:/${registeredName}/1`);
    expect(await dataset.exists()).toBe(true);
    const model = await dataset.load();
    expect(model.metadata.modelId).toBe(firstModelId);
    expect(await model.predict(RECORDS)).toEqual(CENTRED);
  });

  it('loads the version an alias points at', async () => {
    const dataset = new MlflowModelRegistryDataset({
      name: 'by_alias',
      getClient,
      modelName: registeredName,
      alias: 'champion',
      cacheDir,
    });
    expect(dataset.modelUri).toBe(`models:/${registeredName}@champion`);
    expect((await dataset.load()).metadata.modelId).toBe(firstModelId);
  });

  it('loads the latest version when neither version nor alias is set (kedro-mlflow: stage_or_version latest)', async () => {
    const dataset = new MlflowModelRegistryDataset({
      name: 'latest',
      getClient,
      modelName: registeredName,
      cacheDir,
    });
    expect(dataset.describe()).toEqual({
      type: 'mlflow.MlflowModelRegistryDataset',
      model_name: registeredName,
      version: 'latest',
      model_uri: `models:/${registeredName}/latest`,
    });
    expect((await dataset.load()).metadata.modelId).toBe(secondModelId);
  });

  it('does not exist for an unknown alias or version, and its load names the URI', async () => {
    const alias = new MlflowModelRegistryDataset({
      name: 'nope',
      getClient,
      modelName: registeredName,
      alias: 'nobody',
      cacheDir,
    });
    expect(await alias.exists()).toBe(false);
    const version = new MlflowModelRegistryDataset({
      name: 'nope',
      getClient,
      modelName: registeredName,
      version: 99,
      cacheDir,
    });
    expect(await version.exists()).toBe(false);
    const error = await rejection(version.load());
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toContain(`models:/${registeredName}/99`);
  });

  it('refuses both version and alias with a config error naming both keys', () => {
    const build = () =>
      new MlflowModelRegistryDataset({
        name: 'both',
        getClient,
        modelName: 'm',
        version: 2,
        alias: 'champion',
      });
    expect(build).toThrow(DatasetConfigError);
    expect(build).toThrow(/'version' \(2\) and 'alias' \(champion\) are both set/);
  });

  it('is read-only: a save is a DatasetError', async () => {
    const dataset = new MlflowModelRegistryDataset({
      name: 'read_only',
      getClient,
      modelName: registeredName,
    });
    const error = await rejection(dataset.save(modelDir));
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as DatasetError).dataset).toBe('read_only');
    expect(error.message).toMatch(
      /read-only.*MlflowModelTrackingDataset and save_args\.registered_model_name/,
    );
  });
});

describe('registering the model datasets', () => {
  // As a session does: the MLflow datasets, then the model datasets.
  const registry = () =>
    registerModelDatasets(registerMlflowDatasets(new DatasetRegistry(), getClient), getClient);
  const context = (name: string) => ({ name, projectDir: workDir });

  it("registers kedro-mlflow's type names and short ones with the MLflow datasets", () => {
    const built = registry();
    for (const type of Object.values(MODEL_DATASET_TYPES).flat())
      expect(built.has(type)).toBe(true);
    expect(built.has('kedro_mlflow.io.models.MlflowModelRegistryDataset')).toBe(true);
  });

  it('builds each dataset from its catalog entry', async () => {
    const built = registry();
    const local = built.create(
      {
        type: 'kedro_mlflow.io.models.MlflowModelLocalFileSystemDataset',
        filepath: 'data/06_models/model',
        versioned: true,
      },
      context('local'),
    );
    expect(local).toBeInstanceOf(MlflowModelLocalFileSystemDataset);
    expect((local as MlflowModelLocalFileSystemDataset).resolvedPath).toBe(
      join(workDir, 'data/06_models/model'),
    );
    const tracking = built.create(
      {
        type: 'kedro_mlflow.io.models.MlflowModelTrackingDataset',
        flavor: 'temporal_mlflow',
        save_args: { name: 'centring', registered_model_name: 'centring-model', alias: 'champion' },
      },
      context('tracking'),
    ) as MlflowModelTrackingDataset;
    expect([tracking.modelName, tracking.registeredModelName, tracking.alias]).toEqual([
      'centring',
      'centring-model',
      'champion',
    ]);
    const byUri = built.create(
      { type: 'mlflow.MlflowModelTrackingDataset', load_args: { model_uri: modelDir } },
      context('by_uri'),
    );
    checkModel(await byUri.load());
    const registryDataset = built.create(
      {
        type: 'kedro_mlflow.io.models.MlflowModelRegistryDataset',
        model_name: 'centring-model',
        stage_or_version: 3,
      },
      context('registry'),
    ) as MlflowModelRegistryDataset;
    expect(registryDataset.modelUri).toBe('models:/centring-model/3');
  });

  it.each([
    [
      { type: 'mlflow.MlflowModelRegistryDataset', model_name: 'm', version: 1, alias: 'champion' },
      /'version' \(1\) and 'alias' \(champion\) are both set/,
    ],
    [
      {
        type: 'mlflow.MlflowModelRegistryDataset',
        model_name: 'm',
        stage_or_version: 2,
        alias: 'a',
      },
      /'stage_or_version' \(2\) and 'alias' \(a\)/,
    ],
    [
      {
        type: 'mlflow.MlflowModelRegistryDataset',
        model_name: 'm',
        stage_or_version: 'Production',
      },
      /version number or 'latest'.*alias/,
    ],
    [{ type: 'mlflow.MlflowModelRegistryDataset' }, /missing model_name/],
    [{ type: 'mlflow.MlflowModelTrackingDataset', flavor: 'mlflow.sklearn' }, /flavor/],
    [
      { type: 'mlflow.MlflowModelTrackingDataset', save_args: { alias: 'champion' } },
      /'alias' needs 'registered_model_name'/,
    ],
    [{ type: 'mlflow.MlflowModelTrackingDataset', model_uri: 'http://x/y' }, /invalid model_uri/],
    [{ type: 'mlflow.MlflowModelLocalFileSystemDataset' }, /missing filepath/],
  ])('rejects the invalid entry %j', (entry, message) => {
    expect(() => registry().create(entry, context('bad'))).toThrow(DatasetError);
    expect(() => registry().create(entry, context('bad'))).toThrow(message);
  });
});
