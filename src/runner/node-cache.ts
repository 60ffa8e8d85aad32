/**
 * The node cache (ZenML/Flyte-style): a node whose code, input contents and parameter values match
 * an earlier successful execution is not executed; its outputs are restored from a
 * content-addressed store. `runNode` consults it when given one (see docs/caching.md).
 *
 * A node's key is the sha256 of its code hash (function source, name, inputs/outputs wiring, tags)
 * and of each input's content hash (`params:*` inputs included, so a parameter change re-runs
 * exactly the nodes reading it; a re-run node's new outputs change its descendants' keys).
 */
import type { Data, Table } from 'apache-arrow';
import { createHash } from 'node:crypto';
import { isArrowTable } from '../datasets/arrow-module.js';
import { activeRun } from '../mlflow/active-run.js';
import type { RunInfo } from '../hooks/types.js';
import type { Node } from '../pipeline/node.js';
import { decodeValue, encodeValue } from '../temporal/value-codec.js';
import type { CacheEntry, CacheSource, CacheStore } from './cache-store.js';

/**
 * Nodes with this tag are cached (by default only they are): their function is pure, so equal code
 * and inputs give equal outputs.
 */
export const CACHE_TAG = 'deterministic';

/**
 * A node with this tag is never cached, even with `nodes: 'all'` (it reads a clock, randomness or
 * the outside world, or has side effects).
 */
export const NO_CACHE_TAG = 'no-cache';

/** MLflow run tag of a node restored from the cache: `<prefix><node>` = the run it came from. */
export const TAG_CACHED_FROM_PREFIX = 'temporal_mlflow.cached_from.';

/** Version of the key derivation: bumped when it changes, so old entries are never hit. */
const KEY_VERSION = 2;

/** Which nodes a cache applies to. */
export type CachedNodes = 'tagged' | 'all';

export interface NodeCacheOptions {
  store: CacheStore;
  /**
   * `tagged`: nodes tagged `deterministic` only (opt-in per node); `all`: every node not tagged
   * `no-cache` (for projects whose nodes are all pure). @default 'tagged'
   */
  nodes?: CachedNodes;
  /**
   * Reports a cache read or write that failed: the node then simply runs (or its result is not
   * remembered). @default process.emitWarning
   */
  warn?: (message: string) => void;
}

/** A node restored from the cache. */
export interface CacheHit {
  readonly node: string;
  readonly key: string;
  readonly outputs: Record<string, unknown>;
  /** The run that computed the outputs. */
  readonly source: CacheSource;
  /** The MLflow run id of the source when known, else its run id (what `cachedFrom` reports). */
  readonly cachedFrom: string;
}

/** The cache of node outputs over one store; safe to share between concurrent runs. */
export class NodeCache {
  readonly store: CacheStore;
  readonly nodes: CachedNodes;
  readonly #warn: (message: string) => void;

  constructor(options: NodeCacheOptions) {
    this.store = options.store;
    this.nodes = options.nodes ?? 'tagged';
    if (this.nodes !== 'tagged' && this.nodes !== 'all') {
      throw new TypeError(`nodes must be 'tagged' or 'all', got ${JSON.stringify(this.nodes)}.`);
    }
    this.#warn =
      options.warn ??
      ((message) => process.emitWarning(message, { code: 'TEMPORAL_MLFLOW_NODE_CACHE' }));
  }

  /** True for nodes tagged `deterministic` (any node with `nodes: 'all'`), never for `no-cache`. */
  applies(node: Node): boolean {
    if (node.tags.includes(NO_CACHE_TAG)) return false;
    return this.nodes === 'all' || node.tags.includes(CACHE_TAG);
  }

  /**
   * The node's cache key for these loaded inputs, or undefined when an input is not plain data
   * (a class instance or a function has no faithful content hash: the node always runs).
   */
  key(node: Node, inputs: Readonly<Record<string, unknown>>): string | undefined {
    const hash = createHash('sha256').update(
      JSON.stringify([KEY_VERSION, node.name, nodeCodeHash(node)]),
    );
    for (const name of node.inputs) {
      const content = contentHash(inputs[name]);
      if (content === undefined) return undefined;
      hash.update(JSON.stringify([name, content]));
    }
    return hash.digest('hex');
  }

  /** The outputs of an earlier successful execution with this key, decoded; undefined on a miss. */
  async lookup(node: Node, key: string): Promise<CacheHit | undefined> {
    try {
      const entry = await this.store.getEntry(key);
      if (!entry || !node.outputs.every((name) => entry.outputs[name] !== undefined))
        return undefined;
      const outputs = Object.fromEntries(
        await Promise.all(
          node.outputs.map(
            async (name) =>
              [name, await decodeValue(await this.store.getBlob(entry.outputs[name]!))] as const,
          ),
        ),
      );
      return {
        node: node.name,
        key,
        outputs,
        source: entry.source,
        cachedFrom: entry.source.mlflowRunId ?? entry.source.runId,
      };
    } catch (error) {
      this.#warn(
        `Node cache: could not read the entry of node '${node.name}' from ${describeStore(this.store)}; ` +
          `the node runs. ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  /**
   * Remembers a successful execution. Outputs that would not come back as they are (class
   * instances, functions) are not cached; a failing store is reported, never fatal.
   */
  async remember(
    node: Node,
    key: string,
    outputs: Readonly<Record<string, unknown>>,
    run: RunInfo,
  ): Promise<boolean> {
    if (!node.outputs.every((name) => isPlainData(outputs[name]))) return false;
    try {
      const blobs = new Map<string, Buffer>();
      const hashes: Record<string, string> = {};
      for (const name of node.outputs) {
        const bytes = await encodeValue(outputs[name]);
        const hash = sha256(bytes);
        blobs.set(hash, bytes);
        hashes[name] = hash;
      }
      const mlflowRunId = run.mlflowRunId ?? activeRun()?.runId;
      const entry: CacheEntry = {
        version: 1,
        key,
        node: node.name,
        outputs: hashes,
        source: {
          runId: run.runId,
          pipeline: run.pipelineName,
          ...(mlflowRunId ? { mlflowRunId } : {}),
        },
        createdAt: new Date().toISOString(),
      };
      await this.store.putEntry(entry, blobs);
      return true;
    } catch (error) {
      this.#warn(
        `Node cache: could not remember the outputs of node '${node.name}' in ${describeStore(this.store)}: ` +
          (error as Error).message,
      );
      return false;
    }
  }

  /** Tags the active MLflow run (if any) with the run a restored node came from. */
  async recordHit(hit: CacheHit, run: RunInfo): Promise<void> {
    const slot = activeRun();
    const mlflowRunId = run.mlflowRunId ?? slot?.runId;
    if (!slot || !mlflowRunId) return;
    await slot.client.runs.setTag(mlflowRunId, cachedFromTag(hit.node), hit.cachedFrom);
  }
}

/** The MLflow tag key naming where a cached node came from (characters MLflow refuses become `_`). */
export function cachedFromTag(node: string): string {
  return `${TAG_CACHED_FROM_PREFIX}${node}`.replace(/[^/\w.\- :]/g, '_').slice(0, 250);
}

function describeStore(store: CacheStore): string {
  return `the ${store.mode} node cache (${JSON.stringify(store.describe())})`;
}

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const codeHashes = new WeakMap<Node, string>();

/**
 * The hash of a node's code: its function's source and name, how its inputs and outputs are wired
 * (names and argument form) and its tags. Functions it calls are not part of it (see docs/caching.md).
 */
export function nodeCodeHash(node: Node): string {
  let hash = codeHashes.get(node);
  if (hash === undefined) {
    hash = sha256(
      JSON.stringify([
        node.name,
        node.funcName,
        node.inputSpec,
        node.outputSpec,
        node.tags,
        node.func.toString(),
      ]),
    );
    codeHashes.set(node, hash);
  }
  return hash;
}

/**
 * The sha256 of a value's canonical form, or undefined when it is not plain data (see
 * `isPlainData`). Not the codec's bytes: v8 serialisation tells a small integer from the same
 * number stored as a double, and object key order apart, so equal values could hash apart.
 * Numbers hash as float64, object keys sorted, Maps and Sets in order, Arrow tables as IPC.
 */
export function contentHash(value: unknown): string | undefined {
  const writer = new HashWriter();
  if (isArrowTable(value)) {
    writer.tag(Tag.Table);
    writer.table(value);
  } else if (!writer.value(value, new Map())) {
    return undefined;
  }
  return writer.digest();
}

const enum Tag {
  Undefined,
  Null,
  False,
  True,
  Number,
  BigInt,
  String,
  Array,
  Object,
  Map,
  Set,
  Date,
  RegExp,
  Binary,
  Table,
  Ref,
  Boxed,
}

/** Feeds a sha256 through a 64 KiB buffer (one native call per chunk, not per field). */
class HashWriter {
  readonly #hash = createHash('sha256');
  readonly #buffer = Buffer.allocUnsafe(64 * 1024);
  #at = 0;

  #room(bytes: number): void {
    if (this.#at + bytes > this.#buffer.length) this.#flush();
  }

  #flush(): void {
    if (this.#at > 0) this.#hash.update(this.#buffer.subarray(0, this.#at));
    this.#at = 0;
  }

  tag(tag: Tag): void {
    this.#room(1);
    this.#buffer[this.#at++] = tag;
  }

  length(n: number): void {
    this.#room(4);
    this.#at = this.#buffer.writeUInt32LE(n >>> 0, this.#at);
  }

  number(n: number): void {
    this.#room(8);
    this.#at = this.#buffer.writeDoubleLE(n, this.#at);
  }

  string(text: string): void {
    this.tag(Tag.String);
    if (text.length * 3 + 4 <= this.#buffer.length) {
      this.#room(text.length * 3 + 4);
      const written = this.#buffer.write(text, this.#at + 4, 'utf8');
      this.#buffer.writeUInt32LE(written, this.#at);
      this.#at += 4 + written;
    } else {
      this.length(Buffer.byteLength(text));
      this.#flush();
      this.#hash.update(text, 'utf8');
    }
  }

  bytes(bytes: Uint8Array): void {
    this.length(bytes.byteLength);
    this.#flush();
    this.#hash.update(bytes);
  }

  /**
   * An Arrow table by its schema and its columns' buffers, read from the table itself (no IPC
   * encoding, so apache-arrow need not be loaded). Equal tables laid out differently in memory
   * (sliced, chunked otherwise) hash apart: the node then runs, it never reuses a wrong output.
   */
  table(table: Table): void {
    const { fields, metadata } = table.schema;
    this.string(JSON.stringify(fields.map((f) => [f.name, String(f.type), f.nullable])));
    this.string(JSON.stringify([...metadata]));
    this.length(table.batches.length);
    for (const batch of table.batches) this.#arrowData(batch.data);
  }

  #arrowData(data: Data): void {
    this.string(String(data.type));
    this.length(data.offset);
    this.length(data.length);
    for (const buffer of [data.valueOffsets, data.values, data.nullBitmap, data.typeIds]) {
      if (buffer) {
        this.tag(Tag.Binary);
        this.bytes(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
      } else {
        this.tag(Tag.Undefined);
      }
    }
    this.length(data.children.length);
    for (const child of data.children) this.#arrowData(child);
    const dictionary = data.dictionary?.data ?? [];
    this.length(dictionary.length);
    for (const chunk of dictionary) this.#arrowData(chunk);
  }

  /** Writes a value; false when it is not plain data. `path` numbers the objects being written. */
  value(value: unknown, path: Map<object, number>): boolean {
    switch (typeof value) {
      case 'undefined':
        this.tag(Tag.Undefined);
        return true;
      case 'boolean':
        this.tag(value ? Tag.True : Tag.False);
        return true;
      case 'number':
        this.tag(Tag.Number);
        this.number(value);
        return true;
      case 'bigint':
        this.tag(Tag.BigInt);
        this.string(value.toString());
        return true;
      case 'string':
        this.string(value);
        return true;
      case 'object':
        break;
      default:
        return false;
    }
    if (value === null) {
      this.tag(Tag.Null);
      return true;
    }
    const cycle = path.get(value);
    if (cycle !== undefined) {
      this.tag(Tag.Ref);
      this.length(cycle);
      return true;
    }
    const prototype = Object.getPrototypeOf(value) as object | null;
    const name = prototype === null ? 'Object' : builtinName(prototype);
    if (name === undefined) return false;
    path.set(value, path.size);
    try {
      return this.#object(value, name, path);
    } finally {
      path.delete(value);
    }
  }

  #object(value: object, name: string, path: Map<object, number>): boolean {
    switch (name) {
      case 'Object': {
        const keys = Object.keys(value).sort();
        this.tag(Tag.Object);
        this.length(keys.length);
        for (const key of keys) {
          this.string(key);
          if (!this.value((value as Record<string, unknown>)[key], path)) return false;
        }
        return true;
      }
      case 'Array': {
        const items = value as unknown[];
        this.tag(Tag.Array);
        this.length(items.length);
        for (let i = 0; i < items.length; i++) if (!this.value(items[i], path)) return false;
        return true;
      }
      case 'Map':
        this.tag(Tag.Map);
        this.length((value as Map<unknown, unknown>).size);
        for (const [key, item] of value as Map<unknown, unknown>)
          if (!this.value(key, path) || !this.value(item, path)) return false;
        return true;
      case 'Set':
        this.tag(Tag.Set);
        this.length((value as Set<unknown>).size);
        for (const item of value as Set<unknown>) if (!this.value(item, path)) return false;
        return true;
      case 'Date':
        this.tag(Tag.Date);
        this.number((value as Date).getTime());
        return true;
      case 'RegExp':
        this.tag(Tag.RegExp);
        this.string(String(value));
        return true;
      case 'Number':
      case 'String':
      case 'Boolean':
        this.tag(Tag.Boxed);
        this.string(name);
        return this.value((value as { valueOf(): unknown }).valueOf(), path);
      default: {
        // ArrayBuffer, DataView and typed arrays: their type and their bytes.
        const view = ArrayBuffer.isView(value)
          ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
          : new Uint8Array(value as ArrayBuffer);
        this.tag(Tag.Binary);
        this.string(name);
        this.bytes(view);
        return true;
      }
    }
  }

  digest(): string {
    this.#flush();
    return this.#hash.digest('hex');
  }
}

/** Built-in constructors whose instances the codec gives back as they are. */
const FAITHFUL_BUILTINS = new Set([
  'Object',
  'Array',
  'Map',
  'Set',
  'Date',
  'RegExp',
  'ArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
  'Number',
  'String',
  'Boolean',
]);

const builtinNames = new WeakMap<object, string | undefined>();

/**
 * The name of the built-in constructor a prototype belongs to (of any realm: Jest's vm contexts,
 * worker threads), or undefined for a user class (or a subclass of a built-in).
 */
function builtinName(prototype: object): string | undefined {
  if (builtinNames.has(prototype)) return builtinNames.get(prototype);
  const ctor = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value as unknown;
  let name: string | undefined;
  if (
    typeof ctor === 'function' &&
    ctor.prototype === prototype &&
    /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(ctor)) &&
    FAITHFUL_BUILTINS.has(ctor.name)
  ) {
    name = ctor.name;
  }
  builtinNames.set(prototype, name);
  return name;
}

/**
 * True when the codec gives the value back as it is: primitives, plain objects, arrays, Dates,
 * Maps, Sets, RegExps, ArrayBuffers, typed arrays, or an Arrow table at the top level. Class
 * instances (whose prototype and private fields the codec drops) and functions are not.
 */
export function isPlainData(value: unknown): boolean {
  if (isArrowTable(value)) return true;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'function' || typeof current === 'symbol') return false;
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const prototype = Object.getPrototypeOf(current) as object | null;
    const name = prototype === null ? 'Object' : builtinName(prototype);
    if (name === 'Object') {
      for (const key of Object.keys(current)) stack.push((current as Record<string, unknown>)[key]);
    } else if (name === 'Array') {
      for (const item of current as unknown[]) stack.push(item);
    } else if (name === 'Map') {
      for (const [key, item] of current as Map<unknown, unknown>) stack.push(key, item);
    } else if (name === 'Set') {
      for (const item of current as Set<unknown>) stack.push(item);
    } else if (name === undefined) {
      return false;
    }
  }
  return true;
}
