/**
 * `MlflowArtifactDataset` (kedro-mlflow's): wraps any file dataset. A save writes the file (or
 * folder) with the wrapped dataset, then logs it as an artifact of the active run (or of
 * `run_id`) under `artifact_path`. A load with `run_id` first downloads the artifact from that run
 * to the wrapped dataset's path; without `run_id` it reads the local file, as kedro-mlflow does.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import * as z from 'zod';
import { parseDatasetConfig } from '../../datasets/config-schema.js';
import type { Dataset, DatasetFactory } from '../../datasets/types.js';
import type { MlflowClient } from '../client.js';
import { AbstractMlflowDataset } from './base.js';
import type { MlflowClientProvider, MlflowDatasetOptions } from './base.js';

export interface MlflowArtifactDatasetOptions extends MlflowDatasetOptions {
  /** The dataset that writes and reads the local file; it must have a `localPath()`. */
  dataset: Dataset;
  /** Folder of the artifact inside the run's artifacts. @default the root */
  artifactPath?: string | undefined;
}

export class MlflowArtifactDataset<T = unknown> extends AbstractMlflowDataset<T> {
  readonly type: string = 'mlflow.MlflowArtifactDataset';
  readonly dataset: Dataset<T>;
  readonly artifactPath: string | undefined;

  constructor(options: MlflowArtifactDatasetOptions) {
    super(options);
    this.dataset = options.dataset as Dataset<T>;
    this.artifactPath = options.artifactPath?.replace(/^\/+|\/+$/g, '') || undefined;
    if (typeof this.dataset.localPath !== 'function') {
      throw this.error(
        `the wrapped dataset ${String(this.dataset.describe().type)} has no local file to log; wrap a file dataset (e.g. json.JSONDataset)`,
      );
    }
  }

  /** The wrapped dataset's file or folder. */
  localPath(): string | undefined {
    return this.dataset.localPath?.();
  }

  /** Where the artifact of `localPath` lives in the run: `<artifact_path>/<file name>`. */
  artifactOf(localPath: string): string {
    return [this.artifactPath, basename(localPath)].filter(Boolean).join('/');
  }

  protected async doLoad(): Promise<T> {
    if (this.runId) await this.download(this.client('load'), this.runId);
    return this.dataset.load();
  }

  protected async doSave(data: T): Promise<void> {
    await this.dataset.save(data);
    const target = this.saveTarget();
    if (!target) return;
    const local = this.requireLocalPath('save');
    const { client, runId } = target;
    if ((await stat(local)).isDirectory()) {
      await client.artifacts.uploadDirectory(runId, local, this.artifactOf(local));
    } else {
      await client.artifacts.uploadFile(runId, local, this.artifactPath);
    }
  }

  protected async doExists(): Promise<boolean> {
    if (await this.dataset.exists()) return true;
    if (!this.runId) return false;
    const local = this.localPath();
    return (
      local !== undefined &&
      (await this.findArtifact(this.client('exists'), this.runId, local)) !== undefined
    );
  }

  protected override async doRelease(): Promise<void> {
    await this.dataset.release();
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      dataset: this.dataset.describe(),
      ...(this.artifactPath ? { artifact_path: this.artifactPath } : {}),
      ...this.describeRun(),
    };
  }

  private requireLocalPath(operation: 'load' | 'save'): string {
    const local = this.localPath();
    if (local === undefined) {
      throw this.error(
        `the wrapped dataset has no local path to ${operation === 'save' ? 'log' : 'download to'}`,
        operation,
      );
    }
    return local;
  }

  private async findArtifact(
    client: MlflowClient,
    runId: string,
    local: string,
  ): Promise<{ isDir: boolean } | undefined> {
    const wanted = this.artifactOf(local);
    const listing = await client.artifacts.listArtifacts(runId, this.artifactPath);
    return listing.find((file) => file.path === wanted);
  }

  private async download(client: MlflowClient, runId: string): Promise<void> {
    const local = this.requireLocalPath('load');
    const found = await this.findArtifact(client, runId, local);
    if (!found) {
      throw this.error(
        `artifact '${this.artifactOf(local)}' not found in MLflow run '${runId}'`,
        'load',
      );
    }
    if (found.isDir) await client.artifacts.downloadDirectory(runId, this.artifactOf(local), local);
    else await client.artifacts.downloadFile(runId, this.artifactOf(local), local);
  }
}

const artifactSchema = z.strictObject({
  dataset: z.looseObject({ type: z.string().min(1) }),
  artifact_path: z.string().optional(),
  run_id: z.string().min(1).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory of `MlflowArtifactDataset`: `dataset: {type, ...}` is built with the same registry. */
export function mlflowArtifactDatasetFactory(getClient: MlflowClientProvider): DatasetFactory {
  return (config, context) => {
    const parsed = parseDatasetConfig(artifactSchema, config, {
      type: 'mlflow.MlflowArtifactDataset',
      name: context.name,
    });
    return new MlflowArtifactDataset({
      name: context.name,
      getClient,
      dataset: context.build(parsed.dataset, context.name),
      artifactPath: parsed.artifact_path,
      runId: parsed.run_id,
    });
  };
}
