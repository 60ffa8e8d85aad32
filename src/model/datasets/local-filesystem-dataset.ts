/**
 * `MlflowModelLocalFileSystemDataset` (kedro-mlflow's): a packaged model kept in a local folder.
 * A save copies the model folder to `filepath` atomically (into a hidden temp folder next to it,
 * then renamed into place; a model already there is swapped out only once the copy is complete).
 * With `versioned: true` every save is kept as `<filepath>/<version>/<basename>`, like file
 * datasets. A load returns the `PipelineModel`, ready to `predict`.
 */
import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from 'zod';
import { tempPathFor } from '../../datasets/atomic-write.js';
import { fileEntryShape, parseDatasetConfig } from '../../datasets/config-schema.js';
import { AbstractFileDataset, type FileDatasetOptions } from '../../datasets/file-dataset.js';
import { fileOptionsFrom } from '../../datasets/file-options.js';
import type { DatasetFactory } from '../../datasets/types.js';
import { loadModel } from '../load-model.js';
import type { PipelineModel } from '../runtime.js';
import { modelFolderOf, type ModelDatasetInput } from './common.js';

export type MlflowModelLocalFileSystemDatasetOptions = FileDatasetOptions;

export class MlflowModelLocalFileSystemDataset extends AbstractFileDataset<PipelineModel> {
  readonly type: string = 'mlflow.MlflowModelLocalFileSystemDataset';

  constructor(options: MlflowModelLocalFileSystemDatasetOptions) {
    super(options);
  }

  /** Saves a model folder (path) or a `PipelineModel` loaded from one. */
  override save(data: ModelDatasetInput): Promise<void> {
    return super.save(data as PipelineModel);
  }

  protected async readFile(path: string): Promise<PipelineModel> {
    return loadModel(path);
  }

  /** Copies the model folder to `tempPath`; removes the partial copy when it fails. */
  protected async writeFile(tempPath: string, data: ModelDatasetInput): Promise<void> {
    const { dir } = await modelFolderOf(data);
    try {
      await cp(dir, tempPath, { recursive: true, errorOnExist: true, force: false });
    } catch (error) {
      await rm(tempPath, { recursive: true, force: true });
      throw error;
    }
  }

  protected override async doSave(data: PipelineModel): Promise<void> {
    if (this.versioned) return super.doSave(data);
    // Checked before anything is written: a bad value leaves no folder behind.
    await modelFolderOf(data);
    const target = this.resolvedPath;
    const parent = dirname(target);
    const created = await mkdir(parent, { recursive: true });
    const temp = tempPathFor(target);
    try {
      await this.writeFile(temp, data);
    } catch (error) {
      if (created !== undefined) await rm(created, { recursive: true, force: true });
      throw error;
    }
    // A folder cannot be renamed over a non-empty one: move the old model aside, then swap.
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await rename(temp, target);
      return;
    }
    const previous = `${tempPathFor(target)}.previous`;
    await rename(target, previous);
    try {
      await rename(temp, target);
    } catch (error) {
      await rename(previous, target);
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
    await rm(previous, { recursive: true, force: true });
  }
}

const localSchema = z.strictObject({
  ...fileEntryShape,
  /** kedro-mlflow's keys: the flavor is always temporal_mlflow here. */
  flavor: z.literal('temporal_mlflow').optional(),
});

/** Registry factory of `MlflowModelLocalFileSystemDataset`. */
export const mlflowModelLocalFileSystemDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(localSchema, config, {
    type: 'mlflow.MlflowModelLocalFileSystemDataset',
    name: context.name,
  });
  return new MlflowModelLocalFileSystemDataset(fileOptionsFrom(parsed, context));
};
