import { types } from 'node:util';
import type { CatalogView, Hooks, NodeInfo, RunInfo } from '../hooks/types.js';
import type { Node } from '../pipeline/node.js';
import type { CacheHit, NodeCache } from './node-cache.js';
import { NonErrorThrownError, UndefinedOutputError } from './errors.js';

/** The catalog operations a node run needs. */
export interface NodeCatalog extends CatalogView {
  save(name: string, data: unknown): Promise<void>;
}

export function nodeInfo(node: Node): NodeInfo {
  return { name: node.name, inputs: node.inputs, outputs: node.outputs, tags: node.tags };
}

async function callHooks<K extends keyof Hooks>(
  hooks: readonly Hooks[],
  method: K,
  args: Parameters<NonNullable<Hooks[K]>>[0],
): Promise<void> {
  for (const hook of hooks) {
    const fn = hook[method] as ((a: typeof args) => Promise<void> | void) | undefined;
    if (fn) await fn.call(hook, args);
  }
}

export { callHooks };

/** One call of a node's function: the node, its arguments (in the form of its `inputs`), the run. */
export interface NodeCall {
  readonly node: Node;
  readonly args: unknown[];
  readonly run: RunInfo;
  /** Aborted when the run or the activity is cancelled: an executor stops the call if it can. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Calls a node's function and returns what it returned: in this thread (`inlineExecutor`) or in a
 * worker thread (`threadExecutor` in node-thread.ts). Loading, hooks, output checks and saving
 * stay with `runNode`, on the caller's thread.
 */
export type NodeExecutor = (call: NodeCall) => Promise<unknown>;

/** Calls the function on this thread's event loop (the default). */
export const inlineExecutor: NodeExecutor = async ({ node, args }) => node.func(...args);

/** True for Error objects of any realm (Jest's vm contexts, worker threads). */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/**
 * Runs one node as Kedro does: load its inputs from the catalog, `beforeNodeRun` hooks, call the
 * function, `afterNodeRun` hooks, save its outputs. Shared by the local runner and the Temporal
 * node activity, so both behave the same. With a `cache`, a node whose key (code, input contents,
 * parameters) matches an earlier success is not called: its outputs come from the cache and go
 * through the hooks and the catalog as if it had run (persisted outputs are rewritten).
 */
export async function runNode(args: {
  node: Node;
  catalog: NodeCatalog;
  hooks: readonly Hooks[];
  run: RunInfo;
  /** Where the function runs. @default inlineExecutor (this event loop) */
  execute?: NodeExecutor | undefined;
  /** Cancels the node: passed to the executor (a thread executor terminates its thread). */
  signal?: AbortSignal | undefined;
  /** Restores the outputs of an earlier identical execution instead of calling the node. */
  cache?: NodeCache | undefined;
  /** Called once the node has completed from the cache (after its outputs are saved). */
  onCached?: ((hit: CacheHit) => void) | undefined;
}): Promise<Record<string, unknown>> {
  const { node, catalog, hooks, run } = args;
  const execute = args.execute ?? inlineExecutor;
  const info = nodeInfo(node);
  const loaded = await Promise.all(
    node.inputs.map(async (name) => [name, await catalog.load(name)] as const),
  );
  const inputs = Object.fromEntries(loaded);
  const cache = args.cache?.applies(node) ? args.cache : undefined;
  const key = cache?.key(node, inputs);
  const hit = key === undefined ? undefined : await cache!.lookup(node, key);
  // The MLflow tag naming the hit's source is written while the hooks and saves run.
  const tagging = hit ? cache!.recordHit(hit, run) : undefined;
  tagging?.catch(() => undefined);
  await callHooks(hooks, 'beforeNodeRun', { run, node: info, inputs, catalog });
  let outputs: Record<string, unknown>;
  try {
    outputs = hit
      ? hit.outputs
      : await node.run(inputs, (fnArgs) =>
          execute({ node, args: fnArgs, run, signal: args.signal }),
        );
    const undefinedOutput = node.outputs.find((name) => outputs[name] === undefined);
    if (undefinedOutput !== undefined) throw new UndefinedOutputError(node.name, undefinedOutput);
  } catch (thrown) {
    const error = isError(thrown) ? thrown : new NonErrorThrownError(node.name, thrown);
    await callHooks(hooks, 'onNodeError', { run, node: info, inputs, error, catalog });
    throw error;
  }
  await callHooks(hooks, 'afterNodeRun', { run, node: info, inputs, outputs, catalog });
  await Promise.all(node.outputs.map((name) => catalog.save(name, outputs[name])));
  if (hit) {
    await tagging;
    args.onCached?.(hit);
  } else if (key !== undefined) {
    await cache!.remember(node, key, outputs, run);
  }
  return outputs;
}

/**
 * Restores from the cache, in one pass, every node of `nodes` (topologically sorted) whose outputs
 * the cache holds and whose producers among `nodes` were restored too: the chain of hits starting
 * at the free inputs. Each restored node goes through the hooks and the catalog as on a hit in
 * `runNode` (its outputs are saved while its hooks run, so hooks waiting on a remote server do not
 * hold up the nodes after it). A node reads an output kept in `keptInMemory` from the restoring
 * node itself, not back from the catalog (e.g. an intermediate store round trip); others are
 * loaded once saved. Returns the hits in the order they were restored. With `tagHit: false` no
 * MLflow tag is written per restored node (the caller tags them in one batch, see `onHits`). A
 * failing hook or save rejects (the nodes then simply run).
 */
export async function restoreNodes(args: {
  nodes: readonly Node[];
  catalog: NodeCatalog;
  hooks: readonly Hooks[];
  run: RunInfo;
  cache: NodeCache;
  keptInMemory: (dataset: string) => boolean;
  tagHit?: boolean;
  /** Called with every hit once all are known, while the last hooks may still run (e.g. to tag them in one batch). */
  onHits?: (hits: readonly CacheHit[]) => Promise<void>;
}): Promise<CacheHit[]> {
  const { catalog, hooks, run, cache } = args;
  const producer = new Map<string, Node>();
  for (const node of args.nodes) for (const output of node.outputs) producer.set(output, node);
  /** A node's outputs once saved (undefined: not restored). */
  const available = new Map<string, Promise<Record<string, unknown> | undefined>>();
  const finishing: Promise<void>[] = [];
  const hits: CacheHit[] = [];
  const restore = async (node: Node): Promise<Record<string, unknown> | undefined> => {
    if (!cache.applies(node)) return undefined;
    const upstream = new Map<string, Record<string, unknown> | undefined>();
    for (const input of node.inputs) {
      const from = producer.get(input);
      if (from && from !== node && !upstream.has(from.name))
        upstream.set(from.name, await available.get(from.name)!);
    }
    if ([...upstream.values()].some((outputs) => outputs === undefined)) return undefined;
    const loaded = await Promise.all(
      node.inputs.map(async (name) => {
        const from = producer.get(name);
        const kept = from && from !== node && args.keptInMemory(name);
        return [name, kept ? upstream.get(from.name)![name] : await catalog.load(name)] as const;
      }),
    );
    const inputs = Object.fromEntries(loaded);
    const key = cache.key(node, inputs);
    const hit = key === undefined ? undefined : await cache.lookup(node, key);
    if (!hit) return undefined;
    const info = nodeInfo(node);
    const { outputs } = hit;
    const finished = (async () => {
      const tagging = args.tagHit !== false ? cache.recordHit(hit, run) : undefined;
      tagging?.catch(() => undefined);
      await callHooks(hooks, 'beforeNodeRun', { run, node: info, inputs, catalog });
      await callHooks(hooks, 'afterNodeRun', { run, node: info, inputs, outputs, catalog });
      await tagging;
    })();
    // Awaited once every node is restored; handled now, so a failure is never "unhandled" meanwhile.
    finished.catch(() => undefined);
    finishing.push(finished);
    await Promise.all(node.outputs.map((name) => catalog.save(name, outputs[name])));
    hits.push(hit);
    return outputs;
  };
  // Topological order: a node's producers have their promise before it does.
  for (const node of args.nodes) available.set(node.name, restore(node));
  await Promise.all(available.values());
  await Promise.all([...finishing, args.onHits?.(hits)]);
  return hits;
}
