import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import {
  MLFLOW_PARENT_RUN_ID_TAG,
  TAG_SWEEP_BEST_RUN_ID,
  TAG_SWEEP_BEST_TRIAL,
  TAG_SWEEP_TRIAL,
  TAG_WORKFLOW_ID,
} from '../../src/constants.js';
import {
  expandTrials,
  parseSweepSpec,
  startSweep,
  SweepSpecError,
} from '../../src/temporal/sweep-client.js';
import { startTraining } from '../../src/temporal/client.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { lifecycleProject, mlflow, tagOf, trialStatuses, waitFor } from '../support/lifecycle.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

const MODEL = `sweep-${randomUUID().slice(0, 8)}`;
process.env.LIFECYCLE_MODEL_NAME = MODEL;

let harness: TemporalHarness;
const taskQueue = `test-sweep-${randomUUID()}`;
beforeAll(async () => {
  harness = await startHarness({ projectDir: lifecycleProject, taskQueue });
}, 120_000);
afterAll(async () => harness?.close());

/** The activities a workflow scheduled, by type, in order. */
async function scheduledActivities(workflowId: string): Promise<string[]> {
  const history = await harness.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap(
    (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
  );
}

/** The runs nested under `parentRunId`. */
async function childRuns(parentRunId: string) {
  const client = mlflow();
  const parent = await client.runs.get(parentRunId);
  const page = await client.runs.search({
    experimentIds: [parent.info.experiment_id],
    filter: `tags.\`${MLFLOW_PARENT_RUN_ID_TAG}\` = '${parentRunId}'`,
  });
  return page.items;
}

describe('sweep specs', () => {
  it('expands a grid into every combination, nested params merged over the base', () => {
    const spec = parseSweepSpec({
      params: { model: { depth: 3 } },
      parameters: { 'model.alpha': [1, 2], seed: { values: ['a', 'b'] } },
    });
    const trials = expandTrials(spec, { other: true });
    expect(trials.map((t) => t.values)).toEqual([
      { 'model.alpha': 1, seed: 'a' },
      { 'model.alpha': 1, seed: 'b' },
      { 'model.alpha': 2, seed: 'a' },
      { 'model.alpha': 2, seed: 'b' },
    ]);
    expect(trials[3]!.params).toEqual({ other: true, model: { depth: 3, alpha: 2 }, seed: 'b' });
  });

  it('samples random trials within their ranges, the same for the same seed', () => {
    const spec = parseSweepSpec({
      method: 'random',
      trials: 20,
      seed: 3,
      parameters: {
        lr: { min: 0.001, max: 0.1, log: true },
        depth: { min: 2, max: 8, integer: true },
      },
    });
    const trials = expandTrials(spec);
    expect(trials).toHaveLength(20);
    for (const { values } of trials) {
      expect(values.lr as number).toBeGreaterThanOrEqual(0.001);
      expect(values.lr as number).toBeLessThanOrEqual(0.1);
      expect(Number.isInteger(values.depth)).toBe(true);
    }
    expect(expandTrials(spec)).toEqual(trials);
  });

  it('collects every problem of a spec with its path', () => {
    let error: unknown;
    try {
      parseSweepSpec(
        { method: 'random', maxParallel: 0, parameters: { x: { min: 2, max: 1 }, y: 'a' } },
        'sweep.yml',
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SweepSpecError);
    expect((error as SweepSpecError).issues.map((i) => i.path)).toEqual([
      'maxParallel',
      'trials',
      'parameters.x',
      'parameters.y',
    ]);
    expect((error as Error).message).toContain(
      '✖ expected a positive integer, got 0 → at maxParallel',
    );
  });
});

describe("a training's result", () => {
  it('reports the latest value of each metric its nodes logged, as MLflow holds it', async () => {
    const training = await startTraining(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'sleepy',
      params: { quality: 0.7, sleep_ms: 0 },
      nodeDefaults: fastNodeDefaults,
    });
    const result = await training.result();
    expect(result.metrics).toEqual({ score: 0.7 });
    const run = await mlflow().runs.get(result.mlflowRunId!);
    expect(run.data.metrics?.map((m) => [m.key, m.value])).toEqual([['score', 0.7]]);
  }, 120_000);

  it('reports none when a node logged more metrics than its result carries (a sweep reads them)', async () => {
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'many_metrics',
      nodeDefaults: fastNodeDefaults,
      spec: { maxParallel: 2, metric: 'many_scores.m0', parameters: { quality: [0.3, 0.9] } },
    });
    const result = await sweep.result();
    // Read back from MLflow, since no trial reported it.
    expect(result.best).toMatchObject({ trial: 1, metric: 0.9 });
    const trial = await harness.client.workflow.getHandle(result.trials[1]!.workflowId).result();
    expect(trial.metrics).toBeUndefined();
    const run = await mlflow().runs.get(trial.mlflowRunId!);
    expect(run.data.metrics).toHaveLength(101);
  }, 120_000);
});

describe('a sweep on the real servers', () => {
  it('runs nested trials two at a time, survives a failed trial and names the best on the parent run', async () => {
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: 0 },
      nodeDefaults: { ...fastNodeDefaults, retry: { maximumAttempts: 1 } },
      spec: { maxParallel: 2, metric: 'score', parameters: { quality: [0.2, 0.6, 'x', 0.8, 0.4] } },
    });
    let mostRunning = 0;
    const watching = (async () => {
      for (;;) {
        const progress = await sweep.progress().catch(() => undefined);
        if (progress) mostRunning = Math.max(mostRunning, progress.running);
        if (progress && ['completed', 'failed', 'cancelled'].includes(progress.state)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const result = await sweep.result();
    await watching;
    expect(mostRunning).toBeLessThanOrEqual(2);
    expect(result.trials.map((t) => t.state)).toEqual([
      'completed',
      'completed',
      'failed',
      'completed',
      'completed',
    ]);
    expect(result.trials[2]!.error).toContain('quality must be a number');
    expect(result.best).toMatchObject({ trial: 3, metric: 0.8 });
    expect(result.model).toBeUndefined();
    const client = mlflow();
    const parent = await client.runs.get(result.mlflowRunId!);
    expect(parent.info.status).toBe('FINISHED');
    expect(tagOf(parent, TAG_SWEEP_BEST_TRIAL)).toBe('3');
    expect(tagOf(parent, TAG_SWEEP_BEST_RUN_ID)).toBe(result.best!.mlflowRunId);
    expect(parent.data.metrics?.find((m) => m.key === 'best_score')?.value).toBe(0.8);
    const children = await client.runs.search({
      experimentIds: [parent.info.experiment_id],
      filter: `tags.\`${MLFLOW_PARENT_RUN_ID_TAG}\` = '${parent.info.run_id}'`,
    });
    expect(children.items).toHaveLength(5);
    expect(children.items.map((run) => run.info.status).sort()).toEqual([
      'FAILED',
      'FINISHED',
      'FINISHED',
      'FINISHED',
      'FINISHED',
    ]);
  }, 120_000);

  it("registers the best trial's model alone (trials log theirs unregistered) and passes it through the gate", async () => {
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'gated',
      nodeDefaults: { ...fastNodeDefaults, retry: { maximumAttempts: 1 } },
      spec: { maxParallel: 2, parameters: { quality: [0.2, 0.6, 'not a number', 0.8, 0.4] } },
    });
    let mostRunning = 0;
    const watching = (async () => {
      for (;;) {
        const progress = await sweep.progress().catch(() => undefined);
        if (progress) mostRunning = Math.max(mostRunning, progress.running);
        if (progress && ['completed', 'failed', 'cancelled'].includes(progress.state)) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const result = await sweep.result();
    await watching;
    expect(mostRunning).toBeLessThanOrEqual(2);
    expect(result.trials.map((t) => t.state)).toEqual([
      'completed',
      'completed',
      'failed',
      'completed',
      'completed',
    ]);
    expect(result.best).toMatchObject({ trial: 3, metric: 0.8 });
    // Replayed (as a query after an eviction replays it), the history gives the same commands.
    await expect(
      Worker.runReplayHistory(
        { workflowsPath },
        await sweep.handle.fetchHistory(),
        sweep.workflowId,
      ),
    ).resolves.toBeUndefined();

    const client = mlflow();
    const parent = await client.runs.get(result.mlflowRunId!);
    expect(tagOf(parent, TAG_SWEEP_BEST_TRIAL)).toBe('3');
    expect(tagOf(parent, TAG_SWEEP_BEST_RUN_ID)).toBe(result.best!.mlflowRunId);
    expect(parent.data.metrics?.find((m) => m.key === 'best_score')?.value).toBe(0.8);
    const children = await client.runs.search({
      experimentIds: [parent.info.experiment_id],
      filter: `tags.\`${MLFLOW_PARENT_RUN_ID_TAG}\` = '${parent.info.run_id}'`,
    });
    expect(children.items).toHaveLength(5);

    const versions = await client.registry.searchModelVersions({ filter: `name = '${MODEL}'` });
    expect(versions.items).toHaveLength(1);
    expect(versions.items[0]!.run_id).toBe(result.best!.mlflowRunId);
    expect(result.promotion).toMatchObject({ decision: 'promoted', alias: 'champion' });
  }, 240_000);

  it("fails naming the logged metrics when no trial logged the sweep's metric", async () => {
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: 0 },
      nodeDefaults: fastNodeDefaults,
      spec: { maxParallel: 2, metric: 'accuracy', parameters: { quality: [1, 2] } },
    });
    const failure = await sweep.result().then(
      () => undefined,
      (error: unknown) => error as { cause?: { type?: string; message?: string } },
    );
    expect(failure?.cause?.type).toBe('SweepMetricNotLogged');
    expect(failure?.cause?.message).toContain(
      "None of the 2 completed trials logged the metric 'accuracy'",
    );
    expect(failure?.cause?.message).toContain("logged 'score'");
    const parent = await mlflow().runs.get((await sweep.progress()).mlflowRunId!);
    expect(parent.info.status).toBe('FAILED');
  }, 120_000);

  it("creates its trials' MLflow runs and hands them over: no trial has an MLflow start step", async () => {
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: 0 },
      nodeDefaults: fastNodeDefaults,
      spec: { maxParallel: 2, metric: 'score', parameters: { quality: [0.1, 0.2, 0.3, 0.4, 0.5] } },
    });
    const result = await sweep.result();
    expect(result.best).toMatchObject({ trial: 4, metric: 0.5 });
    // The plan, then the parent run with the first round's trial runs, are local activities
    // (markers, no task round trip); the run of trial i + 2 is made as trial i starts.
    const steps = await scheduledActivities(sweep.workflowId);
    expect(steps.filter((name) => name === 'startMlflowRun')).toHaveLength(3);
    expect(steps).not.toContain('planPipeline');
    const events = (await sweep.handle.fetchHistory()).events ?? [];
    const localSteps = events.flatMap((e) => {
      const marker = e.markerRecordedEventAttributes;
      if (marker?.markerName !== 'core_local_activity') return [];
      const data = marker.details?.data?.payloads?.[0]?.data;
      return [JSON.parse(Buffer.from(data!).toString()).activity_type as string];
    });
    // The last step (the outcome, the last trial's run ended) is local too.
    expect(localSteps).toEqual(['planPipeline', 'startSweepRuns', 'finishSweep']);
    // The first two trials start in one workflow task, with their runs.
    const starts = events.flatMap(
      (e) =>
        e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowTaskCompletedEventId ?? [],
    );
    expect(String(starts[0])).toBe(String(starts[1]));
    // Trial 2's run is made while trials 0 and 1 run: the lane that frees first does not wait.
    const madeThird = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'startMlflowRun',
    )!;
    const firstTrialDone = events.find((e) => e.childWorkflowExecutionCompletedEventAttributes)!;
    expect(Number(madeThird.eventId)).toBeLessThan(Number(firstTrialDone.eventId));
    const runs = new Map((await childRuns(result.mlflowRunId!)).map((r) => [r.info.run_id, r]));
    expect(runs.size).toBe(5);
    for (const trial of result.trials) {
      expect(await scheduledActivities(trial.workflowId)).not.toContain('startMlflowRun');
      const run = runs.get(trial.mlflowRunId!);
      expect(run?.info.status).toBe('FINISHED');
      expect(tagOf(run, TAG_WORKFLOW_ID)).toBe(trial.workflowId);
      expect(tagOf(run, TAG_SWEEP_TRIAL)).toBe(String(trial.trial));
      expect(run?.data.metrics?.find((m) => m.key === 'score')?.value).toBe(trial.metric);
    }
  }, 120_000);

  it('ends KILLED the runs it created for trials a cancel kept from starting', async () => {
    // Trial 0 is quick: its lane starts trial 2 and the round's runs (trials 2 and 3) are created,
    // while trial 1 keeps trial 3 waiting.
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'sleepy',
      params: { quality: 1 },
      nodeDefaults: fastNodeDefaults,
      spec: { maxParallel: 2, metric: 'score', parameters: { sleep_ms: [0, 5_000, 5_000, 5_000] } },
    });
    await waitFor(
      'trial 2 running beside trial 1',
      async () => (await trialStatuses(harness.client, sweep))[2] === 'RUNNING',
      60_000,
    );
    await sweep.handle.cancel();
    await expect(sweep.result()).rejects.toThrow();
    expect(await trialStatuses(harness.client, sweep)).toEqual([
      'COMPLETED',
      'CANCELLED',
      'CANCELLED',
      'NEVER_STARTED',
    ]);
    const parentRunId = (await sweep.progress()).mlflowRunId!;
    const byTrial = new Map(
      (await childRuns(parentRunId)).map((r) => [tagOf(r, TAG_SWEEP_TRIAL), r.info.status]),
    );
    expect(Object.fromEntries(byTrial)).toEqual({
      '0': 'FINISHED',
      '1': 'KILLED',
      '2': 'KILLED',
      '3': 'KILLED',
    });
  }, 120_000);

  it('cancelling the sweep cancels its running trials and starts no more', async () => {
    const sweep = await startSweep(harness.client, {
      projectDir: lifecycleProject,
      taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: 5_000 },
      nodeDefaults: fastNodeDefaults,
      spec: { maxParallel: 2, metric: 'score', parameters: { quality: [1, 2, 3, 4] } },
    });
    await waitFor('two trials running', async () => (await sweep.progress()).running === 2, 60_000);
    await sweep.handle.cancel();
    await expect(sweep.result()).rejects.toThrow();
    const statuses = await trialStatuses(harness.client, sweep);
    expect(statuses.filter((s) => s === 'RUNNING')).toEqual([]);
    expect(statuses.filter((s) => s === 'CANCELLED')).toHaveLength(2);
    expect(statuses.filter((s) => s === 'NEVER_STARTED')).toHaveLength(2);
  }, 120_000);
});
