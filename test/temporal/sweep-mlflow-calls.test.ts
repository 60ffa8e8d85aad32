/**
 * The MLflow calls a sweep makes, counted through a proxy in front of the real server: each run is
 * created and ended exactly once (and looked for only by a retried start), the experiment is
 * looked up once per worker (not once per run), and the trials' metrics are read in batches. A
 * regression guard for the cost of MLflow bookkeeping per trial (bench/sweep.ts measures its time).
 */
import { randomUUID } from 'node:crypto';
import { MLFLOW_PARENT_RUN_ID_TAG, TAG_SWEEP_TRIAL, TAG_WORKFLOW_ID } from '../../src/constants.js';
import { startSweep } from '../../src/temporal/sweep-client.js';
import { mlflow, tagOf } from '../support/lifecycle.js';
import type { ProxiedRequest } from '../support/mlflow-proxy.js';
import {
  endpointOf,
  fixtureActivities,
  sleepyRunContext,
  startProxiedLifecycle,
  type ProxiedLifecycle,
} from '../support/proxied-lifecycle.js';
import type { TemporalHarness } from '../support/temporal.js';

const bodyOf = (request: ProxiedRequest): string => request.body.toString();

const taskQueue = `test-sweep-calls-${randomUUID()}`;
let calls: ProxiedRequest[];
let harness: TemporalHarness;
let projectDir: string;
let lifecycle: ProxiedLifecycle | undefined;
beforeAll(async () => {
  lifecycle = await startProxiedLifecycle('sweep-calls', { taskQueue });
  ({ calls, harness, projectDir } = lifecycle);
}, 120_000);
afterAll(async () => {
  await lifecycle?.close();
});

describe('the MLflow calls of a sweep', () => {
  it('creates, finds and ends each run once, looks the experiment up once and reads metrics in batches', async () => {
    const trials = 6;
    const maxParallel = 3;
    const sweep = await startSweep(harness.client, {
      projectDir,
      taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: 0 },
      spec: {
        maxParallel,
        metric: 'score',
        parameters: { quality: Array.from({ length: trials }, (_, i) => i) },
      },
    });
    const result = await sweep.result();
    expect(result.trials.map((t) => t.state)).toEqual(Array(trials).fill('completed'));
    expect(result.best).toMatchObject({ trial: trials - 1, metric: trials - 1 });

    const count = (name: string, where: (request: ProxiedRequest) => boolean = () => true) =>
      calls.filter((request) => endpointOf(request) === name && where(request)).length;
    const runs = trials + 1; // the trials' and the parent's
    // Each run: one create, one end. Only a retried start looks for a run made by an earlier
    // attempt (by its workflow id): first attempts of first executions, as here, never do.
    expect(count('POST runs/search', (r) => bodyOf(r).includes(TAG_WORKFLOW_ID))).toBe(0);
    expect(count('POST runs/create')).toBe(runs);
    expect(count('POST runs/update')).toBe(runs);
    // The experiment: looked up by the first run, remembered by the worker for the others.
    expect(count('GET experiments/get-by-name')).toBe(1);
    // Metrics: each trial's training reports the score its last node logged; none is read back.
    const metricReads =
      count('GET runs/get') + count('POST runs/search', (r) => bodyOf(r).includes('run_id IN'));
    expect(metricReads).toBe(0);
    // A trial's params (of its three nodes) go in one batch, sent by its first node.
    const paramBatches = calls
      .filter((request) => endpointOf(request) === 'POST runs/log-batch')
      .map((request) => (JSON.parse(bodyOf(request)) as { params?: { key: string }[] }).params)
      .filter((params) => params && params.length > 0);
    expect(paramBatches.map((params) => params!.map((p) => p.key).sort())).toEqual(
      Array(trials).fill(['quality', 'sleep_ms']),
    );
    // Everything else is the nodes' own logging (params, the score metric) and the sweep's outcome:
    // at most 7 calls per trial in all, and 5 for the parent run (the experiment's creation aside).
    const byEndpoint: Record<string, number> = {};
    for (const request of calls)
      byEndpoint[endpointOf(request)] = (byEndpoint[endpointOf(request)] ?? 0) + 1;
    const runCalls = calls.filter(
      (request) => !endpointOf(request).includes('experiments/'),
    ).length;
    const limit = 7 * trials + 5;
    if (runCalls > limit)
      throw new Error(
        `${runCalls} MLflow calls, more than ${limit}: ${JSON.stringify(byEndpoint)}`,
      );

    // After the last trial, one local activity logs the outcome, ends the parent run (no model to
    // register here) and the last trial's run. Trials that ended in the same workflow task as the
    // last one may still have a batch of ends of their own: it never holds the last trial's run.
    const events =
      (await harness.client.workflow.getHandle(sweep.workflowId).fetchHistory()).events ?? [];
    const lastTrialEnd = events.findLastIndex(
      (e) => e.childWorkflowExecutionCompletedEventAttributes,
    );
    const after = events.slice(lastTrialEnd);
    const lastTrialId =
      events[lastTrialEnd]!.childWorkflowExecutionCompletedEventAttributes!.workflowExecution!
        .workflowId!;
    const lastRunId = result.trials.find((t) => t.workflowId === lastTrialId)!.mlflowRunId!;
    const scheduledAfter = after.flatMap((e) => e.activityTaskScheduledEventAttributes ?? []);
    expect(
      scheduledAfter.map((a) => a.activityType?.name).filter((name) => name !== 'endTrialRuns'),
    ).toEqual([]);
    for (const scheduled of scheduledAfter)
      expect(Buffer.from(scheduled.input!.payloads![0]!.data!).toString()).not.toContain(lastRunId);
    const finishing = after.find((e) => e.markerRecordedEventAttributes)!;
    const marker = finishing.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data!;
    expect(JSON.parse(Buffer.from(marker).toString()).activity_type).toBe('finishSweep');
    const lastRound = result.trials.slice(trials - maxParallel);
    const endedLast = calls.filter(
      (request) =>
        endpointOf(request) === 'POST runs/update' &&
        lastRound.some((trial) => bodyOf(request).includes(trial.mlflowRunId!)),
    );
    expect(endedLast).toHaveLength(maxParallel);
    // A trial ends no run itself: the sweep ends the successful trials' runs, a batch at a time.
    for (const trial of result.trials)
      expect(
        (
          (await harness.client.workflow.getHandle(trial.workflowId).fetchHistory()).events ?? []
        ).some(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'endMlflowRun',
        ),
      ).toBe(false);

    // The trials are nested under the parent, which names the best.
    const client = mlflow();
    const children = await client.runs.search({
      experimentIds: [(await client.runs.get(result.mlflowRunId!)).info.experiment_id],
      filter: `tags.\`${MLFLOW_PARENT_RUN_ID_TAG}\` = '${result.mlflowRunId}'`,
    });
    expect(children.items.map((run) => run.info.status)).toEqual(Array(trials).fill('FINISHED'));
    for (const run of children.items)
      expect(Object.fromEntries(run.data.params!.map((p) => [p.key, p.value]))).toEqual({
        sleep_ms: '0',
        quality: tagOf(run, TAG_SWEEP_TRIAL),
      });
  }, 180_000);

  it("makes each run once when the local start of the sweep's and first trials' runs fails half-way", async () => {
    const workflowId = `sweep-calls-half-way-${randomUUID()}`;
    // Trial 1's run cannot be made until the regular start looks for the sweep's run: the local
    // activity fails with the sweep's and trial 0's runs made.
    let fellBack = false;
    lifecycle!.refuse((request) => {
      const body = bodyOf(request);
      if (endpointOf(request) === 'POST runs/search' && body.includes(workflowId)) fellBack = true;
      return (
        !fellBack &&
        endpointOf(request) === 'POST runs/create' &&
        body.includes(`${workflowId}/trial-1`)
      );
    });
    try {
      const sweep = await startSweep(harness.client, {
        projectDir,
        taskQueue,
        workflowId,
        pipeline: 'sleepy',
        params: { sleep_ms: 0 },
        spec: { maxParallel: 2, metric: 'score', parameters: { quality: [1, 2, 3, 4] } },
      });
      const result = await sweep.result();
      expect(result.trials.map((t) => t.state)).toEqual(Array(4).fill('completed'));
      expect(fellBack).toBe(true);
      const client = mlflow();
      const experimentId = (await client.runs.get(result.mlflowRunId!)).info.experiment_id;
      const mine = await client.runs.search({
        experimentIds: [experimentId],
        filter: `tags.\`${TAG_WORKFLOW_ID}\` LIKE '${workflowId}%'`,
        maxResults: 100,
      });
      // One run per workflow: the sweep's and each trial's, none made twice.
      expect(mine.items.map((run) => tagOf(run, TAG_WORKFLOW_ID)).sort()).toEqual(
        [workflowId, ...[0, 1, 2, 3].map((i) => `${workflowId}/trial-${i}`)].sort(),
      );
      expect(mine.items.every((run) => run.info.status === 'FINISHED')).toBe(true);
    } finally {
      lifecycle!.refuse(undefined);
    }
  }, 120_000);

  it('restores a remembered experiment deleted since, and still creates the run once', async () => {
    const activities = fixtureActivities(projectDir);
    const context = sleepyRunContext;
    const first = await activities.startMlflowRun(context(`calls-first-${randomUUID()}`));
    const client = mlflow();
    await client.experiments.delete(first.experimentId);

    const workflowId = `calls-after-delete-${randomUUID()}`;
    const started = await activities.startMlflowRun(context(workflowId));
    expect(started.experimentId).toBe(first.experimentId);
    expect((await client.experiments.get(first.experimentId)).lifecycle_stage).toBe('active');
    const again = await activities.startMlflowRun(context(workflowId));
    expect(again.runId).toBe(started.runId);
    const runs = await client.runs.search({
      experimentIds: [first.experimentId],
      filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${workflowId}'`,
    });
    expect(runs.items.map((run) => run.info.run_id)).toEqual([started.runId]);
    for (const ref of [first, started])
      await activities.endMlflowRun({
        context: { ...context('ended'), mlflowRunId: ref.runId },
        status: 'FINISHED',
      });
  }, 60_000);
});
