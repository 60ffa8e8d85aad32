import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODEL_FLAVOR, TAG_FAILURE, TAG_PIPELINE_NAME, TAG_WORKFLOW_ID } from '../constants.js';
import type { MlflowClient } from '../mlflow/client.js';
import type { LoggedModel, ModelVersion, Run } from '../mlflow/types.js';
import { tagsToRecord } from '../mlflow/util.js';
import type { LoggedModelRef } from '../temporal/types.js';
import { MlflowAuthError, MlflowResourceNotFoundError } from '../mlflow/errors.js';
import { ModelVerificationError } from './errors.js';
import type { IntegrityManifest } from './integrity.js';
import { checkUploadedManifest, ModelUpload } from './model-upload.js';
import type { PipelineML } from './pipeline-ml.js';
import { writePipelineModel, type PackagingSource } from './save-model.js';

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
  /** Keep an esbuild context between packagings (see `SavePipelineModelOptions.warmBundler`). */
  warmBundler?: boolean;
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
  // Narrowed to the run's models by the server: the experiment may hold thousands named alike.
  for await (const model of client.loggedModels.searchAll({
    experimentIds: [experimentId],
    filter: `name = ${sqlString(name)} AND source_run_id = ${sqlString(runId)}`,
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
  runId: string,
): Promise<ModelVersion | undefined> {
  // Narrowed to the run's versions by the server: a registered model may have thousands.
  for await (const version of client.registry.searchAllModelVersions({
    filter: `name = ${sqlString(registeredName)} AND run_id = ${sqlString(runId)}`,
  })) {
    if (version.model_id === modelId || version.source === `models:/${modelId}`) return version;
  }
  return undefined;
}

/** A string literal of MLflow's search filters. */
function sqlString(value: string): string {
  return `'${value.replace(/'/g, "\\'")}'`;
}

/** Whether the run, as read, lists the model among its outputs. */
function listsModel(run: Run, modelId: string): boolean {
  return run.outputs?.model_outputs?.some((output) => output.model_id === modelId) ?? false;
}

/**
 * Links the model to the run unless the run, as read, lists it; a link made meanwhile by another
 * attempt (the server refuses a second one) is accepted.
 */
function linkUnlessRunLists(
  client: MlflowClient,
  run: Run,
  modelId: string,
): Promise<void> | undefined {
  if (listsModel(run, modelId)) return undefined;
  const runId = run.info.run_id;
  return client.runs
    .logOutputs(runId, [{ model_id: modelId, step: 0 }])
    .catch(async (error: unknown) => {
      if (!listsModel(await client.runs.get(runId), modelId)) throw error;
    });
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
  /**
   * False when the model was created by this attempt: no earlier attempt can have linked it, so
   * the link is made while the files upload instead of asking the run first. @default true
   */
  mayBeLinked?: boolean;
  /**
   * The run as this attempt read it: a model it does not list is linked while the files upload
   * (a link made meanwhile by another attempt is accepted), one it lists is not linked again.
   */
  run?: Run;
  /** An upload of this folder to this model already under way (files sent as they became final). */
  upload?: ModelUpload;
  /** The link of the model to the run, already under way: not made again. */
  linking?: Promise<unknown>;
  /** The folder's hash manifest: every file it lists must have been uploaded with its bytes. */
  manifest?: IntegrityManifest;
  /**
   * Started once every file is uploaded, while the model is finalized (registering a version:
   * MLflow's `model-versions/create` reads the model's artifact location and run, not its status).
   */
  whileFinalizing?: () => Promise<unknown>;
  onStage?: (stage: 'upload' | 'finalize', durationMs: number) => void;
  onUploadProgress?: () => void;
}): Promise<LoggedModel> {
  const { client, model, runId, modelDir } = options;
  const modelId = model.info.model_id;
  const link = (): Promise<void> => client.runs.logOutputs(runId, [{ model_id: modelId, step: 0 }]);
  // An attempt killed between linking and finalizing linked it already, and the server refuses
  // the same link twice (UNIQUE constraint, HTTP 400): link only when the run does not list it.
  const linkUnlessListed = async (): Promise<void> => {
    if (!listsModel(await client.runs.get(runId), modelId)) await link();
  };
  let started = performance.now();
  const linking =
    options.linking ??
    (options.mayBeLinked === false
      ? link()
      : options.run
        ? linkUnlessRunLists(client, options.run, modelId)
        : undefined);
  const upload =
    options.upload ??
    new ModelUpload({
      client,
      artifactUri: model.info.artifact_uri,
      modelDir,
      ...(options.onUploadProgress ? { onProgress: options.onUploadProgress } : {}),
    });
  // Settled together: a failed link is not left unhandled while the upload runs.
  const [uploaded, linked] = await Promise.allSettled([upload.complete(), linking]);
  if (uploaded.status === 'rejected') throw uploaded.reason;
  if (linked.status === 'rejected') throw linked.reason;
  if (options.manifest) checkUploadedManifest(modelDir, options.manifest, uploaded.value);
  options.onUploadProgress?.();
  options.onStage?.('upload', performance.now() - started);
  started = performance.now();
  if (!linking && !options.run) await linkUnlessListed();
  const finalizing = client.loggedModels.finalize(modelId, 'LOGGED_MODEL_READY').then((ready) => {
    options.onStage?.('finalize', performance.now() - started);
    return ready;
  });
  const [ready, alongside] = await Promise.allSettled([finalizing, options.whileFinalizing?.()]);
  if (ready.status === 'rejected') throw ready.reason;
  if (alongside.status === 'rejected') throw alongside.reason;
  return ready.value;
}

/**
 * Registers a LoggedModel as a version of `registeredName` (created when missing), reusing the
 * version an earlier attempt made from the same model, and points `alias` at it when given.
 */
export async function registerLoggedModel(
  client: MlflowClient,
  options: {
    registeredName: string;
    modelId: string;
    runId: string;
    alias?: string | undefined;
    /**
     * False when the model was created by this attempt: no version of it can exist yet, so the
     * registry is not searched. @default true
     */
    mayBeRegistered?: boolean;
  },
): Promise<ModelVersion> {
  const { registeredName, modelId, runId, alias } = options;
  const version =
    (options.mayBeRegistered === false
      ? undefined
      : await findVersion(client, registeredName, modelId, runId)) ??
    (await createVersion(client, registeredName, modelId, runId));
  if (alias) await client.registry.setAlias(registeredName, alias, version.version);
  return version;
}

/**
 * A new version of `registeredName` from `models:/<modelId>`: one call when the registered model
 * exists (every training after the first), which is created first when the server says it is
 * missing. A server with authentication says 403, not 404, for a registered model that does not
 * exist yet (no permission can be found for it): that too gets the create-then-retry, and a real
 * denial is then raised by the retry.
 */
async function createVersion(
  client: MlflowClient,
  registeredName: string,
  modelId: string,
  runId: string,
): Promise<ModelVersion> {
  const create = (): Promise<ModelVersion> =>
    client.registry.createModelVersion({
      name: registeredName,
      source: `models:/${modelId}`,
      runId,
      modelId,
    });
  try {
    return await create();
  } catch (error) {
    if (!(error instanceof MlflowResourceNotFoundError || error instanceof MlflowAuthError))
      throw error;
  }
  await client.registry.getOrCreateRegisteredModel(registeredName);
  return create();
}

/**
 * The experiment of the run last packaged on each tracking server (see the `create` stage): a
 * worker opens sessions (and clients) per run parameters, and packages into one experiment.
 */
const lastExperiment = new Map<string, string>();

/** The LoggedModel this packaging logs to: an earlier attempt's, else a new PENDING one. */
interface PackagedModel {
  run: Run;
  model: LoggedModel;
  /** Created by this attempt (so neither linked to the run nor registered yet). */
  created: boolean;
}

/**
 * Logs the inference pipeline of a PipelineML to MLflow as MLflow 3 does: a LoggedModel with
 * `source_run_id`, its folder uploaded to the model's artifact location, linked to the run with
 * `runs/outputs`, finalized READY, then registered and aliased when asked. Idempotent: a retry
 * (after a crash at any point) finds the LoggedModel and registry version of the earlier attempt,
 * so one packaging key yields one model and at most one registry version.
 *
 * Independent steps overlap: the model folder is written (bundle, verification) while the run is
 * read, an earlier attempt's model searched and the LoggedModel created; files final early (the
 * bundle, the artifacts) upload while the model is verified, the rest in one concurrent wave; the
 * model is linked to the run and the run's metrics to the model as soon as it exists (as MLflow's
 * log_model does); the version is registered while the model is finalized. integrity.json is
 * checked against the uploaded bytes.
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

  const modelDir = await mkdtemp(join(tmpdir(), 'temporal-mlflow-model-'));
  const packaged = stage('create', async (): Promise<PackagedModel> => {
    // The run's experiment is most likely the one this client packaged in last: an earlier
    // attempt's model is searched there while the run is read, and searched again only if the
    // run turns out to be elsewhere.
    const guess = lastExperiment.get(client.trackingUri);
    const search = (experimentId: string): Promise<LoggedModel | undefined> =>
      findPrevious(client, experimentId, name, runId, options.packagingKey);
    const [read, guessed] = await Promise.allSettled([
      client.runs.get(runId),
      guess === undefined ? undefined : search(guess),
    ]);
    if (read.status === 'rejected') throw read.reason;
    const run = read.value;
    const experimentId = run.info.experiment_id;
    lastExperiment.set(client.trackingUri, experimentId);
    let previous: LoggedModel | undefined;
    if (guess !== experimentId) previous = await search(experimentId);
    else if (guessed.status === 'rejected') throw guessed.reason;
    else previous = guessed.value;
    if (previous) return { run, model: previous, created: false };
    const model = await client.loggedModels.create({
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
    });
    return { run, model, created: true };
  });
  // Files final before the folder is (the bundle, the artifacts) upload as soon as the model
  // exists, while the model is verified; none is sent to a model an earlier attempt finished.
  const finalFiles: string[] = [];
  let upload: ModelUpload | undefined;
  // As MLflow's log_model does, the model is linked to the run, and the run's metrics to the
  // model, as soon as it exists: while its folder is verified and uploaded, not after.
  let linking: Promise<unknown> | undefined;
  const uploading = packaged.then(
    ({ model: found, run: read, created: fresh }) => {
      if (found.info.status === 'LOGGED_MODEL_READY') return;
      const modelId = found.info.model_id;
      linking = Promise.all([
        fresh
          ? client.runs.logOutputs(runId, [{ model_id: modelId, step: 0 }])
          : linkUnlessRunLists(client, read, modelId),
        linkRunMetrics(client, read, modelId),
      ]);
      // Awaited below; until then a failure must not count as unhandled.
      linking.catch(() => undefined);
      upload = new ModelUpload({
        client,
        artifactUri: found.info.artifact_uri,
        modelDir,
        onProgress: () => options.onUploadProgress?.(),
      });
      upload.add(finalFiles);
    },
    () => undefined,
  );

  const ref: LoggedModelRef = { modelId: '', modelUri: '', runModelUri: `runs:/${runId}/${name}` };
  let run: Run | undefined;
  /**
   * Registers the model (once its files are uploaded), linking the run's metrics to it unless that
   * is under way already.
   */
  const registerModel = (modelId: string): Promise<unknown> =>
    Promise.all([
      linking ? undefined : linkRunMetrics(client, run!, modelId),
      registeredName
        ? stage('register', async () => {
            const version = await registerLoggedModel(client, {
              registeredName,
              modelId,
              runId,
              alias: options.deferAlias ? undefined : alias,
              mayBeRegistered: !created,
            });
            ref.registeredModelName = registeredName;
            ref.registeredModelVersion = version.version;
            if (alias) ref.alias = alias;
          })
        : undefined,
    ]);
  let model: LoggedModel;
  let created = false;
  try {
    const saving = writePipelineModel({
      session: options.session,
      // A worker packaging an unchanged project run after run verifies it once.
      reuseVerification: true,
      pipelineName: options.pipelineName,
      pipelineMl,
      modelDir,
      modelId: packaged.then((found) => found.model.info.model_id),
      runId,
      onStage: (label, ms) => options.onStage?.(label, ms),
      ...(options.warmBundler ? { warmBundler: true } : {}),
      onFilesFinal: (files) => {
        finalFiles.push(...files);
        upload?.add(files);
      },
    });
    // Both settle before going on: neither failure is left unhandled.
    const [found, saved] = await Promise.allSettled([packaged, saving]);
    await uploading;
    if (found.status === 'rejected') throw found.reason;
    ({ run, model, created } = found.value);
    // A model an earlier attempt finished is kept as it is (this attempt's folder is dropped).
    if (model.info.status === 'LOGGED_MODEL_READY') {
      await registerModel(model.info.model_id);
    } else {
      if (saved.status === 'rejected') {
        if (saved.reason instanceof ModelVerificationError) {
          await upload?.settled();
          await linking?.catch(() => undefined);
          await client.loggedModels.setTags(model.info.model_id, {
            [TAG_FAILURE]: (saved.reason as Error).message.slice(0, 5000),
          });
          await client.loggedModels.finalize(model.info.model_id, 'LOGGED_MODEL_UPLOAD_FAILED');
        }
        throw saved.reason;
      }
      const modelId = model.info.model_id;
      model = await publishLoggedModel({
        client,
        model,
        runId,
        modelDir,
        mayBeLinked: !created,
        run,
        ...(upload ? { upload } : {}),
        ...(linking ? { linking } : {}),
        manifest: saved.value.manifest,
        whileFinalizing: () => registerModel(modelId),
        onStage: (label, ms) => options.onStage?.(label, ms),
        onUploadProgress: () => options.onUploadProgress?.(),
      });
    }
  } finally {
    // No upload may still read the folder once it is removed; no link is left running.
    await upload?.settled();
    await linking?.catch(() => undefined);
    await rm(modelDir, { recursive: true, force: true });
  }

  ref.modelId = model.info.model_id;
  ref.modelUri = `models:/${model.info.model_id}`;
  return ref;
}
