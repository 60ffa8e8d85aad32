/**
 * The approval wait of the promotion gate, the hard way: it costs no worker slot (a worker with one
 * workflow-task slot and one activity slot trains another pipeline to completion meanwhile), and it
 * survives a worker process killed with SIGKILL (a new worker takes the `approve` or `reject`).
 */
import type { Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { approvePromotion, rejectPromotion } from '../../src/temporal/approvals.js';
import { startTraining, type TrainingHandle } from '../../src/temporal/client.js';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes.js';
import { lifecycleProject, mlflow, waitFor } from '../support/lifecycle.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';
import { spawnWorker, useTemporalClientWithWorkers } from '../support/worker-process.js';

// The fixture registers its model under this name, in this process and in the spawned workers.
const MODEL = `promotion-durability-${randomUUID().slice(0, 8)}`;
process.env.LIFECYCLE_MODEL_NAME = MODEL;

const client = useTemporalClientWithWorkers();

async function champion(): Promise<string | undefined> {
  try {
    return (await mlflow().registry.getModelVersionByAlias(MODEL, 'champion')).version;
  } catch {
    return undefined;
  }
}

function train(
  taskQueue: string,
  pipelineName: string,
  params: Record<string, unknown>,
): Promise<TrainingHandle> {
  return startTraining(client(), {
    projectDir: lifecycleProject,
    taskQueue,
    pipeline: pipelineName,
    params,
    nodeDefaults: fastNodeDefaults,
  });
}

/** Waits until the workflow's progress says it awaits approval (a worker answers the query). */
async function awaitingApproval(handle: TrainingHandle): Promise<void> {
  await waitFor(
    `${handle.workflowId} to await approval`,
    async () => (await handle.progress()).state === 'awaiting-approval',
    120_000,
    500,
  );
}

beforeAll(async () => {
  await ensureSearchAttributes(client().connection as Connection, 'default');
});

describe('the approval wait', () => {
  it('holds no worker slot: a worker with one slot of each kind trains another pipeline meanwhile', async () => {
    const taskQueue = `test-approval-slots-${randomUUID()}`;
    let harness: TemporalHarness | undefined;
    try {
      harness = await startHarness({
        projectDir: lifecycleProject,
        taskQueue,
        maxConcurrentNodes: 1,
        workerOptions: {
          // One workflow-task slot takes no sticky cache (Temporal wants two pollers for one): no
          // workflow stays in this worker's memory either, every task replays its history.
          maxCachedWorkflows: 0,
          maxConcurrentWorkflowTaskExecutions: 1,
          maxConcurrentActivityTaskExecutions: 1,
          maxConcurrentLocalActivityExecutions: 1,
        },
      });
      const waiting = await train(taskQueue, 'approval', { quality: 0.4 });
      await awaitingApproval(waiting);

      // Three sleeping nodes, an MLflow run opened and closed: all through the one slot of each kind.
      const other = await train(taskQueue, 'sleepy', { sleep_ms: 50, quality: 1 });
      const result = await other.result();
      expect(result).toMatchObject({ pipeline: 'sleepy', nodes: 3 });
      expect(result.mlflowRunId).toBeDefined();

      // The first training still waits, with nothing running for it.
      expect((await waiting.progress()).state).toBe('awaiting-approval');
      expect((await waiting.handle.describe()).raw.pendingActivities ?? []).toHaveLength(0);

      await rejectPromotion(client(), waiting.workflowId, { approver: 'slots-test' });
      expect((await waiting.result()).promotion?.decision).toBe('rejected');
      expect(await champion()).toBeUndefined();
    } finally {
      await harness?.close();
    }
  }, 240_000);

  it('survives a worker killed with SIGKILL: a new worker takes approve (alias moves) and reject (alias stays)', async () => {
    const taskQueue = `test-approval-kill-${randomUUID()}`;
    const startWorker = async () => {
      const worker = spawnWorker({
        projectDir: lifecycleProject,
        taskQueue,
        env: { LIFECYCLE_MODEL_NAME: MODEL },
      });
      await worker.ready;
      return worker;
    };

    // approve after the kill
    let worker = await startWorker();
    const approved = await train(taskQueue, 'approval', { quality: 0.6 });
    await awaitingApproval(approved);
    expect(await champion()).toBeUndefined();
    expect(await worker.stop('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });

    worker = await startWorker();
    const answer = await approvePromotion(client(), approved.workflowId, {
      approver: 'alice',
      comment: 'after the crash',
    });
    expect(answer).toMatchObject({ accepted: true, decision: 'approved', alias: 'champion' });
    const first = await approved.result();
    expect(first.promotion).toMatchObject({ decision: 'promoted', approver: 'alice' });
    const promotedVersion = first.model!.registeredModelVersion!;
    expect(await champion()).toBe(promotedVersion);

    // reject after the kill
    const rejected = await train(taskQueue, 'approval', { quality: 0.9 });
    await awaitingApproval(rejected);
    expect(await worker.stop('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });

    worker = await startWorker();
    await rejectPromotion(client(), rejected.workflowId, {
      approver: 'bob',
      comment: 'not this one',
    });
    const second = await rejected.result();
    expect(second.promotion).toMatchObject({ decision: 'rejected', approver: 'bob' });
    expect(second.model!.registeredModelVersion).not.toBe(promotedVersion);
    expect(await champion()).toBe(promotedVersion);
    await worker.stop();
  }, 300_000);
});
