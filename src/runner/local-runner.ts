import { availableParallelism } from 'node:os';
import type { DataCatalog } from '../catalog/data-catalog.js';
import { MemoryDataset } from '../datasets/memory.js';
import type { Hooks, RunInfo } from '../hooks/types.js';
import type { Node } from '../pipeline/node.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { NodeCache } from './node-cache.js';
import { checkInputData } from './input-data.js';
import { MissingInputsError, NodeRunError, NonErrorThrownError } from './errors.js';
import { callHooks, isError, runNode, type NodeExecutor } from './run-node.js';
import { resumeSuggestion } from './resume.js';

/** Progress of a run, reported after every node start and end. */
export interface RunProgress {
  readonly event: 'node-started' | 'node-completed' | 'node-failed';
  readonly node: string;
  readonly done: number;
  readonly total: number;
  readonly running: readonly string[];
  /** True on `node-completed` when the node's outputs came from the node cache. */
  readonly cached?: boolean;
  /** Nodes completed from the cache so far (included in `done`). */
  readonly cachedCount: number;
}

export interface LocalRunOptions {
  pipeline: Pipeline;
  catalog: DataCatalog;
  run: RunInfo;
  hooks?: readonly Hooks[];
  /**
   * Nodes run at the same time at most.
   * @default 2 × available CPU cores (nodes are often I/O-bound)
   */
  maxConcurrency?: number;
  onProgress?: (progress: RunProgress) => void;
  /**
   * Where node functions run: `inlineExecutor` (this event loop) or `threadExecutor()` from
   * `node-thread.ts` (a worker thread per running node, so CPU-bound branches use several cores;
   * needs `run.projectDir` and `run.pipelineName` to name a registered pipeline of the project).
   * @default inlineExecutor
   */
  execute?: NodeExecutor;
  /** Cancels the run: running nodes get it (a thread executor terminates their threads). */
  signal?: AbortSignal;
  /**
   * The node cache: nodes whose code, inputs and parameters match an earlier success are restored
   * instead of run (see docs/caching.md). @default undefined (every node runs)
   */
  cache?: NodeCache | undefined;
  /** The CLI prefix that reproduces this run, used in the resume hint (e.g. `temporal-mlflow run --pipeline x`). */
  resumeCommandPrefix?: string;
}

export interface LocalRunResult {
  /** Values of the pipeline's outputs that no catalog entry persists (as Kedro's runner returns). */
  readonly freeOutputs: Readonly<Record<string, unknown>>;
  readonly nodeDurationsMs: Readonly<Record<string, number>>;
  /** Nodes restored from the node cache → the run they came from (MLflow run id, else run id). */
  readonly cachedNodes: Readonly<Record<string, string>>;
}

/**
 * Runs a pipeline in this process: every free input is checked first, then ready nodes run
 * concurrently (bounded), and memory datasets are released as soon as no remaining node needs them.
 */
export async function runPipelineLocally(options: LocalRunOptions): Promise<LocalRunResult> {
  const { pipeline, run } = options;
  const hooks = options.hooks ?? [];
  const maxConcurrency = Math.max(1, options.maxConcurrency ?? availableParallelism() * 2);

  const missing = pipeline.inputs().filter((name) => !options.catalog.has(name));
  if (missing.length > 0) throw new MissingInputsError(run.pipelineName, missing);
  await checkInputData(pipeline, options.catalog, run.pipelineName);

  const added: Record<string, MemoryDataset> = {};
  for (const name of pipeline.allOutputs())
    if (!options.catalog.has(name)) added[name] = new MemoryDataset();
  const catalog = options.catalog.withDatasets(added);

  const nodes = pipeline.nodes;
  const producerOf = new Map<string, Node>();
  for (const node of nodes) for (const output of node.outputs) producerOf.set(output, node);
  // Unmet upstream producers per node, and remaining consumers per dataset (for release).
  const waitingOn = new Map<Node, number>();
  const consumers = new Map<string, Node[]>();
  const remainingReaders = new Map<string, number>();
  for (const node of nodes) {
    const producers = new Set<Node>();
    for (const input of node.inputs) {
      const producer = producerOf.get(input);
      if (producer) producers.add(producer);
      remainingReaders.set(input, (remainingReaders.get(input) ?? 0) + 1);
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
    waitingOn.set(node, producers.size);
  }
  const pipelineOutputs = new Set(pipeline.outputs());

  await callHooks(hooks, 'beforePipelineRun', { run, pipeline, catalog });

  const ready: Node[] = nodes.filter((node) => waitingOn.get(node) === 0);
  const running = new Set<string>();
  const durations: Record<string, number> = {};
  const cachedNodes: Record<string, string> = {};
  let done = 0;
  let failure: { node: Node; error: unknown } | undefined;

  const report = (event: RunProgress['event'], node: Node): void =>
    options.onProgress?.({
      event,
      node: node.name,
      done,
      total: nodes.length,
      running: [...running],
      ...(event === 'node-completed' && cachedNodes[node.name] !== undefined
        ? { cached: true }
        : {}),
      cachedCount: Object.keys(cachedNodes).length,
    });

  const release = async (node: Node): Promise<void> => {
    for (const input of node.inputs) {
      const left = remainingReaders.get(input)! - 1;
      remainingReaders.set(input, left);
      if (left === 0 && added[input] && !pipelineOutputs.has(input)) await catalog.release(input);
    }
  };

  await new Promise<void>((resolveAll) => {
    let active = 0;
    const pump = (): void => {
      while (!failure && !options.signal?.aborted && active < maxConcurrency && ready.length > 0) {
        const node = ready.shift()!;
        active++;
        running.add(node.name);
        report('node-started', node);
        const started = performance.now();
        runNode({
          node,
          catalog,
          hooks,
          run,
          execute: options.execute,
          signal: options.signal,
          cache: options.cache,
          onCached: (hit) => void (cachedNodes[node.name] = hit.cachedFrom),
        })
          .then(async () => {
            durations[node.name] = performance.now() - started;
            running.delete(node.name);
            done++;
            report('node-completed', node);
            await release(node);
            const downstream = new Set<Node>();
            for (const output of node.outputs)
              for (const next of consumers.get(output) ?? []) downstream.add(next);
            for (const next of downstream) {
              const left = waitingOn.get(next)! - 1;
              waitingOn.set(next, left);
              if (left === 0) ready.push(next);
            }
          })
          .catch((error: unknown) => {
            running.delete(node.name);
            failure ??= { node, error };
            report('node-failed', node);
          })
          .finally(() => {
            active--;
            if (active === 0 && (failure || ready.length === 0)) resolveAll();
            else pump();
          });
      }
      if (active === 0) resolveAll();
    };
    pump();
  });

  if (!failure && options.signal?.aborted) {
    const error = isError(options.signal.reason)
      ? options.signal.reason
      : new Error(`The run was cancelled: ${String(options.signal.reason)}`);
    await callHooks(hooks, 'onPipelineError', { run, pipeline, catalog, error });
    throw options.signal.reason;
  }
  if (failure) {
    const error = isError(failure.error)
      ? failure.error
      : new NonErrorThrownError(failure.node.name, failure.error);
    await callHooks(hooks, 'onPipelineError', { run, pipeline, catalog, error });
    const resumeNodes = resumeSuggestion(pipeline, failure.node, (name) =>
      catalog.isPersisted(name),
    );
    const resumeCommand = options.resumeCommandPrefix
      ? `${options.resumeCommandPrefix} --from-nodes ${JSON.stringify(resumeNodes.join(','))}`
      : undefined;
    throw new NodeRunError(failure.node.name, resumeNodes, resumeCommand, { cause: failure.error });
  }

  try {
    await callHooks(hooks, 'afterPipelineRun', { run, pipeline, catalog });
  } catch (error) {
    // A hook that fails after the nodes (e.g. logging the model) fails the run: the hooks after it
    // never ran, so the error hooks close what they opened (an MLflow run ends FAILED).
    const failed = isError(error) ? error : new Error(String(error));
    await callHooks(hooks, 'onPipelineError', { run, pipeline, catalog, error: failed });
    throw error;
  }
  const freeOutputs: Record<string, unknown> = {};
  for (const name of pipelineOutputs) if (added[name]) freeOutputs[name] = await catalog.load(name);
  return { freeOutputs, nodeDurationsMs: durations, cachedNodes };
}
