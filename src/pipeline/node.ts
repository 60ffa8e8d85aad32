/**
 * `node(fn, options)`: a function wired to datasets by name, as in Kedro. Nodes are immutable and
 * validated when built; `with*` methods return new nodes.
 */
import {
  DuplicateNodeOutputError,
  InvalidNodeDefinitionError,
  NodeInputMissingError,
  NodeInputOutputOverlapError,
  NodeOutputShapeError,
  ParameterOutputError,
  quoteList,
} from './errors.js';
import {
  checkNamespace,
  checkNodeName,
  isParameter,
  normalizeRetry,
  normalizeLocal,
  normalizeSpec,
  normalizeTags,
  normalizeThread,
  normalizeTimeout,
  renameSpec,
  specDatasets,
} from './node-options.js';
import type { DatasetSpec, NodeOptions, NormalizedSpec, RetryOptions } from './node-options.js';
import { describeValue } from '../utils/describe-value.js';
import { isPromiseLike } from '../utils/promise-like.js';

/** Any sync or async function; its arguments follow the node's `inputs` form. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NodeFunction = (...args: any[]) => unknown;

/** A node as plain JSON-safe data (for plans, logs and hooks). */
export interface NodeDescription {
  readonly name: string;
  readonly func: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly tags: readonly string[];
  readonly namespace?: string;
  readonly retry?: RetryOptions;
  readonly timeoutMs?: number;
  readonly local?: true;
}

function specToString(spec: NormalizedSpec, separator: string): string {
  const datasets = specDatasets(spec);
  return datasets.length === 0 ? 'None' : `[${datasets.join(separator)}]`;
}

function uniqueInOrder(names: readonly string[]): readonly string[] {
  return Object.freeze([...new Set(names)]);
}

/** Empty arrays and objects mean "no datasets", like `undefined`. */
function emptyToNone(spec: NormalizedSpec): NormalizedSpec {
  if (
    (spec.kind === 'list' && spec.datasets.length === 0) ||
    (spec.kind === 'dict' && spec.entries.length === 0)
  ) {
    return { kind: 'none' };
  }
  return spec;
}

/** A function wired to datasets. Build with `node()`. */
export class Node {
  /** The wrapped function. */
  readonly func: NodeFunction;
  /** `fn.name`, or `<anonymous>`. */
  readonly funcName: string;
  /** Unique name: `<namespace>.<name>`, the name defaulting to `fnName([in1,in2]) -> [out1]`. */
  readonly name: string;
  /** Namespace (set by modular pipelines), or undefined. */
  readonly namespace?: string;
  /** Dataset names read, in declaration order, each once. */
  readonly inputs: readonly string[];
  /** Dataset names written, in declaration order. */
  readonly outputs: readonly string[];
  /** Tags, sorted and unique. */
  readonly tags: readonly string[];
  readonly retry?: RetryOptions;
  /** Time limit of one attempt, in milliseconds. */
  readonly timeoutMs?: number;
  /** False when the function must run on the event loop, never in a worker thread. */
  readonly thread: boolean;
  /** True when the node runs as a Temporal local activity (in the workflow's worker). */
  readonly local: boolean;
  /** Normalised form of `options.inputs` (how `run()` builds the call arguments). */
  readonly inputSpec: NormalizedSpec;
  /** Normalised form of `options.outputs` (how `run()` reads the return value). */
  readonly outputSpec: NormalizedSpec;
  readonly #explicitName: string | undefined;

  constructor(fn: NodeFunction, options: NodeOptions) {
    const funcName = (typeof fn === 'function' && fn.name) || '<anonymous>';
    const label = typeof options?.name === 'string' && options.name ? options.name : funcName;
    if (typeof fn !== 'function') {
      throw new InvalidNodeDefinitionError(
        label,
        'func',
        'a function',
        fn === null ? 'null' : typeof fn,
      );
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new InvalidNodeDefinitionError(
        label,
        'options',
        'an object { inputs, outputs, name?, tags?, ... }',
        String(options),
      );
    }
    this.func = fn;
    this.funcName = funcName;
    this.inputSpec = emptyToNone(normalizeSpec(options.inputs, label, 'inputs'));
    this.outputSpec = emptyToNone(normalizeSpec(options.outputs, label, 'outputs'));
    const defaultName = `${funcName}(${specToString(this.inputSpec, ',')}) -> ${specToString(this.outputSpec, ',')}`;
    this.#explicitName =
      options.name === undefined ? undefined : checkNodeName(options.name, defaultName);
    const namespace = checkNamespace(options.namespace, this.#explicitName ?? defaultName);
    if (namespace !== undefined) this.namespace = namespace;
    const base = this.#explicitName ?? defaultName;
    this.name = namespace ? `${namespace}.${base}` : base;

    const outputs = specDatasets(this.outputSpec);
    const seen = new Set<string>();
    const duplicates = outputs.filter((d) => seen.has(d) || !seen.add(d));
    if (duplicates.length) throw new DuplicateNodeOutputError(this.name, duplicates);
    const parameter = outputs.find(isParameter);
    if (parameter !== undefined) throw new ParameterOutputError(this.name, parameter);
    this.inputs = uniqueInOrder(specDatasets(this.inputSpec));
    const overlap = this.inputs.filter((d) => seen.has(d));
    if (overlap.length) throw new NodeInputOutputOverlapError(this.name, overlap);
    this.outputs = Object.freeze([...outputs]);

    this.tags = normalizeTags(options.tags, this.name);
    const retry = normalizeRetry(options.retry, this.name);
    if (retry !== undefined) this.retry = retry;
    const timeoutMs = normalizeTimeout(options.timeout, this.name);
    if (timeoutMs !== undefined) this.timeoutMs = timeoutMs;
    this.thread = normalizeThread(options.thread, this.name);
    this.local = normalizeLocal(options.local, this.name);
    if (new.target === Node) Object.freeze(this);
  }

  /** Readable signature: `name: fnName([a, b]) -> [c]`; unnamed nodes print `[ns.]fnName([a, b]) -> [c]`. */
  toString(): string {
    const signature = `${this.funcName}(${specToString(this.inputSpec, ', ')}) -> ${specToString(this.outputSpec, ', ')}`;
    if (this.#explicitName !== undefined) return `${this.name}: ${signature}`;
    return this.namespace === undefined ? signature : `${this.namespace}.${signature}`;
  }

  toJSON(): NodeDescription {
    return {
      name: this.name,
      func: this.funcName,
      inputs: this.inputs,
      outputs: this.outputs,
      tags: this.tags,
      ...(this.namespace !== undefined && { namespace: this.namespace }),
      ...(this.retry !== undefined && { retry: this.retry }),
      ...(this.timeoutMs !== undefined && { timeoutMs: this.timeoutMs }),
      ...(this.local && { local: true as const }),
    };
  }

  /** The options that rebuild this node, for copies. */
  get options(): NodeOptions {
    return {
      inputs: renameSpec(this.inputSpec, (d) => d),
      outputs: renameSpec(this.outputSpec, (d) => d),
      ...(this.#explicitName !== undefined && { name: this.#explicitName }),
      tags: this.tags,
      ...(this.retry !== undefined && { retry: this.retry }),
      ...(this.timeoutMs !== undefined && { timeout: this.timeoutMs }),
      ...(this.namespace !== undefined && { namespace: this.namespace }),
      ...(!this.thread && { thread: false }),
      ...(this.local && { local: true }),
    };
  }

  /** A copy with other options (validated like a new node). */
  withOptions(changes: Partial<NodeOptions>): Node {
    return new Node(this.func, { ...this.options, ...changes });
  }

  /** A copy named `name` (still under this node's namespace, if any). */
  withName(name: string): Node {
    return this.withOptions({ name });
  }

  /** A copy with these tags added. */
  withTags(...tags: string[]): Node {
    return this.withOptions({ tags: [...this.tags, ...tags] });
  }

  /** A copy with the retry policy replaced (undefined: the worker's default). */
  withRetry(retry: RetryOptions | undefined): Node {
    return this.withOptions({ retry });
  }

  /** A copy with the time limit replaced (undefined: no node-specific limit). */
  withTimeout(timeout: number | string | undefined): Node {
    return this.withOptions({ timeout });
  }

  /** A copy under namespace `namespace` (datasets are not renamed: see `renameDatasets`). */
  withNamespace(namespace: string | undefined): Node {
    return this.withOptions({ namespace });
  }

  /** A copy with datasets renamed by a map (names not in it are kept) or a function. */
  renameDatasets(rename: Readonly<Record<string, string>> | ((dataset: string) => string)): Node {
    const fn =
      typeof rename === 'function'
        ? rename
        : (d: string) => (Object.hasOwn(rename, d) ? (rename[d] ?? d) : d);
    return this.withOptions({
      inputs: renameSpec(this.inputSpec, fn),
      outputs: renameSpec(this.outputSpec, fn),
    });
  }

  /**
   * Calls the function with the values of `inputs` (keyed by dataset name) and returns its
   * results keyed by dataset name, after checking they match the declared outputs. `invoke`
   * calls the function with its arguments somewhere else (e.g. a worker thread).
   */
  async run(
    inputs: Readonly<Record<string, unknown>>,
    invoke: (args: unknown[]) => unknown = (args) => this.func(...args),
  ): Promise<Record<string, unknown>> {
    const given = inputs ?? {};
    this.#checkInputs(given);
    const result = await invoke(this.#arguments(given));
    return this.#outputsOf(result);
  }

  /**
   * {@link run} in this thread without a promise of its own: the outputs when the function returns
   * a value, a promise of them when it returns one. For callers that call nodes one after the other
   * and would otherwise pay a microtask turn per node (a packaged model's `predict`).
   */
  call(
    inputs: Readonly<Record<string, unknown>>,
  ): Record<string, unknown> | Promise<Record<string, unknown>> {
    const given = inputs ?? {};
    this.#checkInputs(given);
    const result = this.func(...this.#arguments(given));
    return isPromiseLike(result)
      ? Promise.resolve(result).then((value) => this.#outputsOf(value))
      : this.#outputsOf(result);
  }

  #checkInputs(given: Readonly<Record<string, unknown>>): void {
    for (const dataset of this.inputs) {
      if (Object.hasOwn(given, dataset)) continue;
      const missing = this.inputs.filter((d) => !Object.hasOwn(given, d));
      throw new NodeInputMissingError(this.name, missing, Object.keys(given));
    }
  }

  #arguments(inputs: Readonly<Record<string, unknown>>): unknown[] {
    const spec = this.inputSpec;
    switch (spec.kind) {
      case 'none':
        return [];
      case 'single':
        return [inputs[spec.dataset]];
      case 'list':
        return spec.datasets.map((d) => inputs[d]);
      case 'dict':
        return [Object.fromEntries(spec.entries.map(([key, d]) => [key, inputs[d]]))];
    }
  }

  #outputsOf(result: unknown): Record<string, unknown> {
    const spec = this.outputSpec;
    switch (spec.kind) {
      case 'none':
        return {};
      case 'single':
        return { [spec.dataset]: result };
      case 'list': {
        const n = spec.datasets.length;
        const expected = `an array of ${n} value${n === 1 ? '' : 's'} for outputs [${quoteList(spec.datasets)}]`;
        if (!Array.isArray(result) || result.length !== n) {
          throw new NodeOutputShapeError(
            this.name,
            expected,
            describeValue(result),
            [],
            'return a tuple in the order of `outputs`',
          );
        }
        return Object.fromEntries(spec.datasets.map((d, i) => [d, result[i]]));
      }
      case 'dict': {
        const keys = spec.entries.map(([key]) => key);
        const expected = `an object with keys [${quoteList([...keys].sort())}]`;
        if (typeof result !== 'object' || result === null || Array.isArray(result)) {
          throw new NodeOutputShapeError(this.name, expected, describeValue(result));
        }
        const missing = keys.filter((key) => !Object.hasOwn(result, key));
        const unexpected = Object.keys(result).filter((key) => !keys.includes(key));
        if (missing.length || unexpected.length) {
          const problems = [
            missing.length
              ? `missing key${missing.length > 1 ? 's' : ''} ${quoteList(missing.sort())}`
              : '',
            unexpected.length
              ? `unexpected key${unexpected.length > 1 ? 's' : ''} ${quoteList(unexpected.sort())}`
              : '',
          ].filter(Boolean);
          throw new NodeOutputShapeError(
            this.name,
            expected,
            `${describeValue(result)} (${problems.join(', ')})`,
            [...missing, ...unexpected],
            'return exactly the keys of the `outputs` object',
          );
        }
        const record = result as Record<string, unknown>;
        return Object.fromEntries(spec.entries.map(([key, d]) => [d, record[key]]));
      }
    }
  }
}

/**
 * Wires `fn` to datasets by name.
 *
 * @example
 * node(split, { inputs: ['table', 'params:split'], outputs: ['train', 'test'], name: 'split' })
 * node(({ x, y }) => fit(x, y), { inputs: { x: 'train_x', y: 'train_y' }, outputs: 'model' })
 */
export function node(fn: NodeFunction, options: NodeOptions = {}): Node {
  return new Node(fn, options);
}

export type { DatasetSpec, NodeOptions, NormalizedSpec, RetryOptions };
