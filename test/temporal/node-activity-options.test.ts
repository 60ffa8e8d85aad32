/**
 * The activity options a node is scheduled with (workflows/dag.ts): compiled once per run, they must
 * be what each node asks for — its summary, timeout, the run's retry policy with the node's own
 * fields over it, and for a local activity no retry of a wrong worker.
 */
import {
  backoffAfter,
  compileNodeDefaults,
  nodeActivityOptions,
  nodeLocalActivityOptions,
  retryAfter,
} from '../../workflows/dag.js';
import { WRONG_WORKER_FAILURE_TYPE } from '../../src/constants.js';
import type { NodeActivityDefaults, NodePlan } from '../../src/temporal/types.js';

const defaults: NodeActivityDefaults = {
  startToCloseTimeoutMs: 60_000,
  heartbeatTimeoutMs: 30_000,
  retry: {
    maximumAttempts: 3,
    initialIntervalMs: 1_000,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: ['ConfigError'],
  },
};

const plan = (name: string, extra: Partial<NodePlan> = {}): NodePlan => ({
  name,
  inputs: [],
  outputs: [],
  tags: [],
  ...extra,
});

const runRetry = {
  maximumAttempts: 3,
  initialInterval: 1_000,
  backoffCoefficient: 2,
  maximumInterval: undefined,
  nonRetryableErrorTypes: ['ConfigError'],
};

describe('the activity options of a node', () => {
  it.each([
    [
      'a node without options of its own takes the run defaults',
      plan('fit'),
      {
        summary: 'fit',
        startToCloseTimeout: 60_000,
        heartbeatTimeout: 30_000,
        retry: runRetry,
      },
    ],
    [
      "a node's retry fields and timeout go over the run's, its task queue is kept",
      plan('gpu_fit', { retry: { maximumAttempts: 7 }, timeoutMs: 5_000, taskQueue: 'gpu' }),
      {
        summary: 'gpu_fit',
        startToCloseTimeout: 5_000,
        heartbeatTimeout: 30_000,
        retry: { ...runRetry, maximumAttempts: 7 },
        taskQueue: 'gpu',
      },
    ],
  ])('%s', (_, node, expected) => {
    expect(nodeActivityOptions(node, defaults)).toEqual(expected);
    expect(nodeActivityOptions(node, compileNodeDefaults(defaults))).toEqual(expected);
  });

  it('names the node in the summary, cut to 400 characters', () => {
    const long = 'n'.repeat(500);
    const { summary } = nodeActivityOptions(plan(long), defaults);
    expect(summary).toHaveLength(400);
    expect(summary).toBe(`${'n'.repeat(399)}…`);
  });

  it('a local node has no heartbeat and never retries a wrong worker', () => {
    const compiled = compileNodeDefaults(defaults);
    for (const node of [plan('a', { local: true }), plan('b', { local: true, retry: {} })]) {
      expect(nodeLocalActivityOptions(node, compiled)).toEqual({
        summary: node.name,
        startToCloseTimeout: 60_000,
        retry: {
          ...runRetry,
          nonRetryableErrorTypes: ['ConfigError', WRONG_WORKER_FAILURE_TYPE],
        },
      });
    }
  });

  it('nodes without a retry of their own share the run policy, and no node changes it', () => {
    const compiled = compileNodeDefaults(defaults);
    const first = nodeActivityOptions(plan('a'), compiled);
    const second = nodeActivityOptions(plan('b'), compiled);
    expect(first.retry).toBe(second.retry);
    nodeActivityOptions(plan('c', { retry: { nonRetryableErrorTypes: ['Other'] } }), compiled);
    nodeLocalActivityOptions(plan('d', { local: true }), compiled);
    expect(compiled.retry).toEqual(runRetry);
    expect(defaults.retry.nonRetryableErrorTypes).toEqual(['ConfigError']);
  });
});

describe('the retry policy of a node whose first attempt failed in a group of local nodes', () => {
  const policy = {
    maximumAttempts: 3,
    initialInterval: 1_000,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: ['ConfigError'],
  };

  it('has the attempts left, and the backoff going on from where it was', () => {
    // Attempt 1 in the group, a pause of 1 s, then attempts 2 and 3 (2 s apart) on their own.
    expect(backoffAfter(policy, 1)).toBe(1_000);
    expect(retryAfter(policy, 1)).toEqual({
      maximumAttempts: 2,
      initialInterval: 2_000,
      backoffCoefficient: 2,
      maximumInterval: 100_000,
      nonRetryableErrorTypes: ['ConfigError'],
    });
    expect(retryAfter(policy, 0)).toBe(policy);
  });

  it('keeps unlimited attempts unlimited and the backoff within its maximum', () => {
    const unlimited = { initialInterval: 1_000, backoffCoefficient: 4, maximumInterval: 3_000 };
    expect(retryAfter(unlimited, 1)).toEqual({ ...unlimited, initialInterval: 3_000 });
    expect(backoffAfter(unlimited, 2)).toBe(3_000);
  });
});
