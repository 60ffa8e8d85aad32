/**
 * Issue 6, against the real servers: the example PipelineML trained on Temporal logs its inference
 * pipeline as one MLflow 3 model under the run, registered and aliased; that model loads by every
 * URI form and predicts exactly what the training-time inference pipeline predicts; its folder runs
 * outside the repository with plain `node`; and an unpersisted inference input cannot be packaged.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import { MlflowClient } from '../../src/mlflow/client.js';
import type { LoggedModel, ModelVersion } from '../../src/mlflow/types.js';
import { extractPipelineArtifacts } from '../../src/model/artifacts.js';
import { UnpersistedArtifactError } from '../../src/model/errors.js';
import { loadModel, resolveModelDir } from '../../src/model/load-model.js';
import {
  logPipelineModel,
  publishLoggedModel,
  TAG_PACKAGING_KEY,
} from '../../src/model/log-model.js';
import type { MLmodel } from '../../src/model/mlmodel.js';
import { isPipelineMl, pipelineMl, type PipelineML } from '../../src/model/pipeline-ml.js';
import { node, pipeline } from '../../src/pipeline/index.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { Session } from '../../src/session.js';
import { startTraining } from '../../src/temporal/client.js';
import type { TrainingResult } from '../../src/temporal/types.js';
import { copyExampleProject } from '../support/example-model.js';
import { repoRoot, services } from '../support/services.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

// A private copy: other test files train the example at the same time.
const exampleDir = copyExampleProject();
const REGISTERED_NAME = 'support-ticket-router';
const run = promisify(execFile);

interface Answer {
  ticket_id: string;
  team: string;
  confidence: number;
  needs_review: boolean;
}

let harness: TemporalHarness;
let mlflow: MlflowClient;
let result: TrainingResult;
let runId: string;
let experimentId: string;
let session: Session;
let tickets: Record<string, unknown>[];
/** What the training-time inference pipeline answers on the 600 training tickets. */
let expected: Answer[];
let cacheDir: string;

async function modelsOfRun(): Promise<LoggedModel[]> {
  const models: LoggedModel[] = [];
  for await (const model of mlflow.loggedModels.searchAll({
    experimentIds: [experimentId],
    filter: `source_run_id = '${runId}'`,
  }))
    models.push(model);
  return models;
}

/** Runs the example's inference pipeline in this process on the artifacts training wrote. */
async function trainingTimeAnswers(records: readonly Record<string, unknown>[]): Promise<Answer[]> {
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered))
    throw new Error('the example __default__ pipeline should be a PipelineML');
  const catalog = new DataCatalog(
    {
      vocabulary: new MemoryDataset({ data: await session.catalog.load('vocabulary') }),
      classifier: new MemoryDataset({ data: await session.catalog.load('classifier') }),
      instances: new MemoryDataset({ data: records }),
    },
    session.catalog.parameters as Record<string, unknown>,
  );
  const { freeOutputs } = await runPipelineLocally({
    pipeline: registered.inference,
    catalog,
    run: {
      runId: 'training-time',
      pipelineName: 'inference',
      env: 'local',
      projectDir: exampleDir,
      runtimeParams: {},
    },
  });
  return freeOutputs.answers as Answer[];
}

beforeAll(async () => {
  mlflow = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
  harness = await startHarness({ projectDir: exampleDir });
  const handle = await startTraining(harness.client, {
    taskQueue: harness.taskQueue,
    nodeDefaults: fastNodeDefaults,
  });
  result = await handle.result();
  runId = result.mlflowRunId!;
  experimentId = (await mlflow.runs.get(runId)).info.experiment_id;
  session = await Session.open({ projectDir: exampleDir });
  tickets = (await session.catalog.load('instances')) as Record<string, unknown>[];
  expected = await trainingTimeAnswers(tickets);
  cacheDir = await mkdtemp(join(tmpdir(), 'tm-model-cache-'));
}, 180_000);

afterAll(async () => {
  await harness?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe('the example trained on Temporal', () => {
  it('logs exactly one READY model under the run, linked to it through runs/outputs', async () => {
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    expect(result.model).toBeDefined();
    const models = await modelsOfRun();
    expect(
      models.map((model) => [model.info.model_id, model.info.name, model.info.status]),
    ).toEqual([[result.model!.modelId, 'model', 'LOGGED_MODEL_READY']]);
    expect(models[0]!.info.source_run_id).toBe(runId);
    expect(result.model!.modelUri).toBe(`models:/${result.model!.modelId}`);
    expect(result.model!.runModelUri).toBe(`runs:/${runId}/model`);

    // The REST view the MLflow UI reads: GET runs/get lists the model among the run's outputs.
    const response = await fetch(`${mlflow.trackingUri}/api/2.0/mlflow/runs/get?run_id=${runId}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      run: {
        info: { status: string };
        outputs?: { model_outputs?: { model_id: string; step: number | string }[] };
      };
    };
    expect(body.run.info.status).toBe('FINISHED');
    expect(body.run.outputs?.model_outputs?.map((output) => output.model_id)).toEqual([
      result.model!.modelId,
    ]);
    expect(Number(body.run.outputs!.model_outputs![0]!.step)).toBe(0);

    // The model's folder in its artifact location is a complete MLflow model.
    const files = (
      await mlflow.artifacts.listArtifacts(models[0]!.info.artifact_uri, undefined, {
        recursive: true,
      })
    )
      .filter((f) => !f.isDir)
      .map((f) => f.path);
    for (const file of [
      'MLmodel',
      'environment/package.json',
      'artifacts/parameters.json',
      'input_example.json',
      'serving_input_example.json',
      'requirements.txt',
      'python_env.yaml',
      'conda.yaml',
    ]) {
      expect(files).toContain(file);
    }
    expect(files.filter((file) => /^code\/pipeline-[0-9a-f]{16}\.mjs$/.test(file))).toHaveLength(1);
    expect(files.some((file) => file.startsWith('artifacts/vocabulary/'))).toBe(true);
    expect(files.some((file) => file.startsWith('artifacts/classifier/'))).toBe(true);

    // MLflow 3 shows a model's params and metrics on its page: the run's are linked to the model.
    const modelResponse = await fetch(
      `${mlflow.trackingUri}/api/2.0/mlflow/logged-models/${result.model!.modelId}`,
    );
    const logged = (await modelResponse.json()) as {
      model: {
        data?: { params?: { key: string }[]; metrics?: { key: string; model_id?: string }[] };
      };
    };
    const runData = (await mlflow.runs.get(runId)).data;
    expect((logged.model.data?.params ?? []).map((p) => p.key).sort()).toEqual(
      (runData.params ?? []).map((p) => p.key).sort(),
    );
    expect((runData.metrics ?? []).length).toBeGreaterThan(0);
    expect((logged.model.data?.metrics ?? []).map((m) => m.key).sort()).toEqual(
      [...new Set((runData.metrics ?? []).map((m) => m.key))].sort(),
    );
  });

  it('registers one version of support-ticket-router from models:/<model_id> and moves the champion alias to it', async () => {
    const versions: ModelVersion[] = [];
    for await (const version of mlflow.registry.searchAllModelVersions({
      filter: `name = '${REGISTERED_NAME}'`,
    })) {
      if (
        version.model_id === result.model!.modelId ||
        version.source === `models:/${result.model!.modelId}`
      )
        versions.push(version);
    }
    expect(versions).toHaveLength(1);
    const version = versions[0]!;
    expect(version.source).toBe(`models:/${result.model!.modelId}`);
    expect(version.run_id).toBe(runId);
    expect(result.model!.registeredModelName).toBe(REGISTERED_NAME);
    expect(result.model!.registeredModelVersion).toBe(version.version);

    const champion = await mlflow.registry.getModelVersionByAlias(REGISTERED_NAME, 'champion');
    // Another training of the example (a concurrent test file) may move the alias on after ours,
    // never back: it points at our version or at a newer one from another run.
    if (champion.version === version.version) {
      expect(champion.source).toBe(`models:/${result.model!.modelId}`);
    } else {
      expect(Number(champion.version)).toBeGreaterThan(Number(version.version));
      expect(champion.run_id).not.toBe(runId);
    }
  });

  it('loads by every URI form, and each predicts exactly what the training-time inference pipeline predicts on the 600 tickets', async () => {
    expect(tickets).toHaveLength(600);
    expect(expected).toHaveLength(600);
    // The answers are not trivial: several teams, and both sides of the review threshold.
    expect(new Set(expected.map((answer) => answer.team)).size).toBeGreaterThan(1);
    expect(new Set(expected.map((answer) => answer.needs_review))).toEqual(new Set([true, false]));

    const modelId = result.model!.modelId;
    const version = result.model!.registeredModelVersion!;
    const uris = [
      `runs:/${runId}/model`,
      `models:/${modelId}`,
      `models:/${REGISTERED_NAME}/${version}`,
      `models:/${REGISTERED_NAME}@champion`,
    ];
    for (const uri of uris) {
      const model = await loadModel(uri, { client: mlflow, cacheDir });
      expect(model.metadata.modelUri).toBe(uri);
      if (!uri.endsWith('@champion'))
        expect(model.metadata).toMatchObject({
          modelId,
          runId,
          inputName: 'instances',
          outputs: ['answers'],
        });
      expect({ uri, answers: await model.predict(tickets) }).toEqual({ uri, answers: expected });
    }
    // The remote forms downloaded into the cache, by model id; the cached folder loads as a local path.
    const cached = join(cacheDir, modelId);
    expect(await resolveModelDir(`models:/${modelId}`, { client: mlflow, cacheDir })).toBe(cached);
    const local = await loadModel(cached);
    expect(local.metadata.modelId).toBe(modelId);
    expect(await local.predict(tickets)).toEqual(expected);
    // Same answers as the training-time inference pipeline on records it never saw in training, too.
    const fresh = [
      {
        ticket_id: 'NEW-1',
        subject: 'Charged twice',
        body: 'I was charged twice for my order, please refund the payment.',
      },
      {
        ticket_id: 'NEW-2',
        subject: 'App crashes',
        body: 'The app crashes when I open settings since the update.',
      },
    ];
    expect(await local.predict(fresh)).toEqual(await trainingTimeAnswers(fresh));
  });

  it('runs the copied model folder outside the repository in a plain node process, without the project node_modules', async () => {
    const source = await resolveModelDir(`models:/${result.model!.modelId}`, {
      client: mlflow,
      cacheDir,
    });
    const outside = await mkdtemp(join(tmpdir(), 'tm-model-outside-'));
    try {
      expect(relative(repoRoot, outside).startsWith('..')).toBe(true);
      const modelDir = join(outside, 'model');
      await cp(source, modelDir, { recursive: true });

      const mlmodel = parse(await readFile(join(modelDir, 'MLmodel'), 'utf8')) as MLmodel;
      const bundle = mlmodel.flavors.temporal_mlflow.bundle;
      expect(bundle).toMatch(/^code\/pipeline-[0-9a-f]{16}\.mjs$/);
      // This example needs no native package: the environment lists no externals to install.
      const environment = JSON.parse(
        await readFile(join(modelDir, 'environment', 'package.json'), 'utf8'),
      ) as { dependencies?: Record<string, string> };
      expect(environment.dependencies ?? {}).toEqual({});

      await writeFile(join(outside, 'tickets.json'), JSON.stringify(tickets));
      await writeFile(
        join(modelDir, 'predict.mjs'),
        [
          `import { readFileSync, writeFileSync } from 'node:fs';`,
          `import { load } from './${bundle}';`,
          `const model = await load(process.cwd());`,
          `const records = JSON.parse(readFileSync('../tickets.json', 'utf8'));`,
          `writeFileSync('../answers.json', JSON.stringify(await model.predict(records)));`,
          `writeFileSync('../flagged.json', JSON.stringify(await model.predict(records, { min_confidence: 0.999999 })));`,
        ].join('\n'),
      );
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: outside };
      const { stderr } = await run(process.execPath, ['predict.mjs'], {
        cwd: modelDir,
        env,
        timeout: 60_000,
      });
      expect(stderr).toBe('');
      const answers = JSON.parse(await readFile(join(outside, 'answers.json'), 'utf8')) as Answer[];
      expect(answers).toEqual(expected);
      const flagged = JSON.parse(await readFile(join(outside, 'flagged.json'), 'utf8')) as Answer[];
      const inProcess = await (
        await loadModel(source)
      ).predict(tickets, { min_confidence: 0.999999 });
      expect(flagged).toEqual(inProcess);

      // And it really resolves nothing from a node_modules: importing a package the project has fails there.
      const probe = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import('yaml').then(() => console.log('found'), () => console.log('missing'))`,
        ],
        { cwd: modelDir, env },
      );
      expect(probe.stdout.trim()).toBe('missing');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('publishing a logged model again', () => {
  it('finishes a model whose earlier attempt was killed after linking it to the run, linking it once', async () => {
    const experiment = await mlflow.experiments.getOrCreate('temporal-mlflow-integration-tests');
    const ownRun = await mlflow.runs.create({
      experimentId: experiment.experiment_id,
      runName: 'publish-retry',
    });
    const created = await mlflow.loggedModels.create({
      experimentId: experiment.experiment_id,
      name: 'model',
      sourceRunId: ownRun.info.run_id,
    });
    const modelDir = await mkdtemp(join(tmpdir(), 'tm-publish-'));
    try {
      await writeFile(join(modelDir, 'MLmodel'), 'artifact_path: model\nflavors: {}\n');
      // The killed attempt: uploaded and linked, never finalized.
      await mlflow.artifacts.uploadDirectory(created.info.artifact_uri, modelDir);
      await mlflow.runs.logOutputs(ownRun.info.run_id, [
        { model_id: created.info.model_id, step: 0 },
      ]);

      const ready = await publishLoggedModel({
        client: mlflow,
        model: created,
        runId: ownRun.info.run_id,
        modelDir,
      });
      expect(ready.info.status).toBe('LOGGED_MODEL_READY');
      const linked = (await mlflow.runs.get(ownRun.info.run_id)).outputs?.model_outputs?.map(
        (output) => output.model_id,
      );
      expect(linked).toEqual([created.info.model_id]);
    } finally {
      await rm(modelDir, { recursive: true, force: true });
      await mlflow.runs.end(ownRun.info.run_id, 'FINISHED');
    }
  });
});

describe('packaging the same run again (a retried activity)', () => {
  it('reuses the model and version of an attempt that finished, and finishes a model an attempt only created', async () => {
    const experiment = await mlflow.experiments.getOrCreate('temporal-mlflow-integration-tests');
    const registered = session.pipeline('__default__');
    if (!isPipelineMl(registered)) throw new Error('the example should be a PipelineML');
    const registeredModelName = `packaging-retry-${Date.now()}`;
    const packageRun = async (ownRunId: string, packagingKey: string) =>
      logPipelineModel({
        session,
        client: mlflow,
        pipelineName: '__default__',
        pipelineMl: registered,
        runId: ownRunId,
        packagingKey,
        registeredModelName,
        alias: 'champion',
      });
    const versionsOf = async (ownRunId: string): Promise<ModelVersion[]> => {
      const versions: ModelVersion[] = [];
      for await (const version of mlflow.registry.searchAllModelVersions({
        filter: `name = '${registeredModelName}' AND run_id = '${ownRunId}'`,
      }))
        versions.push(version);
      return versions;
    };
    const modelsOf = async (ownRunId: string): Promise<LoggedModel[]> => {
      const models: LoggedModel[] = [];
      for await (const model of mlflow.loggedModels.searchAll({
        experimentIds: [experiment.experiment_id],
        filter: `source_run_id = '${ownRunId}'`,
      }))
        models.push(model);
      return models;
    };
    const finished = await mlflow.runs.create({
      experimentId: experiment.experiment_id,
      runName: 'packaging-retry',
    });
    const interrupted = await mlflow.runs.create({
      experimentId: experiment.experiment_id,
      runName: 'packaging-interrupted',
    });
    try {
      // The registered model does not exist yet: the first version creates it.
      const first = await packageRun(finished.info.run_id, 'attempt-key');
      const again = await packageRun(finished.info.run_id, 'attempt-key');
      expect(again.modelId).toBe(first.modelId);
      expect(again.registeredModelVersion).toBe(first.registeredModelVersion);
      expect((await modelsOf(finished.info.run_id)).map((m) => m.info.model_id)).toEqual([
        first.modelId,
      ]);
      expect((await versionsOf(finished.info.run_id)).map((v) => v.version)).toEqual([
        first.registeredModelVersion,
      ]);

      // An attempt killed right after creating its LoggedModel (PENDING, not linked).
      const pending = await mlflow.loggedModels.create({
        experimentId: experiment.experiment_id,
        name: registered.logModel.name,
        sourceRunId: interrupted.info.run_id,
        tags: { [TAG_PACKAGING_KEY]: 'interrupted-key' },
      });
      const resumed = await packageRun(interrupted.info.run_id, 'interrupted-key');
      expect(resumed.modelId).toBe(pending.info.model_id);
      expect((await mlflow.loggedModels.get(pending.info.model_id)).info.status).toBe(
        'LOGGED_MODEL_READY',
      );
      const outputs = (await mlflow.runs.get(interrupted.info.run_id)).outputs?.model_outputs;
      expect(outputs?.map((output) => output.model_id)).toEqual([pending.info.model_id]);
      expect(await versionsOf(interrupted.info.run_id)).toHaveLength(1);
      const loaded = await loadModel(resumed.modelUri, { client: mlflow, cacheDir });
      expect(loaded.metadata).toMatchObject({
        modelId: resumed.modelId,
        runId: interrupted.info.run_id,
      });
      expect(await loaded.predict(tickets.slice(0, 3))).toEqual(expected.slice(0, 3));
    } finally {
      await mlflow.runs.end(finished.info.run_id, 'FINISHED');
      await mlflow.runs.end(interrupted.info.run_id, 'FINISHED');
      await mlflow.registry.deleteRegisteredModel(registeredModelName).catch(() => undefined);
    }
  }, 120_000);
});

describe('packaging bad input', () => {
  it('refuses an inference input held in memory, naming it and saying it must be persisted', () => {
    const fit = (rows: unknown): unknown => rows;
    const apply = (encoder: unknown, rows: unknown): unknown => [encoder, rows];
    const score = (model: unknown, encoded: unknown): unknown => [model, encoded];
    const small: PipelineML = pipelineMl({
      training: pipeline([
        node(fit, { inputs: 'rows', outputs: 'encoder', name: 'fit_encoder' }),
        node(fit, { inputs: 'rows', outputs: 'model', name: 'fit_model' }),
      ]),
      inference: pipeline([
        node(apply, { inputs: ['encoder', 'rows'], outputs: 'encoded', name: 'apply_encoder' }),
        node(score, { inputs: ['model', 'encoded'], outputs: 'scores', name: 'score' }),
      ]),
      inputName: 'rows',
    });
    const persistedDir = join(exampleDir, 'data', '06_models');
    const catalogConfig = {
      rows: { type: 'json.JSONDataset', filepath: 'data/rows.json' },
      model: { type: 'model.ModelStateDataset', filepath: 'data/06_models/classifier.json' },
    };
    const catalog = DataCatalog.fromConfig({
      catalog: catalogConfig,
      projectDir: exampleDir,
    }).withDatasets({
      encoder: new MemoryDataset({ data: { fitted: true } }),
    });

    const error = (() => {
      try {
        extractPipelineArtifacts(small, catalog, catalogConfig);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UnpersistedArtifactError);
    expect((error as UnpersistedArtifactError).datasets).toEqual(['encoder']);
    expect((error as Error).message).toContain(`'encoder'`);
    expect((error as Error).message).toMatch(/must be persisted/);
    expect((error as Error).message).not.toContain(`'model'`);

    // With the encoder persisted too, both artifacts are extracted (the input rows never are).
    const persisted = {
      ...catalogConfig,
      encoder: { type: 'model.ModelStateDataset', filepath: 'data/06_models/vocabulary.json' },
    };
    const full = DataCatalog.fromConfig({ catalog: persisted, projectDir: exampleDir });
    const artifacts = extractPipelineArtifacts(small, full, persisted);
    expect(
      artifacts.map((artifact) => [artifact.name, relative(persistedDir, artifact.localPath)]),
    ).toEqual([
      ['encoder', 'vocabulary.json'],
      ['model', 'classifier.json'],
    ]);
  });
});
