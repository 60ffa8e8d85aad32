import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTraining, type TrainingHandle } from '../../src/temporal/client.js';
import { temporalTestProject } from '../support/temporal.js';
import {
  spawnWorker,
  waitFor,
  type WorkerProcess,
  executionPids,
  useTemporalClientWithWorkers,
} from '../support/worker-process.js';

/** One line per execution of a node: `<time> <pid> ...`; returns the pids. */
const executions = executionPids;

const temporalClient = useTemporalClientWithWorkers();

/** A task queue, an executions folder and a store folder shared by the workers of one test. */
function scenario(shutdownGrace: string) {
  const executionsDir = mkdtempSync(join(tmpdir(), 'tm-exec-'));
  const storeDir = mkdtempSync(join(tmpdir(), 'tm-store-'));
  const taskQueue = `sigterm-${randomUUID()}`;
  const worker = (): WorkerProcess =>
    spawnWorker({
      projectDir: temporalTestProject,
      taskQueue,
      args: ['--store-dir', storeDir, '--shutdown-grace', shutdownGrace],
      env: { TEST_EXECUTIONS_DIR: executionsDir },
    });
  const start = (slowMs: number): Promise<TrainingHandle> =>
    startTraining(temporalClient(), {
      pipeline: 'slow',
      params: { slow_ms: slowMs },
      taskQueue,
      nodeDefaults: { heartbeatTimeoutMs: 2000 },
    });
  const whenSlowRuns = async (training: TrainingHandle): Promise<void> => {
    await waitFor(
      async () => (await training.progress()).nodes.slow === 'running',
      "node 'slow' to run",
    );
    await waitFor(
      () => executions(executionsDir, 'slow').length === 1,
      "node 'slow' to start executing",
    );
  };
  return {
    executionsDir,
    worker,
    start,
    whenSlowRuns,
    executions: (node: string) => executions(executionsDir, node),
  };
}

describe('a worker sent SIGTERM while a node runs', () => {
  it('finishes the running node within its shutdown grace time, then exits 0; the next worker runs the rest', async () => {
    const { worker, start, whenSlowRuns, executions } = scenario('10s');
    const first = worker();
    await first.ready;
    const training = await start(3000);
    await whenSlowRuns(training);
    const signalledAt = Date.now();
    const exit = await first.stop('SIGTERM');

    expect(exit).toEqual({ code: 0, signal: null });
    expect(first.output()).toContain('"msg":"worker stopped"');
    // It waited for the node (3 s) rather than dropping it.
    expect(Date.now() - signalledAt).toBeGreaterThan(1500);
    // Nothing is left running: `first` and `slow` completed, `last` waits for a worker.
    const description = await training.handle.describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.raw.pendingActivities ?? []).toEqual([]);
    const events = (await training.handle.fetchHistory()).events ?? [];
    const typeOf = new Map(
      events.map((event) => [
        String(event.eventId),
        event.activityTaskScheduledEventAttributes?.activityType?.name,
      ]),
    );
    const completedNodes = events.filter(
      (event) =>
        event.activityTaskCompletedEventAttributes &&
        typeOf.get(String(event.activityTaskCompletedEventAttributes.scheduledEventId)) ===
          'runNode',
    ).length;
    expect(completedNodes).toBe(2);

    const second = worker();
    await second.ready;
    await training.result();
    expect((await training.handle.describe()).status.name).toBe('COMPLETED');
    expect(executions('first')).toEqual([first.pid]);
    expect(executions('slow')).toEqual([first.pid]);
    expect(executions('last')).toEqual([second.pid]);
    expect(
      JSON.parse(readFileSync(join(temporalTestProject, 'data/output/slow_result.json'), 'utf8')),
    ).toBe(3);
    await second.stop('SIGTERM');
  }, 90_000);

  it('hands a node that outlasts the grace time back to Temporal, which retries it on another worker', async () => {
    const { worker, start, whenSlowRuns, executions } = scenario('1s');
    const first = worker();
    await first.ready;
    const training = await start(8000);
    await whenSlowRuns(training);
    const signalledAt = Date.now();
    const exiting = first.stop('SIGTERM');

    // Once the grace time is over the worker fails the attempt, so Temporal schedules the next one
    // at once (no waiting for a heartbeat timeout) while the old process may still be winding down.
    await waitFor(
      async () =>
        ((await training.handle.describe()).raw.pendingActivities?.[0]?.attempt ?? 0) >= 2,
      'the node to be handed back',
      10_000,
      100,
    );
    expect(Date.now() - signalledAt).toBeLessThan(4000);
    const pending = (await training.handle.describe()).raw.pendingActivities ?? [];
    expect(pending).toHaveLength(1);
    expect(pending[0]!.lastFailure?.message).toMatch(/shutting down/i);
    expect(pending[0]!.lastWorkerIdentity).toContain(`@${first.pid}:`);

    const second = worker();
    await second.ready;
    await training.result();
    expect((await training.handle.describe()).status.name).toBe('COMPLETED');
    expect(executions('first')).toEqual([first.pid]);
    // The attempt cut short on the first worker, then a whole one on the second: never lost.
    expect(executions('slow')).toEqual([first.pid, second.pid]);
    expect(executions('last')).toEqual([second.pid]);
    expect(await exiting).toEqual({ code: 0, signal: null });
    await second.stop('SIGTERM');
  }, 90_000);
});
