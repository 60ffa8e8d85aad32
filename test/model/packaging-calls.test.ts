/**
 * Packaging with overlapping MLflow calls, against the real MLflow server: the run's experiment is
 * guessed from the last packaging (an earlier attempt's model is still found when the guess is
 * wrong), the files are uploaded as integrity.json records them, and the version registered while
 * the model is finalized links the run and the model id.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import type { LoggedModel } from '../../src/mlflow/types.js';
import { tagsToRecord } from '../../src/mlflow/util.js';
import type { IntegrityManifest } from '../../src/model/integrity.js';
import { logPipelineModel, TAG_PACKAGING_KEY } from '../../src/model/log-model.js';
import type { PipelineML } from '../../src/model/pipeline-ml.js';
import type { Session } from '../../src/session.js';
import { copyExampleProject, fitExampleArtifacts } from '../support/example-model.js';
import { MlflowProxy } from '../support/mlflow-proxy.js';
import { services } from '../support/services.js';

const projectDir = copyExampleProject();
const suffix = `${Date.now()}-${process.pid}`;
let mlflow: MlflowClient;
let session: Session;
let registered: PipelineML;
const registeredModelName = `packaging-calls-${suffix}`;

beforeAll(async () => {
  mlflow = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
  ({ session, registered } = await fitExampleArtifacts(projectDir));
}, 120_000);

afterAll(async () => {
  await mlflow?.registry.deleteRegisteredModel(registeredModelName).catch(() => undefined);
});

async function modelsOf(experimentId: string, runId: string): Promise<LoggedModel[]> {
  const models: LoggedModel[] = [];
  for await (const model of mlflow.loggedModels.searchAll({
    experimentIds: [experimentId],
    filter: `source_run_id = '${runId}'`,
  }))
    models.push(model);
  return models;
}

describe('packaging with overlapping MLflow calls', () => {
  it('resumes an earlier attempt of a run in another experiment than the last packaged, registers it linked to run and model, uploading what integrity.json records', async () => {
    const first = await mlflow.experiments.getOrCreate(`packaging-calls-a-${suffix}`);
    const second = await mlflow.experiments.getOrCreate(`packaging-calls-b-${suffix}`);
    const runA = await mlflow.runs.create({ experimentId: first.experiment_id });
    const runB = await mlflow.runs.create({ experimentId: second.experiment_id });
    const cacheDir = await mkdtemp(join(tmpdir(), 'tm-calls-'));
    try {
      const pack = (runId: string, packagingKey: string) =>
        logPipelineModel({
          session,
          client: mlflow,
          pipelineName: '__default__',
          pipelineMl: registered,
          runId,
          packagingKey,
          registeredModelName,
          deferAlias: true,
        });
      // This client last packaged in the first experiment...
      await pack(runA.info.run_id, 'key-a');
      // ...and an attempt for a run of the second one was killed right after creating its model.
      const pending = await mlflow.loggedModels.create({
        experimentId: second.experiment_id,
        name: registered.logModel.name,
        sourceRunId: runB.info.run_id,
        tags: { [TAG_PACKAGING_KEY]: 'key-b' },
      });
      const resumed = await pack(runB.info.run_id, 'key-b');

      expect(resumed.modelId).toBe(pending.info.model_id);
      expect(
        (await modelsOf(second.experiment_id, runB.info.run_id)).map((m) => m.info.model_id),
      ).toEqual([pending.info.model_id]);
      const ready = await mlflow.loggedModels.get(resumed.modelId);
      expect(ready.info.status).toBe('LOGGED_MODEL_READY');

      const version = await mlflow.registry.getModelVersion(
        registeredModelName,
        resumed.registeredModelVersion!,
      );
      // MLflow 3.17 answers a version without model_id: the source names the model, and the
      // model lists its versions in its mlflow.modelVersions tag.
      expect(version).toMatchObject({
        source: `models:/${resumed.modelId}`,
        run_id: runB.info.run_id,
      });
      const tags = tagsToRecord((await mlflow.loggedModels.get(resumed.modelId)).info.tags);
      expect(tags['mlflow.modelVersions']).toContain(registeredModelName);

      // Every file integrity.json lists is stored with the bytes it records.
      const dir = join(cacheDir, 'model');
      await mlflow.artifacts.downloadDirectory(ready.info.artifact_uri, undefined, dir);
      const manifest = JSON.parse(
        await readFile(join(dir, 'integrity.json'), 'utf8'),
      ) as IntegrityManifest;
      expect(Object.keys(manifest.files).length).toBeGreaterThan(5);
      for (const [file, hash] of Object.entries(manifest.files))
        expect([
          file,
          createHash('sha256')
            .update(await readFile(join(dir, file)))
            .digest('hex'),
        ]).toEqual([file, hash]);
    } finally {
      await mlflow.runs.end(runA.info.run_id, 'FINISHED');
      await mlflow.runs.end(runB.info.run_id, 'FINISHED');
      await rm(cacheDir, { recursive: true, force: true });
    }
  }, 120_000);

  it("links the model to the run and the run's metrics to the model while the folder is uploaded, as MLflow's log_model does", async () => {
    const experiment = await mlflow.experiments.getOrCreate(`packaging-calls-a-${suffix}`);
    const run = await mlflow.runs.create({ experimentId: experiment.experiment_id });
    await mlflow.runs.logBatch(run.info.run_id, {
      metrics: [{ key: 'accuracy', value: 0.75, step: 0 }],
    });
    const proxy = new MlflowProxy();
    const seen: string[] = [];
    proxy.rule = (request) => {
      seen.push(`${request.method} ${request.url}`);
      return 'forward';
    };
    try {
      const ref = await logPipelineModel({
        session,
        client: new MlflowClient({ trackingUri: await proxy.start() }),
        pipelineName: '__default__',
        pipelineMl: registered,
        runId: run.info.run_id,
        packagingKey: `early-links-${suffix}`,
        registeredModelName,
        deferAlias: true,
      });
      const at = (pattern: RegExp): number => seen.findIndex((call) => pattern.test(call));
      const mlmodelUpload = at(/^PUT .*\/artifacts\/MLmodel$/);
      expect(mlmodelUpload).toBeGreaterThan(0);
      expect(at(/runs\/outputs/)).toBeGreaterThan(-1);
      expect(at(/runs\/outputs/)).toBeLessThan(mlmodelUpload);
      expect(at(/runs\/log-batch/)).toBeGreaterThan(-1);
      expect(at(/runs\/log-batch/)).toBeLessThan(mlmodelUpload);
      const linked = await mlflow.runs.get(run.info.run_id);
      expect(linked.outputs?.model_outputs?.map((output) => output.model_id)).toEqual([
        ref.modelId,
      ]);
      const model = await mlflow.loggedModels.get(ref.modelId);
      expect(model.info.status).toBe('LOGGED_MODEL_READY');
      expect(model.data?.metrics?.map((metric) => [metric.key, metric.value])).toEqual([
        ['accuracy', 0.75],
      ]);
    } finally {
      await proxy.stop();
      await mlflow.runs.end(run.info.run_id, 'FINISHED');
    }
  }, 120_000);
});
