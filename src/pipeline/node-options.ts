/**
 * Node options as users write them (`NodeOptions`) and their normalised forms: dataset specs,
 * retry policy, timeouts in milliseconds, sorted tags. Every check names the node.
 */
import { InvalidNameError, InvalidNodeDefinitionError } from './errors.js';

/**
 * How a node's inputs or outputs are wired to datasets:
 * - `undefined` / `null`: none;
 * - a string: one dataset (the single argument, or the whole return value);
 * - an array: positional arguments, or a returned tuple of the same length;
 * - an object `{ key: datasetName }`: one object argument, or a returned object, with those keys.
 */
export type DatasetSpec =
  string | readonly string[] | Readonly<Record<string, string>> | null | undefined;

/** Retry policy of a node's execution (the Temporal activity retry policy, in milliseconds). */
export interface RetryOptions {
  /** Total attempts, the first included. 1 disables retries; 0 means unlimited (Temporal semantics). */
  readonly maximumAttempts?: number;
  /** Delay before the first retry, in ms. */
  readonly initialIntervalMs?: number;
  /** Upper bound of the delay between retries, in ms. */
  readonly maximumIntervalMs?: number;
  /** Factor applied to the delay after each retry; at least 1. */
  readonly backoffCoefficient?: number;
  /** `error.name`s that must not be retried. */
  readonly nonRetryableErrorTypes?: readonly string[];
}

/** Options of `node(fn, options)`. */
export interface NodeOptions {
  /** Datasets the function reads. @default undefined (no inputs) */
  readonly inputs?: DatasetSpec;
  /** Datasets the function writes. @default undefined (no outputs; the return value is ignored) */
  readonly outputs?: DatasetSpec;
  /** Node name: letters, digits, `_`, `-` and `.`. @default `fnName([in1,in2]) -> [out1]` */
  readonly name?: string;
  /** Tags used by filters (`onlyNodesWithTags`, `--tags`). @default [] */
  readonly tags?: string | readonly string[];
  /** Retry policy when the node runs as a Temporal activity. @default the worker's policy */
  readonly retry?: RetryOptions;
  /** Time limit of one attempt: milliseconds, or a duration such as `'30s'`, `'5m'`, `'1h30m'`. */
  readonly timeout?: number | string;
  /** Namespace of the node (set by modular pipelines); prefixes its name. @default undefined */
  readonly namespace?: string;
  /**
   * `false` keeps the function on the event loop when the runner executes nodes in worker threads
   * (for async I/O nodes, or values that cannot be structured-cloned). See docs/execution.md.
   * @default true
   */
  readonly thread?: boolean;
  /**
   * `true` runs the node as a Temporal *local activity*: in the worker that runs the workflow, with
   * no task round trip through the server (same retry, timeout, cache and MLflow tracking). For
   * short, light nodes only (seconds at most: a local activity cannot heartbeat). See
   * docs/execution.md. @default false
   */
  readonly local?: boolean;
}

/** A `DatasetSpec` after validation. */
export type NormalizedSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'single'; readonly dataset: string }
  | { readonly kind: 'list'; readonly datasets: readonly string[] }
  | {
      readonly kind: 'dict';
      readonly entries: readonly (readonly [key: string, dataset: string])[];
    };

const NAME_PATTERN = /^[\p{L}\p{N}_.-]+$/u;
const TAG_PATTERN = /^[\p{L}\p{N}_.:/-]+$/u;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array ${JSON.stringify(value)}`;
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    try {
      return `object ${JSON.stringify(value)}`;
    } catch {
      return 'object';
    }
  }
  return `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}

/** True for `params:x` and `parameters`, which the catalog resolves from parameters. */
export function isParameter(dataset: string): boolean {
  return dataset === 'parameters' || dataset.startsWith('params:');
}

export function checkDatasetName(value: unknown, node: string, field: string): string {
  if (typeof value !== 'string') {
    throw new InvalidNodeDefinitionError(node, field, 'dataset names as strings', describe(value));
  }
  if (value.length === 0 || value.trim() !== value || value === 'params:') {
    throw new InvalidNameError(
      'dataset',
      value,
      node,
      'a non-empty name without surrounding spaces (`params:<key>` for a parameter)',
    );
  }
  return value;
}

export function checkNodeName(value: unknown, node: string): string {
  if (typeof value !== 'string')
    throw new InvalidNodeDefinitionError(node, 'name', 'a string', describe(value));
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidNameError(
      'node',
      value,
      undefined,
      'a non-empty name of letters, digits, "_", "-" and "."',
    );
  }
  return value;
}

export function checkNamespace(value: unknown, node: string | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    typeof value !== 'string' ||
    !NAME_PATTERN.test(value) ||
    value.startsWith('.') ||
    value.endsWith('.') ||
    value.includes('..')
  ) {
    throw new InvalidNameError(
      'namespace',
      String(value),
      node,
      'dot-separated parts of letters, digits, "_" and "-"',
    );
  }
  return value;
}

export function normalizeSpec(
  spec: unknown,
  node: string,
  field: 'inputs' | 'outputs',
): NormalizedSpec {
  if (spec === undefined || spec === null) return { kind: 'none' };
  if (typeof spec === 'string')
    return { kind: 'single', dataset: checkDatasetName(spec, node, field) };
  if (Array.isArray(spec)) {
    return {
      kind: 'list',
      datasets: Object.freeze(
        spec.map((d: unknown, i) => checkDatasetName(d, node, `${field}[${i}]`)),
      ),
    };
  }
  if (typeof spec === 'object' && Object.getPrototypeOf(spec) === Object.prototype) {
    const entries = Object.entries(spec as Record<string, unknown>).map(([key, d]) =>
      Object.freeze([key, checkDatasetName(d, node, `${field}.${key}`)] as const),
    );
    return { kind: 'dict', entries: Object.freeze(entries) };
  }
  throw new InvalidNodeDefinitionError(
    node,
    field,
    'a dataset name, an array of names or an object {key: name}',
    describe(spec),
  );
}

/** Dataset names of a spec, in declaration order (duplicates kept). */
export function specDatasets(spec: NormalizedSpec): readonly string[] {
  switch (spec.kind) {
    case 'none':
      return [];
    case 'single':
      return [spec.dataset];
    case 'list':
      return spec.datasets;
    case 'dict':
      return spec.entries.map(([, d]) => d);
  }
}

/** The spec back in the form users write, with every dataset renamed. */
export function renameSpec(spec: NormalizedSpec, rename: (dataset: string) => string): DatasetSpec {
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'single':
      return rename(spec.dataset);
    case 'list':
      return spec.datasets.map(rename);
    case 'dict':
      return Object.fromEntries(spec.entries.map(([k, d]) => [k, rename(d)]));
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d))+\s*$/;

/** Milliseconds of `30s`, `5m`, `1h30m`, `250ms`, `2d`; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
  }
  return total;
}

export function normalizeTimeout(value: unknown, node: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms =
    typeof value === 'number'
      ? value
      : typeof value === 'string'
        ? parseDuration(value)
        : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidNodeDefinitionError(
      node,
      'timeout',
      "a positive number of ms or a duration such as '30s', '5m', '1h30m'",
      describe(value),
    );
  }
  return ms;
}

export function normalizeRetry(value: unknown, node: string): RetryOptions | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidNodeDefinitionError(
      node,
      'retry',
      'an object { maximumAttempts?, initialIntervalMs?, ... }',
      describe(value),
    );
  }
  const v = value as Record<string, unknown>;
  const known = [
    'maximumAttempts',
    'initialIntervalMs',
    'maximumIntervalMs',
    'backoffCoefficient',
    'nonRetryableErrorTypes',
  ];
  const unknown = Object.keys(v).filter((key) => !known.includes(key));
  if (unknown.length) {
    throw new InvalidNodeDefinitionError(
      node,
      `retry.${unknown[0]}`,
      `only the keys ${known.join(', ')}`,
      describe(value),
    );
  }
  const check = (key: string, ok: (n: number) => boolean, expected: string): void => {
    const x = v[key];
    if (x !== undefined && (typeof x !== 'number' || !ok(x)))
      throw new InvalidNodeDefinitionError(node, `retry.${key}`, expected, describe(x));
  };
  check('maximumAttempts', (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0 (0 = unlimited)');
  check('initialIntervalMs', (n) => Number.isFinite(n) && n > 0, 'a positive number of ms');
  check('maximumIntervalMs', (n) => Number.isFinite(n) && n > 0, 'a positive number of ms');
  check('backoffCoefficient', (n) => Number.isFinite(n) && n >= 1, 'a number >= 1');
  const types = v.nonRetryableErrorTypes;
  if (
    types !== undefined &&
    (!Array.isArray(types) || types.some((t) => typeof t !== 'string' || t === ''))
  ) {
    throw new InvalidNodeDefinitionError(
      node,
      'retry.nonRetryableErrorTypes',
      'an array of error names',
      describe(types),
    );
  }
  const { initialIntervalMs: initial, maximumIntervalMs: maximum } = v as RetryOptions;
  if (initial !== undefined && maximum !== undefined && maximum < initial) {
    throw new InvalidNodeDefinitionError(
      node,
      'retry.maximumIntervalMs',
      `at least retry.initialIntervalMs (${initial})`,
      describe(maximum),
    );
  }
  const out: Record<string, unknown> = {};
  for (const key of known)
    if (v[key] !== undefined)
      out[key] =
        key === 'nonRetryableErrorTypes' ? Object.freeze([...(types as string[])]) : v[key];
  return Object.freeze(out) as RetryOptions;
}

export function normalizeThread(value: unknown, node: string): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value !== 'boolean')
    throw new InvalidNodeDefinitionError(node, 'thread', 'true or false', describe(value));
  return value;
}

export function normalizeLocal(value: unknown, node: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean')
    throw new InvalidNodeDefinitionError(node, 'local', 'true or false', describe(value));
  return value;
}

export function normalizeTags(value: unknown, node: string): readonly string[] {
  if (value === undefined || value === null) return Object.freeze([]);
  const list: unknown[] =
    typeof value === 'string' ? [value] : Array.isArray(value) ? value : [value];
  for (const tag of list) {
    if (typeof tag !== 'string')
      throw new InvalidNodeDefinitionError(
        node,
        'tags',
        'a tag or an array of tags (strings)',
        describe(value),
      );
    if (!TAG_PATTERN.test(tag)) {
      throw new InvalidNameError(
        'tag',
        tag,
        node,
        'a non-empty tag of letters, digits, "_", "-", ".", ":" and "/" (no spaces or commas)',
      );
    }
  }
  return Object.freeze([...new Set(list as string[])].sort());
}
