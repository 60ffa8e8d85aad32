/**
 * `MlflowModelRegistryDataset` (kedro-mlflow's): loads a version of a registered model, by version
 * number (`models:/<name>/<version>`) or by alias (`models:/<name>@<alias>`), never both. With
 * neither, it loads the latest version (the highest version number), as kedro-mlflow's default
 * `stage_or_version: latest` does. Read-only: a save is an error (log and register a model with
 * `MlflowModelTrackingDataset` and `save_args.registered_model_name`).
 */
import * as z from 'zod';
import { MODEL_FLAVOR } from '../../constants.js';
import { parseDatasetConfig } from '../../datasets/config-schema.js';
import { DatasetConfigError, type DatasetOperation } from '../../datasets/errors.js';
import type { DatasetFactory } from '../../datasets/types.js';
import type { MlflowClient } from '../../mlflow/client.js';
import {
  AbstractMlflowDataset,
  type MlflowClientProvider,
  type MlflowDatasetOptions,
} from '../../mlflow/datasets/base.js';
import { MlflowResourceNotFoundError } from '../../mlflow/errors.js';
import { loadModel, type LoadModelOptions } from '../load-model.js';
import type { PipelineModel } from '../runtime.js';
import type { ModelDatasetInput } from './common.js';

export interface MlflowModelRegistryDatasetOptions extends Omit<MlflowDatasetOptions, 'runId'> {
  /** The registered model's name. */
  modelName: string;
  /** A version number, or `latest`. Exclusive with `alias`. @default 'latest' (when no alias) */
  version?: string | number | undefined;
  /** An alias of the registered model, e.g. `champion`. Exclusive with `version`. */
  alias?: string | undefined;
  /** Where downloaded models are cached. @default loadModel's */
  cacheDir?: string | undefined;
}

const TYPE = 'mlflow.MlflowModelRegistryDataset';

/** Throws a `DatasetConfigError` naming the dataset when the version/alias options are invalid. */
function checkSelector(
  name: string,
  options: { version?: string | number | undefined; alias?: string | undefined },
  keys = { version: 'version', alias: 'alias' },
): void {
  const fail = (message: string, path: string[]): never => {
    throw new DatasetConfigError(
      `Invalid configuration for dataset '${name}' of type ${TYPE}: ${message}`,
      {
        dataset: name,
        type: TYPE,
        issues: [{ path, message }],
      },
    );
  };
  if (options.version !== undefined && options.alias !== undefined) {
    fail(
      `'${keys.version}' (${String(options.version)}) and '${keys.alias}' (${options.alias}) are both set; ` +
        `set only one of them: a version number, or an alias such as 'champion'`,
      [keys.version],
    );
  }
  if (options.version !== undefined && !/^(\d+|latest)$/i.test(String(options.version))) {
    fail(
      `'${keys.version}' must be a version number or 'latest', received ${JSON.stringify(options.version)} ` +
        "(registry stages are deprecated in MLflow: point an alias at the version and set 'alias')",
      [keys.version],
    );
  }
}

export class MlflowModelRegistryDataset extends AbstractMlflowDataset<PipelineModel> {
  readonly type: string = TYPE;
  readonly modelName: string;
  /** A version number or `latest`; undefined when loading by alias. */
  readonly version: string | undefined;
  readonly alias: string | undefined;
  readonly cacheDir: string | undefined;

  constructor(options: MlflowModelRegistryDatasetOptions) {
    super({ ...options, runId: undefined });
    checkSelector(options.name ?? TYPE, options);
    this.modelName = options.modelName;
    this.alias = options.alias;
    this.version =
      options.alias === undefined ? String(options.version ?? 'latest').toLowerCase() : undefined;
    this.cacheDir = options.cacheDir;
  }

  /** The URI this dataset names: `models:/<name>@<alias>`, `models:/<name>/<version>` or `models:/<name>/latest`. */
  get modelUri(): string {
    return this.alias !== undefined
      ? `models:/${this.modelName}@${this.alias}`
      : `models:/${this.modelName}/${this.version}`;
  }

  /** Read-only, as in kedro-mlflow. */
  override save(_data: ModelDatasetInput): Promise<void> {
    return super.save(_data as PipelineModel);
  }

  protected async doLoad(): Promise<PipelineModel> {
    const client = this.client('load');
    const uri = await this.resolvedUri(client, 'load');
    const options: LoadModelOptions = { client };
    if (this.cacheDir) options.cacheDir = this.cacheDir;
    return loadModel(uri, options);
  }

  protected async doSave(): Promise<void> {
    throw this.error(
      'MlflowModelRegistryDataset is read-only: it loads registered models. To log a model and register it as a new version, ' +
        'save it with MlflowModelTrackingDataset and save_args.registered_model_name',
      'save',
    );
  }

  protected async doExists(): Promise<boolean> {
    const client = this.client('exists');
    try {
      if (this.alias !== undefined)
        await client.registry.getModelVersionByAlias(this.modelName, this.alias);
      else if (this.version === 'latest') return (await this.latestVersion(client)) !== undefined;
      else await client.registry.getModelVersion(this.modelName, this.version!);
      return true;
    } catch (error) {
      if (error instanceof MlflowResourceNotFoundError) return false;
      throw error;
    }
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      model_name: this.modelName,
      ...(this.alias !== undefined ? { alias: this.alias } : { version: this.version }),
      model_uri: this.modelUri,
    };
  }

  /** `latest` resolved to the highest version number. */
  private async resolvedUri(client: MlflowClient, operation: DatasetOperation): Promise<string> {
    if (this.version !== 'latest') return this.modelUri;
    const latest = await this.latestVersion(client);
    if (latest === undefined) {
      throw this.error(
        `registered model '${this.modelName}' has no version to load on ${client.trackingUri}`,
        operation,
      );
    }
    return `models:/${this.modelName}/${latest}`;
  }

  private async latestVersion(client: MlflowClient): Promise<string | undefined> {
    const escaped = this.modelName.replace(/'/g, "\\'");
    let latest: number | undefined;
    for await (const version of client.registry.searchAllModelVersions({
      filter: `name = '${escaped}'`,
    })) {
      const number = Number(version.version);
      if (version.name === this.modelName && (latest === undefined || number > latest))
        latest = number;
    }
    return latest === undefined ? undefined : String(latest);
  }
}

const registrySchema = z.strictObject({
  model_name: z.string().min(1),
  version: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
  /** kedro-mlflow's name of `version` (a number or `latest`; registry stages are not supported). */
  stage_or_version: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
  alias: z.string().min(1).optional(),
  /** kedro-mlflow's key: the flavor is always temporal_mlflow here. */
  flavor: z.literal(MODEL_FLAVOR).optional(),
  load_args: z.strictObject({ cache_dir: z.string().min(1).optional() }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory of `MlflowModelRegistryDataset`. */
export function mlflowModelRegistryDatasetFactory(getClient: MlflowClientProvider): DatasetFactory {
  return (config, context) => {
    const parsed = parseDatasetConfig(registrySchema, config, { type: TYPE, name: context.name });
    if (parsed.version !== undefined && parsed.stage_or_version !== undefined) {
      const message =
        "'version' and 'stage_or_version' are both set; they are the same option: keep 'version'";
      throw new DatasetConfigError(
        `Invalid configuration for dataset '${context.name}' of type ${TYPE}: ${message}`,
        {
          dataset: context.name,
          type: TYPE,
          issues: [{ path: ['stage_or_version'], message }],
        },
      );
    }
    const versionKey = parsed.stage_or_version !== undefined ? 'stage_or_version' : 'version';
    const version = parsed.version ?? parsed.stage_or_version;
    checkSelector(
      context.name,
      { version, alias: parsed.alias },
      { version: versionKey, alias: 'alias' },
    );
    return new MlflowModelRegistryDataset({
      name: context.name,
      getClient,
      modelName: parsed.model_name,
      version,
      alias: parsed.alias,
      cacheDir: parsed.load_args?.cache_dir,
    });
  };
}
