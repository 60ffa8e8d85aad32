import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DataCatalog } from '../catalog/data-catalog.js';
import { MemoryDataset, type CopyMode } from '../datasets/memory.js';
import { DatasetRegistry } from '../datasets/registry.js';
import type { Dataset } from '../datasets/types.js';
import type { ProjectDefinition } from '../project/define-project.js';
import { runPipelineLocally } from '../runner/local-runner.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { ScoringModel } from '../serving/types.js';
import { resolveParams, signatureFromMlmodel, type ModelSignature } from './signature.js';
import type { MLmodel, TemporalMlflowFlavor } from './mlmodel.js';
import { isPipelineMl } from './pipeline-ml.js';
import { ModelLoadError } from './errors.js';
import { containedPath, mlmodelPaths, verifyModel } from './integrity.js';

/** Options of a bundle's `load(modelDir, options)`. */
export interface LoadBundleOptions {
  /**
   * The caller verified the folder (`verifyModel`) or wrote it itself: skip the integrity check.
   * Paths in MLmodel are checked either way.
   * @default false
   */
  skipVerification?: boolean;
}

/** Metadata of a loaded pipeline model. */
export interface PipelineModelMetadata {
  modelUri?: string;
  /** The local model folder it was loaded from (the download cache for a remote URI); set by `loadModel`. */
  dir?: string;
  modelId?: string;
  runId?: string;
  flavorVersion: string;
  pipeline: string;
  inputName: string;
  outputs: readonly string[];
}

/**
 * The packaged inference pipeline (kedro-mlflow's KedroPipelineModel): its fitted artifacts are
 * loaded once; `predict` runs the inference pipeline on records in this process.
 */
export class PipelineModel implements ScoringModel {
  constructor(
    private readonly inference: Pipeline,
    private readonly artifacts: Readonly<Record<string, Dataset>>,
    private readonly parameters: Readonly<Record<string, unknown>>,
    readonly signature: ModelSignature | undefined,
    readonly metadata: PipelineModelMetadata,
    /** The copy mode of each dataset the inference produces (the PipelineML's `kpm.copyMode`). */
    private readonly copyModeFor: (dataset: string) => CopyMode = () => 'assign',
  ) {}

  /**
   * Runs the inference pipeline on `input` (records, or any value the pipeline's input accepts).
   * `params` override the signature's defaults for this call only; unknown params are an error.
   * Returns the inference output, or an object keyed by output name when there are several.
   */
  async predict(input: unknown, params?: Record<string, unknown>): Promise<unknown> {
    let overrides: Record<string, unknown> = {};
    if (params && Object.keys(params).length > 0) {
      const resolved = resolveParams(params, this.signature?.params);
      overrides = Object.fromEntries(Object.keys(params).map((name) => [name, resolved[name]]));
    }
    const parameters =
      Object.keys(overrides).length > 0
        ? mergeParameters(this.parameters, overrides)
        : this.parameters;
    const datasets: Record<string, Dataset> = {
      ...this.artifacts,
      [this.metadata.inputName]: new MemoryDataset({ data: input, copyMode: 'assign' }),
    };
    // As kedro-mlflow's KedroPipelineModel: what the inference produces lives in memory with the
    // kpm copy mode ('assign' by default), not the runner's default deep copy on every save and load.
    for (const name of this.inference.allOutputs())
      datasets[name] = new MemoryDataset({ copyMode: this.copyModeFor(name) });
    const catalog = new DataCatalog(datasets, parameters as Record<string, unknown>);
    await runPipelineLocally({
      pipeline: this.inference,
      catalog,
      run: {
        runId: 'predict',
        pipelineName: this.metadata.pipeline,
        env: 'model',
        projectDir: '.',
        runtimeParams: overrides,
      },
      maxConcurrency: 64,
    });
    const outputs = this.metadata.outputs;
    const values = await Promise.all(outputs.map((name) => catalog.load(name)));
    return outputs.length === 1
      ? values[0]
      : Object.fromEntries(outputs.map((name, i) => [name, values[i]]));
  }
}

/** Parameters with `a.b`-style dotted overrides applied (signature params are top-level names). */
function mergeParameters(
  base: Readonly<Record<string, unknown>>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const merged = structuredClone(base) as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    const path = key.split('.');
    let target = merged;
    for (const part of path.slice(0, -1)) {
      if (typeof target[part] !== 'object' || target[part] === null) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[path.at(-1)!] = value;
  }
  return merged;
}

/**
 * Loads a model folder with the project definition compiled into its bundle: the runtime half of
 * packaging, called from the bundle's `load(modelDir)`.
 */
export async function loadPipelineModel(
  project: ProjectDefinition,
  modelDir: string,
  options: LoadBundleOptions = {},
): Promise<PipelineModel> {
  // Started by the python_function shim, the bundle checks what the Python side cannot (MLmodel's digest).
  if (!options.skipVerification) await verifyModel(modelDir);
  const mlmodel = parse(await readFile(join(modelDir, 'MLmodel'), 'utf8')) as MLmodel;
  for (const [key, value] of mlmodelPaths(mlmodel)) await containedPath(modelDir, key, value);
  const flavor: TemporalMlflowFlavor | undefined = mlmodel.flavors?.temporal_mlflow;
  if (!flavor) throw new ModelLoadError(modelDir, 'its MLmodel has no temporal_mlflow flavor.');
  const pipeline = project.pipelines[flavor.pipeline];
  if (!pipeline)
    throw new ModelLoadError(modelDir, `its bundle has no pipeline '${flavor.pipeline}'.`);
  // A PipelineML serves its inference pipeline; a plain pipeline (packaged by `modelify`) serves itself.
  const inference = isPipelineMl(pipeline) ? pipeline.inference : pipeline;
  const registry = new DatasetRegistry();
  for (const [type, factory] of Object.entries(project.datasets)) registry.register(type, factory);
  const files = DataCatalog.fromConfig({
    catalog: flavor.catalog,
    credentials: {},
    parameters: {},
    projectDir: modelDir,
    registry,
  });
  const artifacts: Record<string, Dataset> = {};
  for (const name of Object.keys(flavor.catalog)) {
    // Loaded once and shared by every predict call (never copied: inference must not mutate them).
    artifacts[name] = new MemoryDataset({ data: await files.load(name), copyMode: 'assign' });
  }
  return new PipelineModel(
    inference,
    artifacts,
    flavor.parameters,
    mlmodel.signature ? signatureFromMlmodel(mlmodel.signature) : undefined,
    {
      ...(mlmodel.model_id ? { modelId: mlmodel.model_id } : {}),
      ...(mlmodel.run_id ? { runId: mlmodel.run_id } : {}),
      flavorVersion: flavor.temporal_mlflow_version,
      pipeline: flavor.pipeline,
      inputName: flavor.input_name,
      outputs: flavor.outputs,
    },
    isPipelineMl(pipeline) ? (dataset) => pipeline.copyModeFor(dataset) : undefined,
  );
}
