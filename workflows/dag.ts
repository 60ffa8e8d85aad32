import {
  CancellationScope,
  proxyActivities,
  proxyLocalActivities,
  sleep,
} from '@temporalio/workflow';
import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/workflow';
import type { TrainingActivities } from '../activities/index.js';
import { WRONG_WORKER_FAILURE_TYPE } from '../src/constants.js';
import { handBackPause, isWrongWorker } from './right-worker.js';
import type {
  NodeActivityDefaults,
  NodePlan,
  NodeRetryPlan,
  RunContext,
  RunNodeResult,
} from '../src/temporal/types.js';

/** Callbacks through which the DAG scheduler reports node state to its workflow. */
export interface DagObserver {
  started(node: NodePlan): void;
  completed(node: NodePlan, result: RunNodeResult): void;
  failed(node: NodePlan, error: unknown): void;
  /**
   * Called once the nodes a completion (or the start) made ready are scheduled: one report per
   * workflow activation, however many nodes started and completed in it.
   */
  settled?(): void;
}

/** Thrown when a node activity fails; carries the node's name for the workflow's failure. */
export class NodeFailure extends Error {
  override readonly name = 'NodeFailure';
  constructor(
    readonly node: string,
    override readonly cause: unknown,
  ) {
    super(`Node '${node}' failed: ${describeFailure(cause)}`);
  }
}

/** The deepest message of a Temporal failure chain (ActivityFailure → ApplicationFailure → ...). */
export function describeFailure(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  let message = String(error);
  while (current && typeof current === 'object') {
    if (current.message) message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}

const { runNode } = proxyActivities<TrainingActivities>({ startToCloseTimeout: '1 hour' });
const { runNode: runNodeLocally } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: '1 hour',
});

const SUMMARY_LIMIT = 400;

/**
 * The activity options a run's nodes share, compiled once per run: most nodes have no retry policy
 * of their own, and then share the run's (regular and local) policy objects instead of each
 * merging and copying them when scheduled.
 */
export interface CompiledNodeDefaults {
  readonly defaults: NodeActivityDefaults;
  /** The retry policy of a node without a `retry` of its own. */
  readonly retry: RetryPolicy;
  /** The same policy for a local activity: a wrong worker is never retried (see `scheduleNode`). */
  readonly localRetry: RetryPolicy;
}

export function compileNodeDefaults(defaults: NodeActivityDefaults): CompiledNodeDefaults {
  const retry = retryPolicy(defaults.retry);
  return { defaults, retry, localRetry: localRetryPolicy(retry) };
}

function retryPolicy(retry: NodeRetryPlan): RetryPolicy {
  return {
    maximumAttempts: retry.maximumAttempts,
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maximumIntervalMs,
    nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
  };
}

function localRetryPolicy(retry: RetryPolicy): RetryPolicy {
  return {
    maximumAttempts: retry.maximumAttempts,
    initialInterval: retry.initialInterval,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maximumInterval,
    nonRetryableErrorTypes: [...(retry.nonRetryableErrorTypes ?? []), WRONG_WORKER_FAILURE_TYPE],
  };
}

/** A node's retry policy: the run's, with the node's own fields over it. */
function nodeRetryPolicy(node: NodePlan, compiled: CompiledNodeDefaults): RetryPolicy {
  return node.retry ? retryPolicy({ ...compiled.defaults.retry, ...node.retry }) : compiled.retry;
}

function nodeSummary(node: NodePlan): string {
  return node.name.length > SUMMARY_LIMIT ? `${node.name.slice(0, SUMMARY_LIMIT - 1)}…` : node.name;
}

const compiledOf = (defaults: NodeActivityDefaults | CompiledNodeDefaults): CompiledNodeDefaults =>
  'defaults' in defaults ? defaults : compileNodeDefaults(defaults);

/** Per-call activity options of one node: its summary in the UI, timeout, retry and queue. */
export function nodeActivityOptions(
  node: NodePlan,
  defaults: NodeActivityDefaults | CompiledNodeDefaults,
): ActivityOptions {
  const compiled = compiledOf(defaults);
  const options: ActivityOptions = {
    summary: nodeSummary(node),
    startToCloseTimeout: node.timeoutMs ?? compiled.defaults.startToCloseTimeoutMs,
    heartbeatTimeout: compiled.defaults.heartbeatTimeoutMs,
    retry: nodeRetryPolicy(node, compiled),
  };
  if (node.taskQueue) options.taskQueue = node.taskQueue;
  return options;
}

/**
 * Options of a `local: true` node's local activity: the same summary, timeout and retry policy,
 * no heartbeat (a local activity cannot heartbeat), and no retry of a wrong worker (see `scheduleNode`).
 */
export function nodeLocalActivityOptions(
  node: NodePlan,
  defaults: NodeActivityDefaults | CompiledNodeDefaults,
): LocalActivityOptions {
  const compiled = compiledOf(defaults);
  return {
    summary: nodeSummary(node),
    startToCloseTimeout: node.timeoutMs ?? compiled.defaults.startToCloseTimeoutMs,
    retry: node.retry ? localRetryPolicy(nodeRetryPolicy(node, compiled)) : compiled.localRetry,
  };
}

/**
 * Schedules one node: a regular activity, taken by any worker of the queue that serves the run; or,
 * for a `local: true` node, a local activity in the worker running this workflow task (recorded as
 * a marker, no task round trip). That worker may serve another project when a queue is shared by
 * mistake: its identity check fails the local attempt at once (`handedBack` 0), and the node is
 * scheduled again as a regular activity, which the right worker takes.
 *
 * The SDK's promise hook records a stack trace for every promise a workflow creates, so this
 * returns the SDK's promise itself (no async wrapper): the per-node cost of a long chain.
 */
function scheduleNode(
  node: NodePlan,
  context: RunContext,
  defaults: CompiledNodeDefaults,
  handedBack: number,
): Promise<RunNodeResult> {
  const input = { context, node: node.name };
  return node.local && !node.taskQueue && handedBack === 0
    ? runNodeLocally.executeWithOptions(nodeLocalActivityOptions(node, defaults), [input])
    : runNode.executeWithOptions(nodeActivityOptions(node, defaults), [input]);
}

/**
 * Runs the nodes (topologically sorted) as activities, each as soon as the nodes producing its
 * inputs have completed, all ready nodes at once (the workers' slots bound real concurrency). The
 * first failure cancels the nodes still running and rejects with a `NodeFailure`.
 */
export async function runDag(
  nodes: readonly NodePlan[],
  context: RunContext,
  defaults: NodeActivityDefaults,
  observer: DagObserver,
): Promise<void> {
  const producerOf = new Map<string, NodePlan>();
  for (const node of nodes) for (const output of node.outputs) producerOf.set(output, node);
  const waitingOn = new Map<string, number>();
  const downstream = new Map<string, NodePlan[]>();
  for (const node of nodes) {
    const producers = new Set<NodePlan>();
    for (const input of node.inputs) {
      const producer = producerOf.get(input);
      if (producer && producer !== node) producers.add(producer);
    }
    waitingOn.set(node.name, producers.size);
    for (const producer of producers) {
      const list = downstream.get(producer.name) ?? [];
      list.push(node);
      downstream.set(producer.name, list);
    }
  }
  if (nodes.length === 0) return;
  const compiled = compileNodeDefaults(defaults);

  const scope = new CancellationScope();
  await scope.run(
    () =>
      new Promise<void>((resolve, reject) => {
        let completed = 0;
        let failed = false;
        const fail = (node: NodePlan, error: unknown): void => {
          if (failed) return;
          failed = true;
          observer.failed(node, error);
          scope.cancel();
          reject(new NodeFailure(node.name, error));
        };
        /** `handedBack`: how often workers that cannot serve this run handed the node back. */
        const start = (node: NodePlan, handedBack = 0): void => {
          if (handedBack === 0) observer.started(node);
          scheduleNode(node, context, compiled, handedBack).then(
            (result) => {
              if (failed) return;
              observer.completed(node, result);
              completed++;
              if (completed === nodes.length) return resolve();
              for (const next of downstream.get(node.name) ?? []) {
                const left = waitingOn.get(next.name)! - 1;
                waitingOn.set(next.name, left);
                if (left === 0) start(next);
              }
              observer.settled?.();
            },
            (error: unknown) => {
              if (failed) return;
              if (!isWrongWorker(error)) return fail(node, error);
              // A local attempt handed back runs as a regular activity at once; a regular one
              // handed back (its attempts used up by wrong workers) is scheduled again after a
              // growing pause, so a misconfigured queue never fails the run for good.
              const regularRounds = node.local && !node.taskQueue ? handedBack - 1 : handedBack;
              if (regularRounds < 0) return start(node, handedBack + 1);
              sleep(handBackPause(regularRounds)).then(
                () => start(node, handedBack + 1),
                (cancelled: unknown) => fail(node, cancelled),
              );
            },
          );
        };
        for (const node of nodes) if (waitingOn.get(node.name) === 0) start(node);
        observer.settled?.();
      }),
  );
}
