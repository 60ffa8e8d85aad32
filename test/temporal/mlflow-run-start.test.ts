/**
 * Starting a run's MLflow run, counted through a proxy in front of the real server: the first
 * attempt of a first execution creates the run without looking for one (a search per run is
 * ~0.1-0.2 s under load); a retried attempt, or a run reset or continued as new, looks the run up
 * by its workflow id and keeps it.
 */
import type proto from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { TAG_WORKFLOW_ID } from '../../src/constants.js';
import { startTraining } from '../../src/temporal/client.js';
import type { MlflowRunRef, RunContext } from '../../src/temporal/types.js';
import { mlflow } from '../support/lifecycle.js';
import type { ProxiedRequest } from '../support/mlflow-proxy.js';
import {
  endpointOf,
  fixtureActivities,
  sleepyRunContext,
  startProxiedLifecycle,
  type ProxiedLifecycle,
} from '../support/proxied-lifecycle.js';
import type { TemporalHarness } from '../support/temporal.js';

/** Calls to `name` about this workflow id since `from`. */
const count = (name: string, workflowId: string, from = 0): number =>
  calls
    .slice(from)
    .filter(
      (request) => endpointOf(request) === name && request.body.toString().includes(workflowId),
    ).length;

/** The activity types a history ran as activity tasks, and as local activities (markers). */
async function stepsOf(handle: { fetchHistory(): Promise<{ events?: HistoryEvent[] | null }> }) {
  const events = (await handle.fetchHistory()).events ?? [];
  const tasks = events.flatMap(
    (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
  );
  const local = events.flatMap((event) => {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const data = marker.details?.data?.payloads?.[0]?.data;
    const step = JSON.parse(Buffer.from(data!).toString('utf8')) as { activity_type: string };
    return [{ type: step.activity_type, failed: Boolean(marker.failure) }];
  });
  return { tasks, local };
}

let calls: ProxiedRequest[];
let harness: TemporalHarness;
let projectDir: string;
let lifecycle: ProxiedLifecycle | undefined;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
beforeAll(async () => {
  lifecycle = await startProxiedLifecycle('run-start');
  ({ calls, harness, projectDir } = lifecycle);
}, 120_000);
afterAll(async () => {
  await lifecycle?.close();
});

describe('starting the MLflow run of a training', () => {
  it('creates the run of a new workflow without searching for it first', async () => {
    const handle = await startTraining(harness.client, {
      projectDir,
      taskQueue: harness.taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: 0 },
    });
    const result = await handle.result();
    expect(count('POST runs/create', handle.workflowId)).toBe(1);
    expect(count('POST runs/search', handle.workflowId)).toBe(0);
    expect((await mlflow().runs.get(result.mlflowRunId!)).info.status).toBe('FINISHED');
    // In the plan's workflow task, as a local activity: no activity task, no extra round trip.
    const { tasks, local } = await stepsOf(handle.handle);
    expect(tasks).not.toContain('startMlflowRun');
    expect(local.slice(0, 2)).toEqual([
      { type: 'planPipeline', failed: false },
      { type: 'startMlflowRun', failed: false },
    ]);
  }, 120_000);

  it('hands over to an activity task when the local start fails, which looks for the run before making one', async () => {
    const workflowId = `run-start-fallback-${randomUUID()}`;
    // Refused as long as the local attempt retries (MLflow calls retry a 503 5 times), then served.
    let refused = 0;
    lifecycle!.refuse((request) => {
      const refuse =
        endpointOf(request) === 'POST runs/create' &&
        request.body.toString().includes(workflowId) &&
        refused < 5;
      if (refuse) refused++;
      return refuse;
    });
    try {
      const handle = await startTraining(harness.client, {
        projectDir,
        taskQueue: harness.taskQueue,
        pipeline: 'sleepy',
        params: { sleep_ms: 0 },
        workflowId,
      });
      const result = await handle.result();
      const { tasks, local } = await stepsOf(handle.handle);
      expect(local.filter((step) => step.type === 'startMlflowRun')).toEqual([
        { type: 'startMlflowRun', failed: true },
      ]);
      expect(tasks.filter((type) => type === 'startMlflowRun')).toHaveLength(1);
      // The local attempt may have made the run before its answer was lost: the task looks first.
      expect(count('POST runs/search', workflowId)).toBeGreaterThanOrEqual(1);
      const runs = await mlflow().runs.search({
        experimentIds: [(await mlflow().runs.get(result.mlflowRunId!)).info.experiment_id],
        filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${workflowId}'`,
      });
      expect(runs.items.map((run) => [run.info.run_id, run.info.status])).toEqual([
        [result.mlflowRunId, 'FINISHED'],
      ]);
    } finally {
      lifecycle!.refuse(undefined);
    }
  }, 120_000);

  it('finds the run an earlier attempt created: on a retry, or without the first-execution mark', async () => {
    const activities = fixtureActivities(projectDir);
    const workflowId = `run-start-${randomUUID()}`;
    const context = sleepyRunContext(workflowId, { firstExecution: true });
    const attempt = (n: number, ctx: RunContext): Promise<MlflowRunRef> =>
      new MockActivityEnvironment({ attempt: n }).run(activities.startMlflowRun, ctx);

    const first = await attempt(1, context);
    expect(count('POST runs/create', workflowId)).toBe(1);
    expect(count('POST runs/search', workflowId)).toBe(0);

    // The first attempt's answer was lost (the worker died): the retry keeps the same run.
    let from = calls.length;
    const retried = await attempt(2, context);
    expect(retried.runId).toBe(first.runId);
    expect(count('POST runs/search', workflowId, from)).toBe(1);
    expect(count('POST runs/create', workflowId, from)).toBe(0);

    // A reset or continued-as-new run is no first execution: its first attempt looks too.
    from = calls.length;
    const { firstExecution: _, ...later } = context;
    expect((await attempt(1, later)).runId).toBe(first.runId);
    expect(count('POST runs/create', workflowId, from)).toBe(0);

    const runs = await mlflow().runs.search({
      experimentIds: [first.experimentId],
      filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${workflowId}'`,
    });
    expect(runs.items.map((run) => run.info.run_id)).toEqual([first.runId]);
    await activities.endMlflowRun({
      context: { ...context, mlflowRunId: first.runId },
      status: 'FINISHED',
    });
  }, 60_000);
});
