import type { Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import {
  TAG_PROMOTION_APPROVER,
  TAG_PROMOTION_COMMENT,
  TAG_PROMOTION_DECISION,
  TAG_PROMOTION_REASON,
} from '../../src/constants.js';
import { PipelineMLOptionError } from '../../src/model/errors.js';
import { pipelineMl } from '../../src/model/pipeline-ml.js';
import { node, pipeline } from '../../src/pipeline/index.js';
import {
  approvePromotion,
  ApprovalRefusedError,
  listPendingApprovals,
  rejectPromotion,
} from '../../src/temporal/approvals.js';
import { startTraining } from '../../src/temporal/client.js';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes.js';
import type { TrainingResult } from '../../src/temporal/types.js';
import { lifecycleProject, mlflow, waitFor } from '../support/lifecycle.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

// The fixture registers its model under this name: this file's own registered model.
const MODEL = `promotion-${randomUUID().slice(0, 8)}`;
process.env.LIFECYCLE_MODEL_NAME = MODEL;

let harness: TemporalHarness;
const taskQueue = `test-promotion-${randomUUID()}`;

beforeAll(async () => {
  harness = await startHarness({ projectDir: lifecycleProject, taskQueue });
  await ensureSearchAttributes(harness.client.connection as Connection, 'default');
}, 120_000);
afterAll(async () => harness?.close());

async function train(pipelineName: string, quality: number) {
  return startTraining(harness.client, {
    projectDir: lifecycleProject,
    taskQueue,
    pipeline: pipelineName,
    params: { quality },
    nodeDefaults: fastNodeDefaults,
  });
}

async function champion(): Promise<string> {
  return (await mlflow().registry.getModelVersionByAlias(MODEL, 'champion')).version;
}

async function versionTags(version: string): Promise<Record<string, string>> {
  const v = await mlflow().registry.getModelVersion(MODEL, version);
  return Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value]));
}

describe('the promote option of pipelineMl', () => {
  const training = pipeline([
    node((q: number) => q, { inputs: 'params:q', outputs: 'm', name: 'fit' }),
  ]);
  const inference = pipeline([
    node((i: unknown[], m: number) => i.map(() => m), {
      inputs: ['instances', 'm'],
      outputs: 'p',
      name: 'predict',
    }),
  ]);
  const logModel = { registeredModelName: 'r', alias: 'champion' };
  it.each([
    [{ metric: '' }, 'promote.metric'],
    [{ metric: 'acc', minImprovement: -1 }, 'promote.minImprovement'],
    [{ metric: 'acc', approvalTimeout: 'forever' }, 'promote.approvalTimeout'],
    [{ metric: 'acc', alias: 'latest' }, 'promote.alias'],
    [{ metric: 'acc', requireAproval: true }, 'promote.requireAproval'],
  ])('rejects %j at %s', (promote, option) => {
    const build = () =>
      pipelineMl({
        training,
        inference,
        inputName: 'instances',
        logModel,
        promote: promote as never,
      });
    expect(build).toThrow(PipelineMLOptionError);
    try {
      build();
    } catch (error) {
      expect((error as PipelineMLOptionError).option).toBe(option);
    }
  });

  it('collects every issue, and fills defaults (alias from logModel, 7 days to approve)', () => {
    try {
      pipelineMl({ training, inference, inputName: 'instances', promote: { metric: 3 as never } });
      throw new Error('expected a PipelineMLOptionError');
    } catch (error) {
      expect(String((error as Error).message)).toMatch(/promote\.alias[\s\S]*promote\.metric/);
    }
    const ml = pipelineMl({
      training,
      inference,
      inputName: 'instances',
      logModel,
      promote: { metric: 'acc' },
    });
    expect(ml.promote).toEqual({
      alias: 'champion',
      metric: 'acc',
      greaterIsBetter: true,
      minImprovement: 0,
      requireApproval: false,
      approvalTimeoutMs: 7 * 86_400_000,
    });
    expect(ml.onlyNodes('fit')).toHaveProperty('promote', ml.promote);
  });
});

describe('the promotion gate on the real servers', () => {
  let first: TrainingResult;

  it('promotes the first model, keeps @champion on a worse one and says why, moves it to a better one', async () => {
    const firstHandle = await train('gated', 0.5);
    first = await firstHandle.result();
    expect(first.promotion).toMatchObject({ decision: 'promoted', alias: 'champion' });
    // The gate's steps ran as local activities (markers), not as activity tasks.
    const events = (await firstHandle.handle.fetchHistory()).events ?? [];
    const activities = events.map(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name,
    );
    expect(activities).not.toContain('evaluatePromotion');
    expect(activities).not.toContain('recordPromotion');
    expect(events.filter((e) => e.markerRecordedEventAttributes).length).toBeGreaterThanOrEqual(2);
    expect(first.promotion?.reason).toContain('no version holds @champion');
    // The run is ended by a local activity while the gate runs: no activity task ends it, and the
    // end and the gate's steps complete with one workflow task (their markers follow one
    // workflowTaskCompleted), so the alias moves without waiting for a round trip of closing.
    expect(activities).not.toContain('endMlflowRun');
    const json = (payload: { data?: Uint8Array | null } | null | undefined): unknown =>
      JSON.parse(Buffer.from(payload?.data ?? []).toString('utf8'));
    let task = 0;
    const localSteps: { summary: string; task: number }[] = [];
    for (const event of events) {
      if (event.workflowTaskCompletedEventAttributes) task++;
      const marker = event.markerRecordedEventAttributes;
      if (marker?.markerName === 'core_local_activity' && event.userMetadata?.summary)
        localSteps.push({ summary: String(json(event.userMetadata.summary)), task });
    }
    const ending = localSteps.find((step) => step.summary === 'end MLflow run');
    expect(ending).toBeDefined();
    // Evaluating, recording and ending: one workflow task.
    expect(
      localSteps
        .filter((step) => step.task === ending!.task)
        .map((s) => s.summary)
        .sort(),
    ).toEqual(['end MLflow run', 'promotion gate', 'promotion gate']);
    expect((await mlflow().runs.get(first.mlflowRunId!)).info.status).toBe('FINISHED');
    const v1 = first.model!.registeredModelVersion!;
    expect(await champion()).toBe(v1);

    const worse = await (await train('gated', 0.3)).result();
    expect(worse.promotion).toMatchObject({
      decision: 'kept',
      candidateValue: 0.3,
      championValue: 0.5,
      championVersion: v1,
    });
    expect(worse.promotion?.reason).toContain('does not beat');
    expect(await champion()).toBe(v1);
    const worseTags = await versionTags(worse.model!.registeredModelVersion!);
    expect(worseTags[TAG_PROMOTION_DECISION]).toBe('kept');
    expect(worseTags[TAG_PROMOTION_REASON]).toContain('score 0.3 does not beat 0.5');

    const better = await (await train('gated', 0.7)).result();
    expect(better.promotion).toMatchObject({ decision: 'promoted', championValue: 0.5 });
    expect(await champion()).toBe(better.model!.registeredModelVersion);
  }, 180_000);

  it('waits for approval across a worker restart, without holding a worker slot, and approve moves the alias', async () => {
    const before = await champion();
    const handle = await train('approval', 0.8);
    await waitFor(
      'the training to await approval',
      async () =>
        (await listPendingApprovals(harness.client)).find(
          (p) => p.workflowId === handle.workflowId,
        ),
      120_000,
      500,
    );
    expect((await handle.progress()).state).toBe('awaiting-approval');
    expect(await champion()).toBe(before);

    // The wait is a workflow condition: no activity runs while it waits.
    const description = await handle.handle.describe();
    expect(description.raw.pendingActivities ?? []).toHaveLength(0);

    // Stop the worker and start another on the same queue: the wait goes on where it was.
    await harness.close();
    harness = await startHarness({ projectDir: lifecycleProject, taskQueue });
    const answer = await approvePromotion(harness.client, handle.workflowId, {
      approver: 'alice',
      comment: 'looks good',
    });
    expect(answer).toMatchObject({ accepted: true, decision: 'approved', alias: 'champion' });
    const result = await harness.client.workflow.getHandle(handle.workflowId).result();
    expect(result.promotion).toMatchObject({
      decision: 'promoted',
      approver: 'alice',
      comment: 'looks good',
    });
    expect(await champion()).toBe(result.model!.registeredModelVersion);
    const tags = await versionTags(result.model!.registeredModelVersion!);
    expect(tags[TAG_PROMOTION_APPROVER]).toBe('alice');
    expect(tags[TAG_PROMOTION_COMMENT]).toBe('looks good');
    // Nothing waits any more: a second answer is refused.
    await expect(
      approvePromotion(harness.client, handle.workflowId, { approver: 'bob' }),
    ).rejects.toThrow();
  }, 180_000);

  it('reject leaves the alias where it was and records who and why', async () => {
    const before = await champion();
    const handle = await train('approval', 0.9);
    await waitFor(
      'the training to await approval',
      async () => (await handle.progress()).state === 'awaiting-approval',
      120_000,
      500,
    );
    await expect(
      approvePromotion(harness.client, handle.workflowId, { approver: 3 as never }),
    ).rejects.toBeInstanceOf(ApprovalRefusedError);
    await rejectPromotion(harness.client, handle.workflowId, {
      approver: 'carol',
      comment: 'not on a Friday',
    });
    const result = await handle.result();
    expect(result.promotion).toMatchObject({ decision: 'rejected', approver: 'carol' });
    expect(await champion()).toBe(before);
    const tags = await versionTags(result.model!.registeredModelVersion!);
    expect(tags[TAG_PROMOTION_DECISION]).toBe('rejected');
    expect(tags[TAG_PROMOTION_COMMENT]).toBe('not on a Friday');
  }, 180_000);

  it('promotes nothing when nobody answers in time', async () => {
    const before = await champion();
    const result = await (await train('approval_timeout', 0.95)).result();
    expect(result.promotion?.decision).toBe('timed_out');
    expect(result.promotion?.reason).toContain('nobody approved within 3s');
    expect(await champion()).toBe(before);
    expect((await versionTags(result.model!.registeredModelVersion!))[TAG_PROMOTION_DECISION]).toBe(
      'timed_out',
    );
  }, 180_000);
});
