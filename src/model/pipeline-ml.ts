/**
 * `pipelineMl({ training, inference, inputName })`: kedro-mlflow's PipelineML. A training
 * `Pipeline` bound to the inference pipeline that is packaged and logged to MLflow as a model when
 * training succeeds.
 *
 * Rules checked at construction (kedro-mlflow's): `inputName` is an input of the inference
 * pipeline, and no inference input is "free": every one other than `inputName` is produced or
 * read by training, or is a parameter. Going beyond kedro-mlflow, the inference pipeline may have
 * several outputs (it must have at least one).
 *
 * Filters and composition (`onlyNodesWithTags`, `fromNodes`, `plus`, `minus`, ...) go through
 * `derive()`: the result is revalidated against the same binding and is a `PipelineML` when it
 * still satisfies the rules; otherwise it is the plain training `Pipeline` and a
 * `TEMPORAL_MLFLOW_PIPELINEML_FILTER` process warning says which inference inputs were lost.
 */
import { DEFAULT_MODEL_NAME } from '../constants.js';
import { validateAlias } from '../mlflow/validation.js';
import { Pipeline, isParameter } from '../pipeline/index.js';
import type { Node, PipelineDescription, PipelineItem } from '../pipeline/index.js';
import { didYouMean } from '../utils/suggest.js';
import {
  FreeInputsError,
  InvalidInputNameError,
  NoInferenceOutputError,
  PipelineMLOptionError,
} from './errors.js';
import type { ModelSignature } from './signature.js';

/**
 * Brand set (non-enumerable) on every PipelineML, so other modules and other copies of this
 * package detect one without `instanceof`: `Symbol.for('temporal-mlflow.PipelineML') in value`.
 */
export const PIPELINE_ML_BRAND = Symbol.for('temporal-mlflow.PipelineML');

/** `code` of the process warning emitted when a filter turns a PipelineML into a plain Pipeline. */
export const PIPELINE_ML_FILTER_WARNING = 'TEMPORAL_MLFLOW_PIPELINEML_FILTER';

/** Characters MLflow 3 rejects in a LoggedModel name (it is also the artifact path). */
const BAD_MODEL_NAME_CHARS = ['/', ':', '.', '%', '"', "'"] as const;

/** Records, one object per row (`dataframe_records`). */
export type InputRecords = readonly Readonly<Record<string, unknown>>[];

/** How the model is logged to MLflow (kedro-mlflow's `log_model_kwargs`). */
export interface LogModelOptions {
  /**
   * LoggedModel name and artifact path: the model is `runs:/<run_id>/<name>`.
   * @default 'model'
   */
  readonly name?: string;
  /**
   * Registers each logged model as a new version of this registered model.
   * @default undefined (not registered)
   */
  readonly registeredModelName?: string;
  /**
   * Moves this alias of `registeredModelName` to the new version (`models:/<name>@<alias>`).
   * Requires `registeredModelName`.
   * @default undefined
   */
  readonly alias?: string;
  /**
   * `'auto'`: inputs inferred from the training value of `inputName`, outputs from the inference
   * outputs, params from the inference `params:*` inputs with their training values as defaults.
   * `false`: no signature. Or an explicit MLflow signature.
   * @default 'auto'
   */
  readonly signature?: 'auto' | false | ModelSignature;
  /**
   * `'auto'`: the first records of the training value of `inputName`. `false`: none. Or explicit
   * records. The packaged model is run on it before being marked READY, so `false` skips that check.
   * @default 'auto'
   */
  readonly inputExample?: 'auto' | false | InputRecords;
}

/** `LogModelOptions` with defaults applied. */
export interface ResolvedLogModelOptions {
  readonly name: string;
  readonly registeredModelName?: string;
  readonly alias?: string;
  readonly signature: 'auto' | false | ModelSignature;
  readonly inputExample: 'auto' | false | InputRecords;
}

/**
 * How the loaded model hands an in-memory dataset to the nodes on each `predict` call (Kedro's
 * MemoryDataset `copy_mode`): `assign` passes the same object (fastest; nodes must not mutate
 * their inputs), `copy` a shallow copy, `deepcopy` a `structuredClone`.
 */
export type CopyMode = 'deepcopy' | 'copy' | 'assign';
const COPY_MODES: readonly CopyMode[] = ['assign', 'copy', 'deepcopy'];

/** Options of the packaged model (kedro-mlflow's `kpm_kwargs` of KedroPipelineModel). */
export interface KpmOptions {
  /**
   * One mode for every dataset of the inference pipeline, or a mode per dataset name (the others
   * use `'assign'`).
   * @default 'assign' (as kedro-mlflow)
   */
  readonly copyMode?: CopyMode | Readonly<Record<string, CopyMode>>;
}

/** `KpmOptions` with defaults applied. */
export interface ResolvedKpmOptions {
  readonly copyMode: CopyMode | Readonly<Record<string, CopyMode>>;
}

/** What binds a training pipeline to its inference pipeline. */
export interface PipelineMLBinding {
  /** The pipeline packaged as the model; its final outputs are the predictions. */
  readonly inference: Pipeline;
  /** The inference input the model receives at prediction time (the new data). */
  readonly inputName: string;
  /** @default { name: 'model', signature: 'auto', inputExample: 'auto' } */
  readonly logModel?: LogModelOptions;
  /** @default { copyMode: 'assign' } */
  readonly kpm?: KpmOptions;
}

/** Options of `pipelineMl()`. */
export interface PipelineMLOptions extends PipelineMLBinding {
  /** The pipeline whose run fits the artifacts (encoders, models, ...) the inference reads. */
  readonly training: Pipeline;
}

/** A PipelineML as plain JSON-safe data. */
export interface PipelineMLDescription extends PipelineDescription {
  readonly inputName: string;
  readonly inference: PipelineDescription;
  readonly inferenceOutputs: readonly string[];
  readonly artifactInputs: readonly string[];
  readonly paramInputs: readonly string[];
  readonly logModel: ResolvedLogModelOptions;
  readonly kpm: ResolvedKpmOptions;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return `an object ${value.constructor?.name ?? 'Object'}`;
  return `${typeof value} ${String(value)}`;
}

function optionalString(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0)
    throw new PipelineMLOptionError(option, 'a non-empty string', describeValue(value));
  return value;
}

function resolveLogModel(options: LogModelOptions | undefined): ResolvedLogModelOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new PipelineMLOptionError('logModel', 'an object', describeValue(options));
  const o = options ?? {};
  const name = optionalString('logModel.name', o.name) ?? DEFAULT_MODEL_NAME;
  const bad = BAD_MODEL_NAME_CHARS.filter((c) => name.includes(c));
  if (bad.length)
    throw new PipelineMLOptionError(
      'logModel.name',
      `a name without ${BAD_MODEL_NAME_CHARS.map((c) => `'${c}'`).join(' ')}`,
      `${JSON.stringify(name)} (contains ${bad.map((c) => `'${c}'`).join(' ')})`,
      { hint: 'it is the LoggedModel name and the artifact path of the model' },
    );
  const registeredModelName = optionalString('logModel.registeredModelName', o.registeredModelName);
  const alias = optionalString('logModel.alias', o.alias);
  if (alias !== undefined) {
    if (registeredModelName === undefined)
      throw new PipelineMLOptionError(
        'logModel.alias',
        'logModel.alias together with logModel.registeredModelName',
        `alias ${JSON.stringify(alias)} without registeredModelName`,
        { hint: 'an alias points at a version of a registered model: set registeredModelName' },
      );
    try {
      validateAlias(alias);
    } catch (cause) {
      throw new PipelineMLOptionError(
        'logModel.alias',
        "an alias other than 'latest' and 'v<digits>'",
        JSON.stringify(alias),
        { cause, hint: "e.g. 'champion'" },
      );
    }
  }
  const signature = o.signature ?? 'auto';
  if (signature !== 'auto' && signature !== false && !isSignature(signature))
    throw new PipelineMLOptionError(
      'logModel.signature',
      "'auto', false or an MLflow signature { inputs, outputs?, params? }",
      describeValue(signature),
    );
  const inputExample = o.inputExample ?? 'auto';
  if (
    inputExample !== 'auto' &&
    inputExample !== false &&
    !(
      Array.isArray(inputExample) &&
      inputExample.length > 0 &&
      inputExample.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))
    )
  )
    throw new PipelineMLOptionError(
      'logModel.inputExample',
      "'auto', false or a non-empty array of records (one object per row)",
      describeValue(inputExample),
    );
  return Object.freeze({
    name,
    ...(registeredModelName === undefined ? {} : { registeredModelName }),
    ...(alias === undefined ? {} : { alias }),
    signature,
    inputExample,
  });
}

function isSignature(value: unknown): value is ModelSignature {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { inputs?: unknown }).inputs)
  );
}

function resolveKpm(options: KpmOptions | undefined, inference: Pipeline): ResolvedKpmOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new PipelineMLOptionError('kpm', 'an object', describeValue(options));
  const copyMode = options?.copyMode ?? 'assign';
  const expected = COPY_MODES.map((m) => `'${m}'`).join(', ');
  if (typeof copyMode === 'string') {
    if (!COPY_MODES.includes(copyMode))
      throw new PipelineMLOptionError(
        'kpm.copyMode',
        `one of ${expected}`,
        describeValue(copyMode),
      );
    return Object.freeze({ copyMode });
  }
  if (typeof copyMode !== 'object' || copyMode === null || Array.isArray(copyMode))
    throw new PipelineMLOptionError(
      'kpm.copyMode',
      `one of ${expected}, or an object { dataset: mode }`,
      describeValue(copyMode),
    );
  const datasets = inference.datasets();
  for (const [dataset, mode] of Object.entries(copyMode)) {
    if (!datasets.includes(dataset))
      throw new PipelineMLOptionError(
        `kpm.copyMode.${dataset}`,
        'a dataset of the inference pipeline',
        `'${dataset}'.${didYouMean(dataset, datasets)}`,
      );
    if (!COPY_MODES.includes(mode))
      throw new PipelineMLOptionError(
        `kpm.copyMode.${dataset}`,
        `one of ${expected}`,
        describeValue(mode),
      );
  }
  return Object.freeze({ copyMode: Object.freeze({ ...copyMode }) });
}

/** Inference inputs neither `inputName`, nor produced or read by `training`, nor parameters. */
function freeInputs(training: Pipeline, inference: Pipeline, inputName: string): string[] {
  const known = new Set([...training.allOutputs(), ...training.inputs()]);
  return inference.inputs().filter((d) => d !== inputName && !known.has(d) && !isParameter(d));
}

function emitFilterWarning(error: FreeInputsError): void {
  const message =
    `A filter or composition of a PipelineML dropped the training nodes behind inference inputs ` +
    `${error.datasets.map((d) => `'${d}'`).join(', ')}: the result is the plain training ` +
    `Pipeline and running it will not log a model.`;
  if (typeof process !== 'undefined' && typeof process.emitWarning === 'function')
    process.emitWarning(message, {
      type: 'PipelineMLWarning',
      code: PIPELINE_ML_FILTER_WARNING,
      detail:
        'Filter the training pipeline so it still produces these datasets, or run it knowingly without packaging.',
    });
}

/**
 * A training pipeline bound to its inference pipeline. Build with `pipelineMl()`. Immutable;
 * `Pipeline` methods work on the training nodes.
 */
export class PipelineML extends Pipeline {
  declare readonly [PIPELINE_ML_BRAND]: true;
  /** The pipeline packaged as the model. */
  readonly inference: Pipeline;
  /** The inference input the model receives at prediction time. */
  readonly inputName: string;
  /** How the model is logged (defaults applied). */
  readonly logModel: ResolvedLogModelOptions;
  /** Options of the packaged model (defaults applied). */
  readonly kpm: ResolvedKpmOptions;
  #training: Pipeline | undefined;

  /**
   * Prefer `pipelineMl()`. Throws `InvalidInputNameError`, `FreeInputsError`,
   * `NoInferenceOutputError` or `PipelineMLOptionError`.
   */
  constructor(training: Iterable<PipelineItem>, binding: PipelineMLBinding) {
    super(training);
    if (typeof binding !== 'object' || binding === null)
      throw new PipelineMLOptionError(
        'options',
        '{ inference, inputName, logModel?, kpm? }',
        describeValue(binding),
      );
    const { inference, inputName } = binding;
    if (!(inference instanceof Pipeline))
      throw new PipelineMLOptionError(
        'inference',
        'a Pipeline (from pipeline())',
        describeValue(inference),
      );
    if (typeof inputName !== 'string')
      throw new PipelineMLOptionError(
        'inputName',
        'the name of an inference input',
        describeValue(inputName),
      );
    if (inference.outputs().length === 0)
      throw new NoInferenceOutputError(inference.nodes.map((n) => n.name));
    if (!inference.inputs().includes(inputName))
      throw new InvalidInputNameError(inputName, inference.inputs());
    const free = freeInputs(this, inference, inputName);
    if (free.length) throw new FreeInputsError(free, inputName);
    this.inference = inference;
    this.inputName = inputName;
    this.logModel = resolveLogModel(binding.logModel);
    this.kpm = resolveKpm(binding.kpm, inference);
    Object.defineProperty(this, PIPELINE_ML_BRAND, { value: true, enumerable: false });
    if (new.target === PipelineML) Object.freeze(this);
  }

  /**
   * Filters and composition: a PipelineML with the same binding when the selected training nodes
   * still leave no free inference input, else the plain training Pipeline (and a process warning
   * with code `TEMPORAL_MLFLOW_PIPELINEML_FILTER`).
   */
  protected override derive(nodes: readonly Node[]): Pipeline {
    try {
      return new PipelineML(nodes, this.#binding());
    } catch (error) {
      if (!(error instanceof FreeInputsError)) throw error;
      emitFilterWarning(error);
      return new Pipeline(nodes);
    }
  }

  #binding(): PipelineMLBinding {
    return {
      inference: this.inference,
      inputName: this.inputName,
      logModel: this.logModel,
      kpm: this.kpm,
    };
  }

  /** The training nodes as a plain Pipeline (kedro-mlflow's `training`). */
  get training(): Pipeline {
    return (this.#training ??= new Pipeline(this.nodes));
  }

  /** The inference pipeline's inputs, sorted (`inputName`, artifacts and parameters). */
  inferenceInputs(): readonly string[] {
    return this.inference.inputs();
  }

  /** The inference pipeline's final outputs, sorted: what `predict` returns. */
  inferenceOutputs(): readonly string[] {
    return this.inference.outputs();
  }

  /**
   * Inference inputs other than `inputName` and parameters, sorted: the datasets fitted or read by
   * training that must be persisted in the catalog and are copied into the packaged model.
   */
  artifactInputs(): readonly string[] {
    return this.inference.inputs().filter((d) => d !== this.inputName && !isParameter(d));
  }

  /** Inference parameter inputs (`params:*`, `parameters`), sorted: the model's params. */
  paramInputs(): readonly string[] {
    return this.inference.inputs().filter((d) => d !== this.inputName && isParameter(d));
  }

  /** The copy mode of one inference dataset (see `KpmOptions.copyMode`). */
  copyModeFor(dataset: string): CopyMode {
    const { copyMode } = this.kpm;
    return typeof copyMode === 'string' ? copyMode : (copyMode[dataset] ?? 'assign');
  }

  /** The training execution order, then the inference pipeline and its binding. */
  override describe(): string {
    return [
      super.describe(),
      `#### Inference pipeline (inputName: ${this.inputName}) ####`,
      `Artifacts: ${this.artifactInputs().join(', ')}`,
      `Parameters: ${this.paramInputs().join(', ')}`,
      this.inference.describe(),
    ].join('\n');
  }

  override toString(): string {
    return `PipelineML(inputName='${this.inputName}', training=${super.toString()}, inference=${this.inference.toString()})`;
  }

  override toJSON(): PipelineMLDescription {
    return {
      ...super.toJSON(),
      inputName: this.inputName,
      inference: this.inference.toJSON(),
      inferenceOutputs: this.inferenceOutputs(),
      artifactInputs: this.artifactInputs(),
      paramInputs: this.paramInputs(),
      logModel: this.logModel,
      kpm: this.kpm,
    };
  }
}

/** True for a PipelineML, even one built by another copy of this package. */
export function isPipelineMl(value: unknown): value is PipelineML {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [PIPELINE_ML_BRAND]?: unknown })[PIPELINE_ML_BRAND] === true
  );
}

/**
 * Binds a training pipeline to its inference pipeline (kedro-mlflow's `pipeline_ml_factory`).
 * When the training run succeeds, the inference pipeline is packaged with the training outputs
 * it reads and logged to MLflow as a model.
 *
 * @example
 * pipelineMl({
 *   training: project.onlyNodesWithTags('training'),
 *   inference: project.onlyNodesWithTags('inference'),
 *   inputName: 'instances',
 *   logModel: { registeredModelName: 'churn', alias: 'champion' },
 * })
 */
export function pipelineMl(options: PipelineMLOptions): PipelineML {
  if (typeof options !== 'object' || options === null)
    throw new PipelineMLOptionError(
      'options',
      '{ training, inference, inputName, logModel?, kpm? }',
      describeValue(options),
    );
  if (!(options.training instanceof Pipeline))
    throw new PipelineMLOptionError(
      'training',
      'a Pipeline (from pipeline())',
      describeValue(options.training),
    );
  return new PipelineML(options.training.nodes, options);
}

/** Alias of `pipelineMl`, kedro-mlflow's name. */
export const pipelineMlFactory = pipelineMl;
