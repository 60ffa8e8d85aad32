/**
 * The dataset error family. Every failure of a dataset's load/save/exists surfaces as a
 * `DatasetError` (or a subclass) naming the catalog entry and the dataset's description, with
 * the original failure as `cause`. Descriptions never contain credentials.
 */

/** Operations of the dataset contract that can fail. */
export type DatasetOperation = 'load' | 'save' | 'exists' | 'release';

/** One validation problem in a dataset's configuration, with its path inside the entry. */
export interface DatasetConfigIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export interface DatasetErrorOptions {
  /** Catalog name of the dataset (e.g. `companies`). */
  dataset?: string | undefined;
  /** The dataset's JSON-safe `describe()` output. */
  description?: Record<string, unknown> | undefined;
  operation?: DatasetOperation | undefined;
  cause?: unknown;
}

/** A dataset failed to load, save, check existence or release its data. */
export class DatasetError extends Error {
  override readonly name: string = 'DatasetError';
  readonly dataset: string | undefined;
  readonly description: Readonly<Record<string, unknown>> | undefined;
  readonly operation: DatasetOperation | undefined;

  constructor(message: string, options: DatasetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.dataset = options.dataset;
    this.description = options.description;
    this.operation = options.operation;
  }
}

/** No dataset (nor dataset pattern) of that name exists in the catalog. */
export class DatasetNotFoundError extends DatasetError {
  override readonly name: string = 'DatasetNotFoundError';
  /** The closest known name, when one is close enough to be a likely typo. */
  readonly suggestion: string | undefined;

  constructor(
    message: string,
    options: DatasetErrorOptions & { suggestion?: string | undefined } = {},
  ) {
    super(message, options);
    this.suggestion = options.suggestion;
  }
}

/** A versioned dataset has no version to load (none saved yet, or the pinned one is absent). */
export class VersionNotFoundError extends DatasetError {
  override readonly name: string = 'VersionNotFoundError';
  /** The pinned version asked for; undefined when the latest was asked for. */
  readonly version: string | undefined;
  /** Versions that do exist, newest first. */
  readonly available: readonly string[];

  constructor(
    message: string,
    options: DatasetErrorOptions & {
      version?: string | undefined;
      available?: readonly string[];
    } = {},
  ) {
    super(message, options);
    this.version = options.version;
    this.available = options.available ?? [];
  }
}

/** A dataset's configuration is invalid (unknown key, missing `filepath`, wrong option value). */
export class DatasetConfigError extends DatasetError {
  override readonly name: string = 'DatasetConfigError';
  /** The dataset `type:` string, when known. */
  readonly type: string | undefined;
  readonly issues: readonly DatasetConfigIssue[];

  constructor(
    message: string,
    options: DatasetErrorOptions & {
      type?: string | undefined;
      issues?: readonly DatasetConfigIssue[];
    } = {},
  ) {
    super(message, options);
    this.type = options.type;
    this.issues = options.issues ?? [{ path: [], message }];
  }
}

/** The `type:` string names no registered dataset type (YAML never loads arbitrary modules). */
export class UnknownDatasetTypeError extends DatasetConfigError {
  override readonly name: string = 'UnknownDatasetTypeError';
  /** Every registered type, sorted. */
  readonly knownTypes: readonly string[];
  readonly suggestion: string | undefined;

  constructor(
    message: string,
    options: DatasetErrorOptions & {
      type: string;
      knownTypes: readonly string[];
      suggestion?: string | undefined;
    },
  ) {
    super(message, { ...options, issues: [{ path: ['type'], message }] });
    this.knownTypes = options.knownTypes;
    this.suggestion = options.suggestion;
  }
}

/**
 * A dataset's file path resolves outside the project folder and outside every absolute location
 * the catalog declares (e.g. `..` brought in by a factory placeholder or a runtime parameter).
 */
export class DatasetPathError extends DatasetConfigError {
  override readonly name: string = 'DatasetPathError';
  /** The path as configured (after placeholders and `${...}` were substituted). */
  readonly filepath: string;
  /** The absolute path it resolves to. */
  readonly resolvedPath: string;
  /** The folders (and declared files) a path may lie in, the project folder first. */
  readonly allowedRoots: readonly string[];

  constructor(
    dataset: string,
    filepath: string,
    resolvedPath: string,
    allowedRoots: readonly string[],
  ) {
    const [project, ...declared] = allowedRoots;
    const declaredNote = declared.length
      ? ` nor inside a location declared in the catalog (${declared.join(', ')})`
      : '';
    const message =
      `Dataset '${dataset}': filepath '${filepath}' resolves to ${resolvedPath}, which is not inside the ` +
      `project folder ${project ?? '(none)'}${declaredNote}. Paths built from dataset names (factory ` +
      `patterns) or runtime parameters must stay in the project; to use a folder outside it, write its ` +
      `absolute path in the catalog.`;
    super(message, { dataset, issues: [{ path: ['filepath'], message }] });
    this.filepath = filepath;
    this.resolvedPath = resolvedPath;
    this.allowedRoots = allowedRoots;
  }
}

/**
 * A public `DataCatalog` method was given an argument of the wrong shape (a dataset name that is
 * not a string, datasets that are not `Dataset` objects, ...).
 */
export class DatasetArgumentError extends DatasetError {
  override readonly name: string = 'DatasetArgumentError';
  /** The method called, e.g. `load`. */
  readonly method: string;
  /** Path of the offending value among the arguments, e.g. `name` or `datasets.companies`. */
  readonly argument: string;

  constructor(options: {
    method: string;
    /** The parameters as the signature names them, e.g. `name` or `name, data`. */
    parameters: string;
    argument: string;
    expected: string;
    received: string;
  }) {
    super(
      `DataCatalog.${options.method}(${options.parameters}): expected ${options.expected}, ` +
        `received ${options.received} → at ${options.argument}.`,
    );
    this.method = options.method;
    this.argument = options.argument;
  }
}
