import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DataCatalog } from '../catalog/data-catalog.js';
import { MemoryDataset, type CopyMode } from '../datasets/memory.js';
import { DatasetRegistry } from '../datasets/registry.js';
import type { Dataset } from '../datasets/types.js';
import type { ProjectDefinition } from '../project/define-project.js';
import { runPipelineLocally } from '../runner/local-runner.js';
import { NodeRunError, NonErrorThrownError, UndefinedOutputError } from '../runner/errors.js';
import { isError } from '../runner/run-node.js';
import type { Node } from '../pipeline/node.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { ScoringModel } from '../serving/types.js';
import { resolveParams, signatureFromMlmodel, type ModelSignature } from './signature.js';
import { temporalMlflowFlavor, type MLmodel } from './mlmodel.js';
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
  /**
   * The folder's MLmodel as the caller read it while verifying the folder (`loadModel` passes what
   * `verifyModel` read): MLmodel is then read once per load. Read from the folder when absent.
   */
  mlmodel?: MLmodel;
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
  /** The signature's params with their defaults, resolved once per model. */
  readonly #defaults: Readonly<Record<string, unknown>>;
  /**
   * The nodes in the order `predict` calls them, when every free input of the inference is the
   * model's input, a packaged artifact or a parameter (always, for a packaged PipelineML);
   * otherwise undefined and `predict` runs the local runner.
   */
  readonly #plan: readonly Node[] | undefined;
  /** Artifacts and training parameters: built once, shared by every call without overrides. */
  readonly #catalog: DataCatalog;

  constructor(
    private readonly inference: Pipeline,
    private readonly artifacts: Readonly<Record<string, Dataset>>,
    private readonly parameters: Readonly<Record<string, unknown>>,
    readonly signature: ModelSignature | undefined,
    readonly metadata: PipelineModelMetadata,
    /** The copy mode of each dataset the inference produces (the PipelineML's `kpm.copyMode`). */
    private readonly copyModeFor: (dataset: string) => CopyMode = () => 'assign',
  ) {
    this.#defaults = Object.freeze(resolveParams(undefined, signature?.params));
    this.#catalog = new DataCatalog({ ...artifacts }, parameters as Record<string, unknown>);
    const served = (name: string) =>
      name === metadata.inputName ||
      Object.hasOwn(artifacts, name) ||
      name === 'parameters' ||
      name.startsWith('params:');
    this.#plan = inference.inputs().every(served) ? inference.nodes : undefined;
  }

  /**
   * Runs the inference pipeline on `input` (records, or any value the pipeline's input accepts).
   * `params` override the signature's defaults for this call only; unknown params are an error.
   * Returns the inference output, or an object keyed by output name when there are several.
   *
   * Params equal to their defaults (what the scoring server passes when a request has none) cost
   * nothing: the training parameters are used as they are. Overrides are checked, then applied
   * on a copy of only the objects along their path (never a deep clone of every parameter).
   */
  async predict(input: unknown, params?: Record<string, unknown>): Promise<unknown> {
    const { parameters, overrides } = this.#parametersFor(params);
    if (this.#plan) {
      if (!this.#fixedLoaded) await this.#loadFixed();
      if (this.#direct && parameters === this.parameters)
        return this.#runDirect(this.#plan, 0, input, new Map());
      return this.#run(this.#plan, input, parameters);
    }
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

  /**
   * Calls the nodes one after the other, as the local runner would with no hooks, cache or
   * threads (the same loads of artifacts and parameters, the same copy modes, the same errors:
   * `NodeRunError` naming the node), without its per-run bookkeeping: a one-record call costs the
   * nodes' own work.
   */
  async #run(
    plan: readonly Node[],
    input: unknown,
    parameters: Readonly<Record<string, unknown>>,
  ): Promise<unknown> {
    const shared = parameters === this.parameters;
    const catalog = shared
      ? this.#catalog
      : new DataCatalog({ ...this.artifacts }, parameters as Record<string, unknown>);
    // What the nodes produce in this call, copied on save and load per its copy mode (the
    // MemoryDataset the local runner would use; 'assign', the PipelineML default, is no copy).
    const produced = new Map<string, unknown>();
    for (const node of plan) {
      const inputs: Record<string, unknown> = {};
      for (const name of node.inputs) {
        const value = this.#value(name, input, produced, catalog, shared);
        inputs[name] = value instanceof Promise ? await value : value;
      }
      let outputs: Record<string, unknown>;
      try {
        outputs = await node.run(inputs);
      } catch (thrown) {
        throw nodeRunError(node, thrown);
      }
      this.#keep(node, outputs, produced);
    }
    const outputs = this.metadata.outputs;
    if (outputs.length === 1) return this.#value(outputs[0]!, input, produced, catalog, shared);
    const values = await Promise.all(
      outputs.map((name) => this.#value(name, input, produced, catalog, shared)),
    );
    return Object.fromEntries(outputs.map((name, i) => [name, values[i]]));
  }

  /**
   * {@link #run} with the training parameters when every input of every node is the model's
   * input, an output of an earlier node or a value loaded once (`#fixed`): the nodes are called
   * one after the other without a turn of the microtask queue between them (a node whose function
   * returns a promise is awaited, the rest of the plan continuing after it). The same values, copy
   * modes and errors as {@link #run}.
   */
  #runDirect(
    plan: readonly Node[],
    from: number,
    input: unknown,
    produced: Map<string, unknown>,
  ): unknown {
    for (let i = from; i < plan.length; i++) {
      const node = plan[i]!;
      const inputs: Record<string, unknown> = {};
      for (const name of node.inputs) inputs[name] = this.#directValue(name, input, produced);
      let outputs: Record<string, unknown> | Promise<Record<string, unknown>>;
      try {
        outputs = node.call(inputs);
      } catch (thrown) {
        throw nodeRunError(node, thrown);
      }
      if (outputs instanceof Promise) {
        return outputs.then(
          (resolved) => {
            this.#keep(node, resolved, produced);
            return this.#runDirect(plan, i + 1, input, produced);
          },
          (thrown: unknown) => {
            throw nodeRunError(node, thrown);
          },
        );
      }
      this.#keep(node, outputs, produced);
    }
    const outputs = this.metadata.outputs;
    if (outputs.length === 1) return this.#directValue(outputs[0]!, input, produced);
    return Object.fromEntries(
      outputs.map((name) => [name, this.#directValue(name, input, produced)]),
    );
  }

  /** Checks a node's outputs (`UndefinedOutputError` as `NodeRunError`) and keeps them per their copy mode. */
  #keep(node: Node, outputs: Record<string, unknown>, produced: Map<string, unknown>): void {
    const missing = node.outputs.find((name) => outputs[name] === undefined);
    if (missing !== undefined)
      throw nodeRunError(node, new UndefinedOutputError(node.name, missing));
    for (const name of node.outputs)
      produced.set(name, copied(outputs[name], this.copyModeFor(name)));
  }

  /** {@link #value} for {@link #runDirect}: never a Promise. */
  #directValue(name: string, input: unknown, produced: Map<string, unknown>): unknown {
    if (name === this.metadata.inputName) return input;
    if (produced.has(name)) return copied(produced.get(name), this.copyModeFor(name));
    return this.#fixed.get(name)!.value;
  }

  /**
   * Whether {@link #runDirect} serves calls with the training parameters: every input is the
   * model's input, an earlier node's output or a value in `#fixed` (set with it).
   */
  #direct = false;

  /** The value of one dataset during a call (a Promise only when the catalog has to load it). */
  #value(
    name: string,
    input: unknown,
    produced: Map<string, unknown>,
    catalog: DataCatalog,
    shared: boolean,
  ): unknown {
    if (name === this.metadata.inputName) return input;
    if (produced.has(name)) return copied(produced.get(name), this.copyModeFor(name));
    if (shared) {
      const fixed = this.#fixed.get(name);
      if (fixed !== undefined) return fixed.value;
    }
    return catalog.load(name);
  }

  /**
   * Inputs whose value is the same on every call with the training parameters, loaded once: an
   * artifact held in memory without copying, a `params:` value that is not an object (a copy of a
   * number or string is the value itself). Filled on the first call.
   */
  readonly #fixed = new Map<string, { value: unknown }>();

  async #loadFixed(): Promise<void> {
    if (this.#fixedLoaded) return;
    this.#fixedLoaded = true;
    for (const node of this.#plan ?? []) {
      for (const name of node.inputs) {
        if (this.#fixed.has(name) || name === this.metadata.inputName) continue;
        const dataset = Object.hasOwn(this.artifacts, name) ? this.artifacts[name] : undefined;
        if (dataset instanceof MemoryDataset && dataset.copyMode === 'assign')
          this.#fixed.set(name, { value: await dataset.load() });
        else if (name.startsWith('params:')) {
          let value: unknown;
          try {
            value = await this.#catalog.load(name);
          } catch {
            continue; // left to the call, which reports it
          }
          if (value === null || typeof value !== 'object') this.#fixed.set(name, { value });
        }
      }
    }
    const available = new Set([this.metadata.inputName, ...this.#fixed.keys()]);
    this.#direct = (this.#plan ?? []).every((node) => {
      const ready = node.inputs.every((name) => available.has(name));
      for (const name of node.outputs) available.add(name);
      return ready;
    });
    this.#direct &&= this.metadata.outputs.every((name) => available.has(name));
  }

  #fixedLoaded = false;

  /** The parameters of one call: the training values, with the params that differ from their default applied. */
  #parametersFor(params: Record<string, unknown> | undefined): {
    parameters: Readonly<Record<string, unknown>>;
    overrides: Readonly<Record<string, unknown>>;
  } {
    const none = { parameters: this.parameters, overrides: NO_OVERRIDES };
    if (!params) return none;
    let changed: Record<string, unknown> | undefined;
    for (const name of Object.keys(params)) {
      if (Object.hasOwn(this.#defaults, name) && Object.is(params[name], this.#defaults[name]))
        continue;
      (changed ??= {})[name] = params[name];
    }
    if (!changed) return none;
    const resolved = resolveParams(changed, this.signature?.params); // throws on unknown or mistyped params
    const overrides: Record<string, unknown> = {};
    for (const name of Object.keys(changed)) overrides[name] = resolved[name];
    return { parameters: withOverrides(this.parameters, overrides), overrides };
  }
}

/** What the local runner reports for a node that threw (or returned an unusable result). */
function nodeRunError(node: Node, thrown: unknown): NodeRunError {
  const error = isError(thrown) ? thrown : new NonErrorThrownError(node.name, thrown);
  return new NodeRunError(node.name, [node.name], undefined, { cause: error });
}

/** A value as a MemoryDataset of this copy mode holds it (copied on save and on load). */
function copied(value: unknown, mode: CopyMode): unknown {
  if (mode === 'assign' || value === null || typeof value !== 'object') return value;
  if (mode === 'deepcopy') return structuredClone(value);
  if (Array.isArray(value)) return value.slice();
  return { ...(value as Record<string, unknown>) };
}

const NO_OVERRIDES: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * Parameters with `a.b`-style dotted overrides applied (signature params are top-level names):
 * the objects along each override's path are copied, the rest is shared with `base`.
 */
function withOverrides(
  base: Readonly<Record<string, unknown>>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  const copied = new Set<object>([merged]);
  for (const [key, value] of Object.entries(overrides)) {
    const path = key.split('.');
    let target = merged;
    for (const part of path.slice(0, -1)) {
      const next = target[part];
      let child: Record<string, unknown>;
      if (typeof next !== 'object' || next === null || Array.isArray(next)) child = {};
      else if (copied.has(next)) child = next as Record<string, unknown>;
      else child = { ...(next as Record<string, unknown>) };
      copied.add(child);
      target[part] = child;
      target = child;
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
  const verified = options.skipVerification ? undefined : await verifyModel(modelDir);
  const mlmodel =
    options.mlmodel ??
    (verified?.mlmodel as MLmodel | undefined) ??
    (parse(await readFile(join(modelDir, 'MLmodel'), 'utf8')) as MLmodel);
  if (!verified && !options.mlmodel)
    for (const [key, value] of mlmodelPaths(mlmodel)) await containedPath(modelDir, key, value);
  const flavor = temporalMlflowFlavor(mlmodel, modelDir);
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
