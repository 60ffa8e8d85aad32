/**
 * What the model datasets share: what a save accepts (a model folder, or a `PipelineModel` loaded
 * from one) and the check that a folder holds a temporal-mlflow model.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MODEL_FLAVOR } from '../../constants.js';
import { MLMODEL_FILE, readMLmodel, type MLmodel } from '../mlmodel.js';
import type { PipelineModel } from '../runtime.js';
import { describeValue } from '../../utils/describe-value.js';

/** What a model dataset's save accepts: a packaged model folder, or a model loaded from one. */
export type ModelDatasetInput = PipelineModel | string;

/**
 * True for a loaded pipeline model. Checked by shape, not `instanceof`: a model loaded from a
 * folder is an instance of the `PipelineModel` class compiled into that model's own bundle.
 */
export function isPipelineModel(value: unknown): value is PipelineModel {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { predict?: unknown; metadata?: unknown };
  return (
    typeof candidate.predict === 'function' &&
    typeof candidate.metadata === 'object' &&
    candidate.metadata !== null
  );
}

/** A short description of a value that is not a model, for messages. */
/**
 * The model folder of what was given to save, checked: it must hold an MLmodel with the
 * temporal_mlflow flavor. Throws an `Error` saying what was received (the dataset wraps it).
 */
export async function modelFolderOf(data: unknown): Promise<{ dir: string; mlmodel: MLmodel }> {
  let dir: string;
  if (typeof data === 'string') {
    dir = resolve(data.replace(/^file:\/\//, ''));
  } else if (isPipelineModel(data)) {
    if (!data.metadata.dir) {
      throw new Error(
        'the PipelineModel has no model folder (metadata.dir): save the folder written by savePipelineModel, ' +
          'or a model returned by loadModel',
      );
    }
    dir = data.metadata.dir;
  } else {
    throw new Error(
      `expected a model folder path or a PipelineModel loaded with loadModel, received ${describeValue(data)}`,
    );
  }
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir || !existsSync(join(dir, MLMODEL_FILE))) {
    throw new Error(`${dir} is not an MLflow model folder (expected ${join(dir, MLMODEL_FILE)})`);
  }
  const mlmodel = await readMLmodel(dir);
  if (!mlmodel?.flavors?.[MODEL_FLAVOR]) {
    throw new Error(
      `the MLmodel of ${dir} has no ${MODEL_FLAVOR} flavor: it was not packaged by temporal-mlflow`,
    );
  }
  return { dir, mlmodel };
}
