/**
 * `MlflowModelTrackingDataset` (kedro-mlflow's): a save logs a packaged model folder to the active
 * MLflow run (or `run_id`) as MLflow 3 does — a LoggedModel with `source_run_id`, the folder
 * uploaded to its artifact location, linked with `runs/outputs`, finalized READY — and registers
 * it when `save_args.registered_model_name` is set. A load returns the model of `model_uri` or,
 * without it, the model this dataset saved last (kedro-mlflow's `_last_saved_model_uri`).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { DEFAULT_MODEL_NAME, MODEL_FLAVOR, TAG_PIPELINE_NAME } from '../../constants.js';
import { parseDatasetConfig } from '../../datasets/config-schema.js';
import { DatasetConfigError, type DatasetOperation } from '../../datasets/errors.js';
import type { DatasetFactory } from '../../datasets/types.js';
import {
  AbstractMlflowDataset,
  type MlflowClientProvider,
  type MlflowDatasetOptions,
} from '../../mlflow/datasets/base.js';
import { MlflowResourceNotFoundError } from '../../mlflow/errors.js';
import { loadModel, parseModelUri, resolveModelId, type LoadModelOptions } from '../load-model.js';
import { publishLoggedModel, registerLoggedModel } from '../log-model.js';
import { writeMLmodel } from '../mlmodel.js';
import type { PipelineModel } from '../runtime.js';
import { modelFolderOf, type ModelDatasetInput } from './common.js';

export interface MlflowModelTrackingDatasetOptions extends MlflowDatasetOptions {
  /** The LoggedModel's name: `runs:/<run>/<modelName>` resolves to it. @default 'model' */
  modelName?: string | undefined;
  /** Register each saved model as a new version of this registered model. */
  registeredModelName?: string | undefined;
  /** Point this alias of the registered model at the new version (needs `registeredModelName`). */
  alias?: string | undefined;
  /** Load this model (any `loadModel` URI) instead of the last one saved; the dataset is then read-only. */
  modelUri?: string | undefined;
  /** Where downloaded models are cached. @default loadModel's */
  cacheDir?: string | undefined;
}

/** What the last save logged. */
export interface SavedModelInfo {
  modelId: string;
  modelUri: string;
  runId: string;
  registeredModelVersion?: string;
}

export class MlflowModelTrackingDataset extends AbstractMlflowDataset<PipelineModel> {
  readonly type: string = 'mlflow.MlflowModelTrackingDataset';
  readonly modelName: string;
  readonly registeredModelName: string | undefined;
  readonly alias: string | undefined;
  readonly modelUri: string | undefined;
  readonly cacheDir: string | undefined;
  #lastSaved: SavedModelInfo | undefined;

  constructor(options: MlflowModelTrackingDatasetOptions) {
    super(options);
    this.modelName = options.modelName ?? DEFAULT_MODEL_NAME;
    this.registeredModelName = options.registeredModelName;
    this.alias = options.alias;
    this.modelUri = options.modelUri;
    this.cacheDir = options.cacheDir;
    if (this.alias && !this.registeredModelName) {
      throw this.error(
        "'alias' needs 'registered_model_name': only a registered model has aliases",
      );
    }
    if (this.modelUri) {
      try {
        parseModelUri(this.modelUri);
      } catch (error) {
        throw this.error(`invalid model_uri: ${(error as Error).message}`, undefined, error);
      }
    }
  }

  /** What the last save of this instance logged, if any. */
  get lastSaved(): SavedModelInfo | undefined {
    return this.#lastSaved;
  }

  /** Logs a model folder (path) or a `PipelineModel` loaded from one. */
  override save(data: ModelDatasetInput): Promise<void> {
    return super.save(data as PipelineModel);
  }

  /** The URI a load reads: `model_uri`, else the last saved model; throws when there is neither. */
  currentModelUri(operation: DatasetOperation = 'load'): string {
    const uri = this.modelUri ?? this.#lastSaved?.modelUri;
    if (!uri) {
      throw this.error(
        "no model to load: set 'model_uri' (runs:/<run>/<name>, models:/<model_id>, models:/<name>/<version>, " +
          'models:/<name>@<alias> or a folder), or save a model with this dataset first',
        operation,
      );
    }
    return uri;
  }

  protected async doLoad(): Promise<PipelineModel> {
    const uri = this.currentModelUri('load');
    return loadModel(uri, this.loadOptions(uri, 'load'));
  }

  protected async doSave(data: PipelineModel): Promise<void> {
    if (this.modelUri) {
      throw this.error(
        `cannot save while 'model_uri' is set (${this.modelUri}): a logged model is never overwritten; ` +
          "remove 'model_uri' to log a new model",
        'save',
      );
    }
    const { dir, mlmodel } = await modelFolderOf(data);
    const target = this.saveTarget();
    if (!target) return; // this pipeline is not tracked: nothing is logged, as in kedro-mlflow
    const { client, runId } = target;
    const run = await client.runs.get(runId);
    const created = await client.loggedModels.create({
      experimentId: run.info.experiment_id,
      name: this.modelName,
      sourceRunId: runId,
      modelType: MODEL_FLAVOR,
      tags: { [TAG_PIPELINE_NAME]: mlmodel.flavors.temporal_mlflow.pipeline },
    });
    const modelId = created.info.model_id;
    // The uploaded copy's MLmodel names its new model, run and artifact path, as log_model writes them.
    const staging = await mkdtemp(join(tmpdir(), 'temporal-mlflow-model-dataset-'));
    try {
      await cp(dir, staging, { recursive: true });
      await writeMLmodel(staging, {
        ...mlmodel,
        artifact_path: this.modelName,
        model_id: modelId,
        run_id: runId,
      });
      await publishLoggedModel({ client, model: created, runId, modelDir: staging });
    } catch (error) {
      await client.loggedModels
        .finalize(modelId, 'LOGGED_MODEL_UPLOAD_FAILED')
        .catch(() => undefined);
      throw error;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    const saved: SavedModelInfo = { modelId, modelUri: `models:/${modelId}`, runId };
    if (this.registeredModelName) {
      const version = await registerLoggedModel(client, {
        registeredName: this.registeredModelName,
        modelId,
        runId,
        alias: this.alias,
      });
      saved.registeredModelVersion = version.version;
    }
    this.#lastSaved = saved;
  }

  protected async doExists(): Promise<boolean> {
    if (!this.modelUri) return this.#lastSaved !== undefined;
    const parsed = parseModelUri(this.modelUri);
    if (parsed.kind === 'local')
      return modelFolderOf(parsed.path).then(
        () => true,
        () => false,
      );
    const client = this.client('exists');
    try {
      const modelId = await resolveModelId(parsed, client, this.modelUri);
      return (await client.loggedModels.get(modelId)).info.status === 'LOGGED_MODEL_READY';
    } catch (error) {
      if (
        error instanceof MlflowResourceNotFoundError ||
        (error as Error).name === 'ModelLoadError'
      )
        return false;
      throw error;
    }
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      name: this.modelName,
      ...(this.registeredModelName ? { registered_model_name: this.registeredModelName } : {}),
      ...(this.alias ? { alias: this.alias } : {}),
      ...((this.modelUri ?? this.#lastSaved?.modelUri)
        ? { model_uri: this.modelUri ?? this.#lastSaved?.modelUri }
        : {}),
      ...(this.#lastSaved ? { model_id: this.#lastSaved.modelId } : {}),
      ...(this.runId
        ? { run_id: this.runId }
        : this.#lastSaved
          ? { run_id: this.#lastSaved.runId }
          : {}),
    };
  }

  private loadOptions(uri: string, operation: DatasetOperation): LoadModelOptions {
    const options: LoadModelOptions = {};
    if (this.cacheDir) options.cacheDir = this.cacheDir;
    // A local folder needs no server; remote URIs use the session's client.
    if (parseModelUri(uri).kind !== 'local') options.client = this.client(operation);
    return options;
  }
}

const trackingSchema = z.strictObject({
  /** kedro-mlflow's key: the flavor is always temporal_mlflow here. */
  flavor: z.literal(MODEL_FLAVOR).optional(),
  run_id: z.string().min(1).optional(),
  /** Shorthand of `load_args.model_uri`. */
  model_uri: z.string().min(1).optional(),
  load_args: z
    .strictObject({
      model_uri: z.string().min(1).optional(),
      cache_dir: z.string().min(1).optional(),
    })
    .optional(),
  save_args: z
    .strictObject({
      name: z.string().min(1).optional(),
      registered_model_name: z.string().min(1).optional(),
      alias: z.string().min(1).optional(),
    })
    .optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory of `MlflowModelTrackingDataset`. */
export function mlflowModelTrackingDatasetFactory(getClient: MlflowClientProvider): DatasetFactory {
  return (config, context) => {
    const meta = { type: 'mlflow.MlflowModelTrackingDataset', name: context.name };
    const parsed = parseDatasetConfig(trackingSchema, config, meta);
    if (
      parsed.model_uri &&
      parsed.load_args?.model_uri &&
      parsed.model_uri !== parsed.load_args.model_uri
    ) {
      throw new DatasetConfigError(
        `Invalid configuration for dataset '${context.name}' of type ${meta.type}: 'model_uri' and 'load_args.model_uri' disagree; set one of them`,
        {
          dataset: context.name,
          type: meta.type,
          issues: [{ path: ['model_uri'], message: "conflicts with 'load_args.model_uri'" }],
        },
      );
    }
    return new MlflowModelTrackingDataset({
      name: context.name,
      getClient,
      runId: parsed.run_id,
      modelUri: parsed.model_uri ?? parsed.load_args?.model_uri,
      cacheDir: parsed.load_args?.cache_dir,
      modelName: parsed.save_args?.name,
      registeredModelName: parsed.save_args?.registered_model_name,
      alias: parsed.save_args?.alias,
    });
  };
}
