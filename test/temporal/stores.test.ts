import {
  WorkflowFailedError,
  type ActivityFailure,
  type ApplicationFailure,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import { startTraining, type TrainingHandle } from '../../src/temporal/client.js';
import {
  LocalIntermediateStore,
  MLFLOW_INTERMEDIATE_ROOT,
  safeSegment,
} from '../../src/temporal/intermediate-store.js';
import { services } from '../support/services.js';
import { fastNodeDefaults, startHarness, temporalTestProject } from '../support/temporal.js';
import {
  spawnWorker,
  waitFor,
  type WorkerProcess,
  executionPids,
  useTemporalClientWithWorkers,
} from '../support/worker-process.js';

/** One line per execution of a node: `<time> <pid> ...`; returns the pids. */
const executions = executionPids;

/**
 * Two worker processes on one task queue, one node slot each: the diamond's branches `b` and `c`
 * are ready together, so they always run on different workers, and `a → b/c → d` crosses
 * workers at least twice in every run.
 */
async function twoWorkers(args: (index: number) => string[]) {
  const executionsDir = mkdtempSync(join(tmpdir(), 'tm-exec-'));
  const taskQueue = `stores-${randomUUID()}`;
  const workers: WorkerProcess[] = [0, 1].map((index) =>
    spawnWorker({
      projectDir: temporalTestProject,
      taskQueue,
      args: ['--max-concurrent-nodes', '1', ...args(index)],
      env: { TEST_EXECUTIONS_DIR: executionsDir },
    }),
  );
  await Promise.all(workers.map((worker) => worker.ready));
  return { executionsDir, taskQueue, workers };
}

/** How many of the diamond's four edges (a→b, a→c, b→d, c→d) crossed workers in the `run`-th run. */
const crossings = (dir: string, run: number): number => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((node) => executions(dir, node)[run]);
  const edges = [
    [a, b],
    [a, c],
    [b, d],
    [c, d],
  ];
  return edges.filter(([from, to]) => from !== undefined && to !== undefined && from !== to).length;
};

const temporalClient = useTemporalClientWithWorkers();
const mlflow = (): MlflowClient =>
  new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });

describe('the intermediate store of a run whose consecutive nodes run on different workers', () => {
  it("breaks the run with 'local' stores in different folders (workers on hosts without a shared disk)", async () => {
    const { executionsDir, taskQueue, workers } = await twoWorkers((index) => [
      '--store-dir',
      mkdtempSync(join(tmpdir(), `tm-store-${index}-`)),
    ]);
    const training = await startTraining(temporalClient(), {
      pipeline: 'diamond',
      taskQueue,
      nodeDefaults: { ...fastNodeDefaults, retry: { maximumAttempts: 1 } },
    });
    const error = await training.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((await training.progress()).failedNode).toMatch(/^[bc]$/);
    // A branch on the worker that did not run `a` finds no `a` in its own folder.
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.message).toMatch(/^Node '[bc]' failed: ENOENT: .*\/a\.bin'$/);
    const [aPid] = executions(executionsDir, 'a');
    const otherPid = workers.map((worker) => worker.pid).find((pid) => pid !== aPid);
    expect(executions(executionsDir, 'a')).toHaveLength(1);
    expect((failure.cause as ActivityFailure).identity).toContain(`@${otherPid}:`);
    await Promise.all(workers.map((worker) => worker.stop()));
  }, 90_000);

  it("completes with the 'mlflow' store, and the run's artifacts are deleted when it ends", async () => {
    const { executionsDir, taskQueue, workers } = await twoWorkers(() => ['--store', 'mlflow']);
    const pids = workers.map((worker) => worker.pid);
    for (let run = 0; run < 2; run++) {
      const x = 100 + run;
      const training: TrainingHandle = await startTraining(temporalClient(), {
        pipeline: 'diamond',
        params: { x },
        taskQueue,
        nodeDefaults: fastNodeDefaults,
      });
      // Under the tracked experiment's folder: servers with authentication grant artifacts by experiment.
      const runId = await training.mlflowRunId();
      const experimentId = (await mlflow().runs.get(runId!)).info.experiment_id;
      const root = `mlflow-artifacts:/${experimentId}/${MLFLOW_INTERMEDIATE_ROOT}/${safeSegment(training.workflowId)}`;
      if (run === 0) {
        // While the branches run, `a` lives in MLflow's artifact store.
        await waitFor(
          async () =>
            (await training.progress()).running.length > 0 &&
            (await training.progress()).done === 1,
          'the branches to run',
        );
        const during = await mlflow().artifacts.listArtifacts(root);
        expect(during.map((file) => file.path)).toContain('a.bin');
      }
      await training.result();
      const result = JSON.parse(
        readFileSync(join(temporalTestProject, 'data/output/diamond_result.json'), 'utf8'),
      ) as { sum: number };
      expect(result.sum).toBe((x + 1) * 2 + (x + 1) * 3);
      expect(await mlflow().artifacts.listArtifacts(root)).toEqual([]);
    }
    // Every node ran once per run, on one of the two workers; in each run `b` and `c` ran on
    // different workers, so at least two consecutive pairs crossed from one worker to the other.
    for (const node of ['a', 'b', 'c', 'd']) {
      expect(executions(executionsDir, node)).toHaveLength(2);
      for (const pid of executions(executionsDir, node)) expect(pids).toContain(pid);
    }
    for (let run = 0; run < 2; run++) {
      expect(executions(executionsDir, 'b')[run]).not.toBe(executions(executionsDir, 'c')[run]);
      expect(crossings(executionsDir, run)).toBeGreaterThanOrEqual(2);
    }
    await Promise.all(workers.map((worker) => worker.stop()));
  }, 90_000);
});

describe("the 'local' intermediate store", () => {
  it('holds the datasets of a running run in a folder that is removed when the run completes', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'tm-store-'));
    const harness = await startHarness({ storeDir });
    try {
      const training = await startTraining(harness.client, {
        pipeline: 'slow',
        params: { slow_ms: 1000 },
        taskQueue: harness.taskQueue,
        nodeDefaults: fastNodeDefaults,
      });
      const runDir = join(storeDir, safeSegment(training.workflowId));
      await waitFor(
        async () => (await training.progress()).nodes.slow === 'running',
        "node 'slow' to run",
      );
      // Read as another worker process sharing the folder would.
      expect(await new LocalIntermediateStore(storeDir).exists(training.workflowId, 'one')).toBe(
        true,
      );
      await training.result();
      expect(existsSync(runDir)).toBe(false);
    } finally {
      await harness.close();
    }
  });
});
