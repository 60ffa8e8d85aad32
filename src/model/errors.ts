/**
 * The PipelineML error family (kedro-mlflow's `KedroMlflowPipelineMLError`, one class per broken
 * rule), all extending `PipelineMLError`.
 *
 * Every class has a stable `name` (used as the Temporal failure type), readonly structured fields
 * for programs, and a message for people: what was expected, what was received (names sorted),
 * and a hint.
 */
import { ProblemError, quoteList, sortedNames } from '../utils/error-message.js';
import { closestMatch } from '../utils/suggest.js';

/** Base class of every error raised while binding, filtering or packaging a PipelineML. */
export class PipelineMLError extends ProblemError {
  override readonly name: string = 'PipelineMLError';
}

/** `inputName` is not an input of the inference pipeline. */
export class InvalidInputNameError extends PipelineMLError {
  override readonly name = 'InvalidInputNameError';
  /** The inference pipeline's inputs, sorted. */
  readonly inferenceInputs: readonly string[];
  /** The closest inference input, when `inputName` looks like a typo of it. */
  readonly suggestion?: string;

  constructor(
    readonly inputName: string,
    inferenceInputs: Iterable<string>,
  ) {
    const inputs = sortedNames(inferenceInputs);
    const suggestion = closestMatch(inputName, inputs);
    super(
      `inputName '${inputName}' is not an input of the inference pipeline` +
        (suggestion === undefined ? '.' : ` (did you mean '${suggestion}'?).`),
      {
        expected: inputs.length
          ? `one of the inference inputs ${quoteList(inputs)}`
          : 'an input of the inference pipeline (but it has none)',
        received: `'${inputName}'`,
        hint: 'inputName is the dataset the model receives at prediction time (the new data)',
      },
    );
    this.inferenceInputs = inputs;
    if (suggestion !== undefined) this.suggestion = suggestion;
  }
}

/**
 * Inference inputs (other than `inputName` and parameters) that the training pipeline neither
 * produces nor uses: the packaged model would have no value for them ("no free input").
 */
export class FreeInputsError extends PipelineMLError {
  override readonly name = 'FreeInputsError';
  /** The free inference inputs, sorted. */
  readonly datasets: readonly string[];

  constructor(
    datasets: Iterable<string>,
    readonly inputName: string,
  ) {
    const list = sortedNames(datasets);
    super(
      `The inference pipeline has free inputs ${quoteList(list)}: no free input is allowed besides inputName '${inputName}'.`,
      {
        expected:
          'every inference input other than inputName to be produced or used by the training pipeline, or to be a parameter (params:* or parameters)',
        received: `${quoteList(list)}, neither outputs nor inputs of the training pipeline`,
        hint: `produce ${list.length === 1 ? 'it' : 'them'} in training (a fitted artifact), read ${list.length === 1 ? 'it' : 'them'} in training, or make inputName one of them`,
      },
    );
    this.datasets = list;
  }
}

/** The inference pipeline has no output, so the model would have nothing to return. */
export class NoInferenceOutputError extends PipelineMLError {
  override readonly name = 'NoInferenceOutputError';

  constructor(readonly inferenceNodes: readonly string[]) {
    super('The inference pipeline has no output: the model would have nothing to return.', {
      expected: 'at least one dataset produced and not consumed by the inference pipeline',
      received: inferenceNodes.length
        ? `nodes ${quoteList(inferenceNodes)} without final outputs`
        : 'an empty inference pipeline',
      hint: 'the final outputs of the inference pipeline are the predictions (several are allowed)',
    });
  }
}

/**
 * An inference input other than `inputName` (a fitted artifact or a training input the inference
 * reads) that the catalog does not persist: it could not be copied into the packaged model.
 * Thrown by `extractPipelineArtifacts(catalog)`.
 */
export class UnpersistedArtifactError extends PipelineMLError {
  override readonly name = 'UnpersistedArtifactError';
  /** The unpersisted inference inputs, sorted. */
  readonly datasets: readonly string[];

  constructor(
    datasets: Iterable<string>,
    options: {
      /** What each dataset is now, e.g. `{ model: 'MemoryDataset' }` or `'not in the catalog'`. */
      readonly received?: Readonly<Record<string, string>>;
      readonly cause?: unknown;
    } = {},
  ) {
    const list = sortedNames(datasets);
    const received = options.received;
    super(
      `Inference inputs ${quoteList(list)} are not persisted: they must be persisted in catalog.yml to be packaged with the model.`,
      {
        expected:
          'each inference input other than inputName declared in catalog.yml with a persisted dataset type (e.g. json.JSONDataset), not a MemoryDataset',
        received: list
          .map((name) => `'${name}': ${received?.[name] ?? 'not persisted'}`)
          .join(', '),
        hint: 'add an entry for each of them to conf/base/catalog.yml',
        cause: options.cause,
      },
    );
    this.datasets = list;
  }
}

/** An option of `pipelineMl()` is malformed, or conflicts with another one. */
export class PipelineMLOptionError extends PipelineMLError {
  override readonly name = 'PipelineMLOptionError';

  constructor(
    /** The option's path, e.g. `logModel.alias`. */
    readonly option: string,
    expected: string,
    readonly received: string,
    details: { hint?: string; cause?: unknown } = {},
  ) {
    super(`Invalid pipelineMl() option '${option}'.`, { expected, received, ...details });
  }
}

/** Packaging needs a PipelineML, and the named pipeline is a plain Pipeline. */
export class NotAPipelineMLError extends PipelineMLError {
  override readonly name = 'NotAPipelineMLError';
  constructor(readonly pipelineName: string) {
    super(
      `Pipeline '${pipelineName}' is not a PipelineML, so it has no inference pipeline to package.`,
      {
        hint: `register pipelineMl({ training, inference, inputName }) under '${pipelineName}' in temporal-mlflow.config.ts.`,
      },
    );
  }
}

/** The packaged model, loaded from its own folder, failed on its input example: it is not logged as ready. */
export class ModelVerificationError extends PipelineMLError {
  override readonly name = 'ModelVerificationError';
  constructor(
    readonly modelDir: string,
    cause: unknown,
  ) {
    super(
      `The packaged model failed when loaded from ${modelDir} and run on its input example: ${(cause as Error)?.message ?? String(cause)}`,
      {
        hint: 'run the inference pipeline locally on the same records to reproduce; the model is marked LOGGED_MODEL_UPLOAD_FAILED.',
        cause,
      },
    );
  }
}

/** A model URI or folder that cannot be loaded. */
export class ModelLoadError extends PipelineMLError {
  override readonly name = 'ModelLoadError';
  constructor(
    readonly uri: string,
    reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      `Cannot load model '${uri}': ${reason}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
  }
}

/**
 * A model folder failed its integrity check before any of its code ran: a file changed, missing
 * or added since packaging, or no hash manifest. Names the file, relative to the model folder.
 */
export class ModelIntegrityError extends PipelineMLError {
  override readonly name: string = 'ModelIntegrityError';
  constructor(
    /** The model folder. */
    readonly modelDir: string,
    /** The offending file, relative to the model folder (`/`-separated). */
    readonly file: string,
    reason: string,
    details: { expected?: string; received?: string; hint?: string } = {},
  ) {
    super(`Refusing to load the model in ${modelDir}: ${file} ${reason}`, {
      hint: 'a model is code: load only models from stores you trust, and package the model again rather than editing it (see docs/trust.md).',
      ...details,
    });
  }
}

/**
 * A file of a model folder was uploaded with other bytes than its hash manifest records (it changed
 * while packaging): the model is not finalized, and a retry uploads the folder again.
 */
export class ModelUploadMismatchError extends PipelineMLError {
  override readonly name = 'ModelUploadMismatchError';
  constructor(
    /** The model folder. */
    readonly modelDir: string,
    /** The file, relative to the model folder (`/`-separated). */
    readonly file: string,
    /** Its SHA-256 in integrity.json. */
    readonly recorded: string,
    /** The SHA-256 of the bytes uploaded, or undefined when it was not uploaded. */
    readonly uploaded: string | undefined,
  ) {
    super(`The model's ${file} was not uploaded as integrity.json records it.`, {
      expected: `SHA-256 ${recorded}`,
      received: uploaded ? `SHA-256 ${uploaded}` : 'no upload of the file',
      hint: 'nothing may write into a model folder while it is packaged; the packaging is retried.',
    });
  }
}

/**
 * A path in MLmodel (the bundle, a catalog `filepath`, ...) or in the hash manifest leaves the
 * model folder. The outside file is never read.
 */
export class UnsafeModelPathError extends ModelIntegrityError {
  override readonly name = 'UnsafeModelPathError';
  constructor(
    modelDir: string,
    file: string,
    /** Where the path is, e.g. `flavors.temporal_mlflow.catalog.model.filepath`. */
    readonly key: string,
    /** The path as written. */
    readonly path: unknown,
    reason: string,
  ) {
    super(modelDir, file, `names a path outside the model folder at ${key}.`, {
      expected: 'a path relative to the model folder that stays inside it',
      received: `${JSON.stringify(path) ?? String(path)} (${reason})`,
    });
  }
}

/**
 * A signing key is configured (`TEMPORAL_MLFLOW_SIGNING_KEY`) and the model's hash manifest is
 * unsigned or signed with another key. Names the manifest or signature file.
 */
export class ModelSignatureError extends ModelIntegrityError {
  override readonly name = 'ModelSignatureError';
  constructor(modelDir: string, file: string, reason: string) {
    super(modelDir, file, reason, {
      hint: 'load only models packaged with the same TEMPORAL_MLFLOW_SIGNING_KEY; a model is code (see docs/trust.md).',
    });
  }
}

/** The signing key is too short to sign or check models with. Never echoes the key. */
export class InvalidSigningKeyError extends PipelineMLError {
  override readonly name = 'InvalidSigningKeyError';
  constructor(
    /** Where the key came from (the env var name or the option). */
    readonly source: string,
    readonly length: number,
    readonly minLength: number,
  ) {
    super(`The model signing key (${source}) is too short.`, {
      expected: `at least ${minLength} characters`,
      received: `${length} characters`,
      hint: 'generate one with `openssl rand -hex 32`.',
    });
  }
}
