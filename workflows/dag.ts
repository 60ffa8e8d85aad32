import { CancellationScope, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type { TrainingActivities } from '../activities/index.js';
import { WRONG_WORKER_FAILURE_TYPE } from '../src/constants.js';
import { isWrongWorker, onRightWorker } from './right-worker.js';
import type {
  NodeActivityDefaults,
  NodePlan,
  RunContext,
  RunNodeResult,
} from '../src/temporal/types.js';

/** Callbacks through which the DAG scheduler reports node state to its workflow. */
export interface DagObserver {
  started(node: NodePlan): void;
  completed(node: NodePlan, result: RunNodeResult): void;
  failed(node: NodePlan, error: unknown): void;
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

/** Per-call activity options of one node: its summary in the UI, timeout, retry and queue. */
export function nodeActivityOptions(
  node: NodePlan,
  defaults: NodeActivityDefaults,
): ActivityOptions {
  const retry = { ...defaults.retry, ...node.retry };
  return {
    summary:
      node.name.length > SUMMARY_LIMIT ? `${node.name.slice(0, SUMMARY_LIMIT - 1)}…` : node.name,
    startToCloseTimeout: node.timeoutMs ?? defaults.startToCloseTimeoutMs,
    heartbeatTimeout: defaults.heartbeatTimeoutMs,
    ...(node.taskQueue ? { taskQueue: node.taskQueue } : {}),
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
    },
  };
}

/**
 * Options of a `local: true` node's local activity: the same summary, timeout and retry policy,
 * no heartbeat (a local activity cannot heartbeat), and no retry of a wrong worker (see `runOneNode`).
 */
export function nodeLocalActivityOptions(
  node: NodePlan,
  defaults: NodeActivityDefaults,
): LocalActivityOptions {
  const { summary, startToCloseTimeout, retry } = nodeActivityOptions(node, defaults);
  return {
    summary,
    startToCloseTimeout,
    retry: {
      ...retry,
      nonRetryableErrorTypes: [...(retry?.nonRetryableErrorTypes ?? []), WRONG_WORKER_FAILURE_TYPE],
    },
  };
}

/**
 * Runs one node: a regular activity, taken by any worker of the queue that serves the run; or, for
 * a `local: true` node, a local activity in the worker running this workflow task (recorded as a
 * marker, no task round trip). That worker may serve another project when a queue is shared by
 * mistake: its identity check fails the local attempt at once, and the node runs as a regular
 * activity instead, which the right worker takes.
 */
async function runOneNode(
  node: NodePlan,
  context: RunContext,
  defaults: NodeActivityDefaults,
): Promise<RunNodeResult> {
  const input = { context, node: node.name };
  if (node.local && !node.taskQueue) {
    try {
      return await runNodeLocally.executeWithOptions(nodeLocalActivityOptions(node, defaults), [
        input,
      ]);
    } catch (error) {
      if (!isWrongWorker(error)) throw error;
    }
  }
  const options = nodeActivityOptions(node, defaults);
  return onRightWorker(() => runNode.executeWithOptions(options, [input]));
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

  const scope = new CancellationScope();
  await scope.run(
    () =>
      new Promise<void>((resolve, reject) => {
        let completed = 0;
        let failed = false;
        const start = (node: NodePlan): void => {
          observer.started(node);
          runOneNode(node, context, defaults).then(
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
            },
            (error: unknown) => {
              if (failed) return;
              failed = true;
              observer.failed(node, error);
              scope.cancel();
              reject(new NodeFailure(node.name, error));
            },
          );
        };
        for (const node of nodes) if (waitingOn.get(node.name) === 0) start(node);
      }),
  );
}
