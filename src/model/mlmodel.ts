import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ModelLoadError } from './errors.js';
import type { MlmodelSignature } from './signature.js';

/** Our flavor's section of MLmodel: everything the runtime needs to rebuild the inference pipeline. */
export interface TemporalMlflowFlavor {
  temporal_mlflow_version: string;
  /** The inference code bundle, relative to the model folder (content-hashed file name). */
  bundle: string;
  bundle_sha256: string;
  /** Registered pipeline (a PipelineML) whose inference pipeline the model runs. */
  pipeline: string;
  input_name: string;
  outputs: string[];
  /** Catalog entries of the packaged artifacts, file paths relative to the model folder. */
  catalog: Record<string, Record<string, unknown>>;
  /** Parameters the inference pipeline reads (training values). */
  parameters: Record<string, unknown>;
  node_version: string;
  /** package.json listing the native packages left out of the bundle, with exact versions. */
  environment: string;
  /** The hash manifest written at packaging (`integrity.json`); see `verifyModel`. */
  integrity_manifest?: string;
  /** The manifest's HMAC-SHA-256 signature (`integrity.sig`), when packaged with a signing key. */
  integrity_signature?: string;
}

/** The MLmodel file, as MLflow writes and reads it. */
export interface MLmodel {
  artifact_path: string;
  flavors: { temporal_mlflow: TemporalMlflowFlavor } & Record<string, Record<string, unknown>>;
  model_id?: string;
  run_id?: string;
  utc_time_created: string;
  model_uuid: string;
  mlflow_version?: string;
  signature?: MlmodelSignature;
  saved_input_example_info?: Record<string, unknown>;
  [key: string]: unknown;
}

export const MLMODEL_FILE = 'MLmodel';

export async function readMLmodel(modelDir: string): Promise<MLmodel> {
  return parse(await readFile(join(modelDir, MLMODEL_FILE), 'utf8')) as MLmodel;
}

export async function writeMLmodel(modelDir: string, mlmodel: MLmodel): Promise<void> {
  await writeFile(join(modelDir, MLMODEL_FILE), stringify(mlmodel, { lineWidth: 0 }));
}

/**
 * MLmodel's `temporal_mlflow` flavor, or a `ModelLoadError` naming `source` (the URI or folder the
 * user gave): the one check, with one message, of every loading path.
 */
export function temporalMlflowFlavor(
  mlmodel: Pick<MLmodel, 'flavors'> | Record<string, unknown>,
  source: string,
): TemporalMlflowFlavor {
  const flavors = (mlmodel as { flavors?: Record<string, unknown> }).flavors;
  const flavor = flavors?.temporal_mlflow;
  if (!flavor || typeof flavor !== 'object')
    throw new ModelLoadError(
      source,
      'its MLmodel has no temporal_mlflow flavor: it was not packaged by temporal-mlflow.',
    );
  return flavor as TemporalMlflowFlavor;
}
