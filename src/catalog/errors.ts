/**
 * The configuration and catalog error family. Every configuration mistake is a
 * `CatalogConfigError` (non-retryable inside activities) naming the file and the key; messages
 * never contain credential values.
 */
import { DatasetNotFoundError } from '../datasets/errors.js';

/** One configuration problem: where (file, key path) and what. */
export interface ConfigIssue {
  /** Dotted-path segments from the config root, e.g. `['catalog', 'companies', 'filepath']`. */
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** The file that defines the offending entry, when known. */
  readonly file?: string | undefined;
}

/** `  ✖ missing filepath → at catalog.companies.filepath (conf/base/catalog.yml)` */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((issue) => {
      const at = issue.path.length ? ` → at ${issue.path.join('.')}` : '';
      return `  ✖ ${issue.message}${at}${issue.file ? ` (${issue.file})` : ''}`;
    })
    .join('\n');
}

/** Base of every configuration error: the project's `conf/` or catalog is invalid. */
export class CatalogConfigError extends Error {
  override readonly name: string = 'CatalogConfigError';
  readonly issues: readonly ConfigIssue[];
  /** The main file concerned, when there is one. */
  readonly file: string | undefined;

  constructor(
    message: string,
    options: { issues?: readonly ConfigIssue[]; file?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.issues = options.issues ?? [{ path: [], message, file: options.file }];
    this.file = options.file;
  }

  /** An error listing every issue, e.g. `Invalid catalog (2 issues):\n  ✖ ...`. */
  static fromIssues(
    title: string,
    issues: readonly ConfigIssue[],
    cause?: unknown,
  ): CatalogConfigError {
    const count = issues.length === 1 ? '1 issue' : `${issues.length} issues`;
    const files = [
      ...new Set(issues.map((issue) => issue.file).filter((f): f is string => Boolean(f))),
    ];
    return new CatalogConfigError(`${title} (${count}):\n${formatIssues(issues)}`, {
      issues,
      file: files.length === 1 ? files[0] : undefined,
      cause,
    });
  }
}

/** A config file is not valid YAML (or not a mapping at its top level). */
export class ConfigParseError extends CatalogConfigError {
  override readonly name: string = 'ConfigParseError';
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(
    message: string,
    options: {
      file: string;
      line?: number | undefined;
      column?: number | undefined;
      cause?: unknown;
    },
  ) {
    super(message, { file: options.file, cause: options.cause });
    this.line = options.line;
    this.column = options.column;
  }
}

/** Two files of one environment define the same top-level key (as Kedro refuses). */
export class DuplicateConfigKeyError extends CatalogConfigError {
  override readonly name: string = 'DuplicateConfigKeyError';
  readonly key: string;
  readonly files: readonly string[];

  constructor(key: string, files: readonly string[]) {
    super(
      `Duplicate key '${key}' in ${files.join(' and ')}: within one environment each top-level key must be defined once`,
      {
        file: files[0],
        issues: files.map((file) => ({ path: [key], message: 'duplicate key', file })),
      },
    );
    this.key = key;
    this.files = files;
  }
}

/** A `${...}` reference cannot be resolved (unknown key, unknown resolver, env not allowed). */
export class InterpolationError extends CatalogConfigError {
  override readonly name: string = 'InterpolationError';
  /** Dotted path of the value holding the reference. */
  readonly keyPath: string;
  readonly expression: string;

  constructor(
    message: string,
    options: { file?: string | undefined; keyPath: string; expression: string },
  ) {
    super(message, {
      file: options.file,
      issues: [{ path: options.keyPath.split('.'), message, file: options.file }],
    });
    this.keyPath = options.keyPath;
    this.expression = options.expression;
  }
}

/** `--params` text that is not `key=value[,key=value...]`. */
export class RuntimeParamsError extends CatalogConfigError {
  override readonly name: string = 'RuntimeParamsError';
  readonly item: string;

  constructor(message: string, item: string) {
    super(message);
    this.item = item;
  }
}

/** A catalog entry names a `credentials:` key that credentials.yml does not define. */
export class CredentialsNotFoundError extends CatalogConfigError {
  override readonly name: string = 'CredentialsNotFoundError';
  readonly dataset: string;
  readonly key: string;

  constructor(
    message: string,
    options: {
      dataset: string;
      key: string;
      file?: string | undefined;
      issues?: readonly ConfigIssue[];
    },
  ) {
    super(message, { file: options.file, issues: options.issues });
    this.dataset = options.dataset;
    this.key = options.key;
  }
}

/** `params:<key>` names a parameter that does not exist. */
export class ParameterNotFoundError extends DatasetNotFoundError {
  override readonly name: string = 'ParameterNotFoundError';
  readonly key: string;

  constructor(message: string, options: { key: string; suggestion?: string | undefined }) {
    super(message, { dataset: `params:${options.key}`, suggestion: options.suggestion });
    this.key = options.key;
  }
}
