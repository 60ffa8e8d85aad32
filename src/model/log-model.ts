import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FLAVOR, TAG_FAILURE, TAG_PIPELINE_NAME, TAG_WORKFLOW_ID } from '../constants.js';
import type { MlflowClient } from '../mlflow/client.js';
import type { LoggedModel, ModelVersion, Run } from '../mlflow/types.js';
import { tagsToRecord } from '../mlflow/util.js';
import type { LoggedModelRef } from '../temporal/types.js';
import { ModelVerificationError } from './errors.js';
import type { PipelineML } from './pipeline-ml.js';
import { savePipelineModel, type PackagingSource } from './save-model.js';

/** Tag on the LoggedModel naming the run that packaged it: the key that makes logging exactly-once. */
export const TAG_PACKAGING_KEY = 'temporal_mlflow.packaging_key';

/** Params copied onto a LoggedModel (MLflow's page shows them; a run may have thousands). */
const MAX_MODEL_PARAMS = 500;

/**
 * Links the run's latest metrics to the model (MLflow 3 keeps metrics by model id, and shows them
 * on the model's page and in model comparisons). Logging the same value, step and time again adds
 * no point to the run's history; a retry logs them once more, harmlessly.
 */
async function linkRunMetrics(client: MlflowClient, run: Run, modelId: string): Promise<void> {
  const metrics = run.data.metrics ?? [];
  if (metrics.length === 0) return;
  await client.runs.logBatch(run.info.run_id, {
    metrics: metrics.map((metric) => ({
      key: metric.key,
      value: Number(metric.value),
      step: Number(metric.step ?? 0),
      timestamp: Number(metric.timestamp),
      modelId,
    })),
  });
}

export type PackagingStage =
  'create' | 'artifacts' | 'bundle' | 'verify' | 'upload' | 'finalize' | 'register';

export interface LogPipelineModelOptions {
  session: PackagingSource;
  client: MlflowClient;
  pipelineName: string;
  pipelineMl: PipelineML;
  runId: string;
  /** Identifies this packaging across retries (the workflow id, or the local run id). */
  packagingKey: string;
  /** Overrides of the PipelineML's `logModel` options (e.g. from the `modelify` CLI). */
  registeredModelName?: string;
  alias?: string;
  /**
   * Register the version but leave the alias where it is: the caller moves it once the run's
   * outcome is final (the training workflow does, after closing the MLflow run FINISHED).
   */
  deferAlias?: boolean;
  /** Reports each stage once done, with its duration. */
  onStage?: (stage: PackagingStage, durationMs: number) => void;
  /** Called while uploading, so an activity can heartbeat. */
  onUploadProgress?: () => void;
}

/** A LoggedModel of this run already created by an earlier attempt, if any. */
async function findPrevious(
  client: MlflowClient,
  experimentId: string,
  name: string,
  runId: string,
  key: string,
): Promise<LoggedModel | undefined> {
  const escaped = name.replace(/'/g, "\\'");
  for await (const model of client.loggedModels.searchAll({
    experimentIds: [experimentId],
    filter: `name = '${escaped}'`,
  })) {
    if (
      model.info.source_run_id === runId &&
      tagsToRecord(model.info.tags)[TAG_PACKAGING_KEY] === key
    )
      return model;
  }
  return undefined;
}

/** The registry version made from `modelId`, if an earlier attempt registered it already. */
async function findVersion(
  client: MlflowClient,
  registeredName: string,
  modelId: string,
): Promise<ModelVersion | undefined> {
  const escaped = registeredName.replace(/'/g, "\\'");
  for await (const version of client.registry.searchAllModelVersions({
    filter: `name = '${escaped}'`,
  })) {
    if (version.model_id === modelId || version.source === `models:/${modelId}`) return version;
  }
  return undefined;
}

/**
 * The end of MLflow 3's `log_model` for a PENDING LoggedModel: uploads `modelDir` to the model's
 * artifact location, links the model to the run's outputs (`runs/outputs`) and finalizes it READY.
 * Shared by `logPipelineModel` and `MlflowModelTrackingDataset`.
 */
export async function publishLoggedModel(options: {
  client: MlflowClient;
  model: LoggedModel;
  runId: string;
  modelDir: string;
  onStage?: (stage: 'upload' | 'finalize', durationMs: number) => void;
  onUploadProgress?: () => void;
}): Promise<LoggedModel> {
  const { client, model, runId } = options;
  const modelId = model.info.model_id;
  let started = performance.now();
  await client.artifacts.uploadDirectory(model.info.artifact_uri, options.modelDir, undefined, {
    concurrency: 4,
  });
  options.onUploadProgress?.();
  options.onStage?.('upload', performance.now() - started);
  started = performance.now();
  // An attempt killed between linking and finalizing linked it already, and the server refuses the
  // same link twice (UNIQUE constraint, HTTP 400): link only when the run does not list it yet.
  const linked = (await client.runs.get(runId)).outputs?.model_outputs?.some(
    (output) => output.model_id === modelId,
  );
  if (!linked) await client.runs.logOutputs(runId, [{ model_id: modelId, step: 0 }]);
  const ready = await client.loggedModels.finalize(modelId, 'LOGGED_MODEL_READY');
  options.onStage?.('finalize', performance.now() - started);
  return ready;
}

/**
 * Registers a LoggedModel as a version of `registeredName` (created when missing), reusing the
 * version an earlier attempt made from the same model, and points `alias` at it when given.
 */
export async function registerLoggedModel(
  client: MlflowClient,
  options: { registeredName: string; modelId: string; runId: string; alias?: string | undefined },
): Promise<ModelVersion> {
  const { registeredName, modelId, runId, alias } = options;
  await client.registry.getOrCreateRegisteredModel(registeredName);
  const version =
    (await findVersion(client, registeredName, modelId)) ??
    (await client.registry.createModelVersion({
      name: registeredName,
      source: `models:/${modelId}`,
      runId,
      modelId,
    }));
  if (alias) await client.registry.setAlias(registeredName, alias, version.version);
  return version;
}

/**
 * Logs the inference pipeline of a PipelineML to MLflow as MLflow 3 does: a LoggedModel with
 * `source_run_id`, its folder uploaded to the model's artifact location, linked to the run with
 * `runs/outputs`, finalized READY, then registered and aliased when asked. Idempotent: a retry
 * (after a crash at any point) finds the LoggedModel and registry version of the earlier attempt,
 * so one packaging key yields one model and at most one registry version.
 */
export async function logPipelineModel(options: LogPipelineModelOptions): Promise<LoggedModelRef> {
  const { client, pipelineMl, runId } = options;
  const name = pipelineMl.logModel.name;
  const registeredName = options.registeredModelName ?? pipelineMl.logModel.registeredModelName;
  const alias = options.alias ?? pipelineMl.logModel.alias;
  const stage = async <T>(label: PackagingStage, body: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await body();
    options.onStage?.(label, performance.now() - started);
    return result;
  };

  const run = await client.runs.get(runId);
  const experimentId = run.info.experiment_id;
  let model = await stage('create', async () => {
    const previous = await findPrevious(client, experimentId, name, runId, options.packagingKey);
    return (
      previous ??
      (await client.loggedModels.create({
        experimentId,
        name,
        sourceRunId: runId,
        modelType: MODEL_FLAVOR,
        // The model carries the run's params, as MLflow 3 shows them on the model's page.
        params: Object.fromEntries(
          (run.data.params ?? []).slice(0, MAX_MODEL_PARAMS).map((p) => [p.key, p.value]),
        ),
        tags: {
          [TAG_PACKAGING_KEY]: options.packagingKey,
          [TAG_PIPELINE_NAME]: options.pipelineName,
          [TAG_WORKFLOW_ID]: options.packagingKey,
        },
      }))
    );
  });
  const modelId = model.info.model_id;

  if (model.info.status !== 'LOGGED_MODEL_READY') {
    const modelDir = await mkdtemp(join(tmpdir(), 'temporal-mlflow-model-'));
    try {
      await savePipelineModel({
        session: options.session,
        pipelineName: options.pipelineName,
        pipelineMl,
        modelDir,
        modelId,
        runId,
        onStage: (label, ms) => options.onStage?.(label, ms),
      });
      model = await publishLoggedModel({
        client,
        model,
        runId,
        modelDir,
        onStage: (label, ms) => options.onStage?.(label, ms),
        onUploadProgress: () => options.onUploadProgress?.(),
      });
    } catch (error) {
      if (error instanceof ModelVerificationError) {
        await client.loggedModels.setTags(modelId, {
          [TAG_FAILURE]: (error as Error).message.slice(0, 5000),
        });
        await client.loggedModels.finalize(modelId, 'LOGGED_MODEL_UPLOAD_FAILED');
      }
      throw error;
    } finally {
      await rm(modelDir, { recursive: true, force: true });
    }
  }

  await linkRunMetrics(client, run, modelId);
  const ref: LoggedModelRef = {
    modelId,
    modelUri: `models:/${modelId}`,
    runModelUri: `runs:/${runId}/${name}`,
  };
  if (registeredName) {
    await stage('register', async () => {
      const version = await registerLoggedModel(client, {
        registeredName,
        modelId,
        runId,
        alias: options.deferAlias ? undefined : alias,
      });
      ref.registeredModelName = registeredName;
      ref.registeredModelVersion = version.version;
      if (alias) ref.alias = alias;
    });
  }
  return ref;
}
