import {
  ApplicationFailure,
  CancellationScope,
  patched,
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
  RunNodesResult,
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
const { runNode: runNodeLocally, runNodes: runNodesLocally } =
  proxyLocalActivities<TrainingActivities>({ startToCloseTimeout: '1 hour' });

/** Most nodes of one local activity: its result, one marker in the history, stays small. */
export const LOCAL_GROUP_LIMIT = 100;
/**
 * A group starts no further node after this long (see `RunNodesInput.budgetMs`): its completed
 * nodes are then recorded, so a worker crash makes at most this much work run again (a workflow
 * task records the markers of per-node local activities about as often: its heartbeat, 8 s).
 */
export const LOCAL_GROUP_BUDGET_MS = 2_000;
/**
 * Linear runs of local nodes as one local activity (`runNodes`): histories recorded before ran
 * one local activity per node, and replay so.
 */
export const LOCAL_GROUPS_PATCH = 'local-node-groups';

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

const msOf = (duration: RetryPolicy['initialInterval'], fallback: number): number =>
  typeof duration === 'number' ? duration : fallback;

/**
 * A node's retry policy once `used` attempts of it failed (a node of a group takes its first
 * attempt there): the attempts left, the backoff going on from where it was.
 */
export function retryAfter(policy: RetryPolicy, used: number): RetryPolicy {
  if (used === 0) return policy;
  return {
    ...policy,
    ...(policy.maximumAttempts
      ? { maximumAttempts: Math.max(1, policy.maximumAttempts - used) }
      : {}),
    initialInterval: backoffAfter(policy, used + 1),
    maximumInterval: maximumIntervalOf(policy),
  };
}

/** The pause before attempt `used + 1` of a node under `policy`. */
export function backoffAfter(policy: RetryPolicy, used: number): number {
  const initial = msOf(policy.initialInterval, 1_000);
  return Math.min(
    maximumIntervalOf(policy),
    initial * (policy.backoffCoefficient ?? 2) ** (used - 1),
  );
}

/** Temporal's defaults: 1 s initial interval, maximum 100 × the initial one. */
function maximumIntervalOf(policy: RetryPolicy): number {
  return msOf(policy.maximumInterval, 100 * msOf(policy.initialInterval, 1_000));
}

function nodeSummary(node: NodePlan): string {
  return cut(node.name);
}

const cut = (text: string): string =>
  text.length > SUMMARY_LIMIT ? `${text.slice(0, SUMMARY_LIMIT - 1)}…` : text;

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
 * scheduled again as a regular activity, which the right worker takes. `used`: attempts of the
 * node that already failed in a group (see `scheduleGroup`).
 *
 * The SDK's promise hook records a stack trace for every promise a workflow creates, so this
 * returns the SDK's promise itself (no async wrapper): the per-node cost of a long chain.
 */
function scheduleNode(
  node: NodePlan,
  context: RunContext,
  defaults: CompiledNodeDefaults,
  handedBack: number,
  used: number,
): Promise<RunNodeResult> {
  const input = { context, node: node.name };
  if (!runsLocally(node, handedBack))
    return runNode.executeWithOptions(nodeActivityOptions(node, defaults), [input]);
  const options = nodeLocalActivityOptions(node, defaults);
  if (used > 0) options.retry = retryAfter(options.retry!, used);
  return runNodeLocally.executeWithOptions(options, [input]);
}

const runsLocally = (node: NodePlan, handedBack: number): boolean =>
  node.local === true && !node.taskQueue && handedBack === 0;

/**
 * Schedules a linear run of local nodes as one local activity: each node runs in order within its
 * own timeout; the activity's retry policy is the first node's (a failure of a later node comes
 * back in the result, see `runNodes`). One workflow activation for the run instead of one per node.
 */
function scheduleGroup(
  group: readonly NodePlan[],
  context: RunContext,
  defaults: CompiledNodeDefaults,
  used: number,
): Promise<RunNodesResult> {
  const head = group[0]!;
  const options = nodeLocalActivityOptions(head, defaults);
  if (used > 0) options.retry = retryAfter(options.retry!, used);
  const nodes = group.map((node) => ({
    node: node.name,
    timeoutMs: node.timeoutMs ?? defaults.defaults.startToCloseTimeoutMs,
  }));
  options.startToCloseTimeout = nodes.reduce((sum, node) => sum + node.timeoutMs, 0);
  options.summary = cut(`${head.name} … ${group.at(-1)!.name} (${group.length} nodes)`);
  return runNodesLocally.executeWithOptions(options, [
    { context, nodes, budgetMs: LOCAL_GROUP_BUDGET_MS },
  ]);
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

  // Replay-safe: a history recorded before groups existed replays one local activity per node.
  const grouping = nodes.some((node) => runsLocally(node, 0)) && patched(LOCAL_GROUPS_PATCH);
  /** Nodes of a group in flight: their producer's completion in the group does not start them. */
  const inGroup = new Set<string>();
  /**
   * The linear run of local nodes from `head`: each next node is the only consumer of the one
   * before and waits on nothing else (so running them in order delays no other node).
   */
  const chainFrom = (head: NodePlan): NodePlan[] => {
    const group = [head];
    for (let last = head; group.length < LOCAL_GROUP_LIMIT;) {
      const consumers = downstream.get(last.name);
      if (consumers?.length !== 1) break;
      const next = consumers[0]!;
      if (!runsLocally(next, 0) || waitingOn.get(next.name) !== 1) break;
      group.push(next);
      last = next;
    }
    return group;
  };

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
        /** Records a completion and starts the nodes it made ready (not those of a group in flight). */
        const complete = (node: NodePlan, result: RunNodeResult): void => {
          observer.completed(node, result);
          completed++;
          if (completed === nodes.length) return resolve();
          for (const next of downstream.get(node.name) ?? []) {
            const left = waitingOn.get(next.name)! - 1;
            waitingOn.set(next.name, left);
            if (left === 0 && !inGroup.has(next.name)) start(next);
          }
        };
        const attemptFailed = (node: NodePlan, error: unknown, handedBack: number): void => {
          if (failed) return;
          if (!isWrongWorker(error)) return fail(node, error);
          // A local attempt handed back runs as a regular activity at once; a regular one
          // handed back (its attempts used up by wrong workers) is scheduled again after a
          // growing pause, so a misconfigured queue never fails the run for good.
          const regularRounds = runsLocally(node, 0) ? handedBack - 1 : handedBack;
          if (regularRounds < 0) return start(node, handedBack + 1);
          sleep(handBackPause(regularRounds)).then(
            () => start(node, handedBack + 1),
            (cancelled: unknown) => fail(node, cancelled),
          );
        };
        /**
         * A node of a group that failed its first attempt there: retried per its own policy (the
         * attempts left, after its backoff), as the head of a new group; or the run fails.
         */
        const groupNodeFailed = (
          node: NodePlan,
          failure: NonNullable<RunNodesResult['failure']>,
        ) => {
          const error = ApplicationFailure.create({
            message: failure.message,
            type: failure.type,
            nonRetryable: failure.nonRetryable,
          });
          if (isWrongWorker(error)) return attemptFailed(node, error, 0);
          const policy = nodeRetryPolicy(node, compiled);
          if (
            failure.nonRetryable ||
            policy.nonRetryableErrorTypes?.includes(failure.type) ||
            policy.maximumAttempts === 1
          )
            return fail(node, error);
          sleep(backoffAfter(policy, 1)).then(
            () => start(node, 0, 1),
            (cancelled: unknown) => fail(node, cancelled),
          );
        };
        /**
         * `handedBack`: how often workers that cannot serve this run handed the node back; `used`:
         * attempts that failed in a group.
         */
        const start = (node: NodePlan, handedBack = 0, used = 0): void => {
          if (handedBack === 0 && used === 0) observer.started(node);
          const group = grouping && runsLocally(node, handedBack) ? chainFrom(node) : [node];
          if (group.length === 1) {
            scheduleNode(node, context, compiled, handedBack, used).then(
              (result) => {
                if (failed) return;
                complete(node, result);
                observer.settled?.();
              },
              (error: unknown) => attemptFailed(node, error, handedBack),
            );
            return;
          }
          for (const member of group) inGroup.add(member.name);
          const byName = new Map(group.map((member) => [member.name, member]));
          scheduleGroup(group, context, compiled, used).then(
            (result) => {
              if (failed) return;
              for (const done of result.completed) {
                const member = byName.get(done.node)!;
                if (member !== node) observer.started(member);
                complete(member, done);
              }
              for (const member of group) inGroup.delete(member.name);
              const next = group[result.completed.length];
              if (result.failure) {
                const member = byName.get(result.failure.node)!;
                observer.started(member);
                groupNodeFailed(member, result.failure);
              } else if (next) {
                // The group stopped at its budget: the rest runs as a new group.
                start(next);
              }
              observer.settled?.();
            },
            (error: unknown) => {
              for (const member of group) inGroup.delete(member.name);
              attemptFailed(node, error, handedBack);
            },
          );
        };
        for (const node of nodes) if (waitingOn.get(node.name) === 0) start(node);
        observer.settled?.();
      }),
  );
}
