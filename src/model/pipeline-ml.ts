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
import { parseDuration } from '../pipeline/node-options.js';
import type { Node, PipelineDescription, PipelineItem } from '../pipeline/index.js';
import { didYouMean } from '../utils/suggest.js';
import {
  FreeInputsError,
  InvalidInputNameError,
  NoInferenceOutputError,
  PipelineMLOptionError,
} from './errors.js';
import type { ModelSignature } from './signature.js';
import { describeValue } from '../utils/describe-value.js';

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

/**
 * The promotion gate (champion/challenger): once the model is registered and its run has closed
 * successfully, its metric is compared with the metric of the run of the version holding `alias`;
 * the alias moves only when the new model is better by more than `minImprovement`, or when no
 * version holds it. The decision and its reason are tagged on the new version.
 */
export interface PromoteOptions {
  /** The alias that moves. @default logModel.alias */
  readonly alias?: string;
  /** A metric logged to the training run (e.g. by an `MlflowMetricDataset`). */
  readonly metric: string;
  /** @default true */
  readonly greaterIsBetter?: boolean;
  /** How much better the new model must be (absolute, in the metric's unit). @default 0 */
  readonly minImprovement?: number;
  /**
   * Wait for a person: the workflow waits durably for the `approve` / `reject` Update
   * (`temporal-mlflow approve <workflow-id>`) before moving the alias. @default false
   */
  readonly requireApproval?: boolean;
  /** How long to wait for approval before giving up (nothing promoted). @default '7d' */
  readonly approvalTimeout?: string | number;
}

/** `PromoteOptions` with defaults applied. */
export interface ResolvedPromoteOptions {
  readonly alias: string;
  readonly metric: string;
  readonly greaterIsBetter: boolean;
  readonly minImprovement: number;
  readonly requireApproval: boolean;
  readonly approvalTimeoutMs: number;
}

/** Default of `PromoteOptions.approvalTimeout`. */
export const DEFAULT_APPROVAL_TIMEOUT = '7d';

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
  /** The promotion gate; without it, `logModel.alias` moves whenever training succeeds. */
  readonly promote?: PromoteOptions;
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
  readonly promote?: ResolvedPromoteOptions;
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

const PROMOTE_KEYS = [
  'alias',
  'metric',
  'greaterIsBetter',
  'minImprovement',
  'requireApproval',
  'approvalTimeout',
] as const;

/**
 * Validates `promote` collecting every issue (zod's way) and reports them in one
 * `PipelineMLOptionError` naming the first one's path, with the full list as the hint.
 */
function resolvePromote(
  options: PromoteOptions | undefined,
  logModel: ResolvedLogModelOptions,
): ResolvedPromoteOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new PipelineMLOptionError(
      'promote',
      '{ metric, alias?, greaterIsBetter?, minImprovement?, requireApproval?, approvalTimeout? }',
      describeValue(options),
    );
  const issues: { path: string; expected: string; received: string }[] = [];
  const issue = (path: string, expected: string, value: unknown): void =>
    void issues.push({ path: `promote.${path}`, expected, received: describeValue(value) });
  for (const key of Object.keys(options))
    if (!(PROMOTE_KEYS as readonly string[]).includes(key))
      issue(key, `one of ${PROMOTE_KEYS.join(', ')}${didYouMean(key, PROMOTE_KEYS)}`, key);
  const alias = options.alias ?? logModel.alias;
  if (alias === undefined || typeof alias !== 'string' || alias.length === 0)
    issue('alias', 'an alias (here or in logModel.alias)', options.alias);
  else {
    try {
      validateAlias(alias);
    } catch {
      issue('alias', "an alias other than 'latest' and 'v<digits>'", alias);
    }
  }
  if (logModel.registeredModelName === undefined)
    issue(
      'alias',
      'logModel.registeredModelName (an alias points at a registered version)',
      'no registeredModelName',
    );
  if (typeof options.metric !== 'string' || options.metric.length === 0)
    issue('metric', 'the name of a metric the training run logs', options.metric);
  const greaterIsBetter = options.greaterIsBetter ?? true;
  if (typeof greaterIsBetter !== 'boolean') issue('greaterIsBetter', 'a boolean', greaterIsBetter);
  const minImprovement = options.minImprovement ?? 0;
  if (typeof minImprovement !== 'number' || !Number.isFinite(minImprovement) || minImprovement < 0)
    issue('minImprovement', 'a finite number >= 0', minImprovement);
  const requireApproval = options.requireApproval ?? false;
  if (typeof requireApproval !== 'boolean') issue('requireApproval', 'a boolean', requireApproval);
  const timeout = options.approvalTimeout ?? DEFAULT_APPROVAL_TIMEOUT;
  const approvalTimeoutMs =
    typeof timeout === 'number'
      ? timeout
      : typeof timeout === 'string'
        ? parseDuration(timeout)
        : NaN;
  if (
    approvalTimeoutMs === undefined ||
    !Number.isFinite(approvalTimeoutMs) ||
    approvalTimeoutMs <= 0
  )
    issue('approvalTimeout', "a duration such as '7d', '12h', '30s', or milliseconds > 0", timeout);
  const [first] = issues;
  if (first)
    throw new PipelineMLOptionError(first.path, first.expected, first.received, {
      hint: issues
        .map((i) => `✖ expected ${i.expected}, got ${i.received} → at ${i.path}`)
        .join('\n'),
    });
  return Object.freeze({
    alias: alias as string,
    metric: options.metric,
    greaterIsBetter,
    minImprovement,
    requireApproval,
    approvalTimeoutMs: approvalTimeoutMs as number,
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
  /** The promotion gate (defaults applied), when declared. */
  readonly promote: ResolvedPromoteOptions | undefined;
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
    this.promote = isResolvedPromote(binding.promote)
      ? binding.promote
      : resolvePromote(binding.promote, this.logModel);
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
      ...(this.promote ? { promote: this.promote as PromoteOptions } : {}),
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
      ...(this.promote ? { promote: this.promote } : {}),
    };
  }
}

/** A promote option resolved already (a derived PipelineML passes its own on). */
function isResolvedPromote(value: unknown): value is ResolvedPromoteOptions {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ResolvedPromoteOptions).approvalTimeoutMs === 'number' &&
    Object.isFrozen(value)
  );
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
