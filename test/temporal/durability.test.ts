import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAG_WORKFLOW_ID } from '../../src/constants.js';
import { MlflowClient } from '../../src/mlflow/client.js';
import { startTraining } from '../../src/temporal/client.js';
import { createProjectActivities } from '../../src/temporal/worker.js';
import { services } from '../support/services.js';
import { temporalTestProject } from '../support/temporal.js';
import {
  spawnWorker,
  waitFor,
  executionPids,
  useTemporalClientWithWorkers,
} from '../support/worker-process.js';

/** One line per execution of a node: `<time> <pid> ...`; returns the pids. */
async function mlflowRunsOf(workflowId: string) {
  const mlflow = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
  const experiment = await mlflow.experiments.getByName('temporal-mlflow-integration-tests');
  if (!experiment) return [];
  const page = await mlflow.runs.search({
    experimentIds: [experiment.experiment_id],
    filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${workflowId}'`,
  });
  return page.items;
}

const executions = executionPids;

const temporalClient = useTemporalClientWithWorkers();

describe('a training workflow whose worker process is killed', () => {
  it('completes on a new worker without re-running completed nodes, with exactly one FINISHED MLflow run', async () => {
    const executionsDir = mkdtempSync(join(tmpdir(), 'tm-exec-'));
    // Both workers share one store folder (as workers on one host do); nothing else is shared.
    const storeDir = mkdtempSync(join(tmpdir(), 'tm-store-'));
    const taskQueue = `durability-${randomUUID()}`;
    const worker = (): ReturnType<typeof spawnWorker> =>
      spawnWorker({
        projectDir: temporalTestProject,
        taskQueue,
        args: ['--store-dir', storeDir],
        env: { TEST_EXECUTIONS_DIR: executionsDir },
      });

    const first = worker();
    await first.ready;
    const training = await startTraining(temporalClient(), {
      pipeline: 'slow',
      params: { slow_ms: 5000 },
      taskQueue,
      nodeDefaults: { heartbeatTimeoutMs: 2000 },
    });
    await waitFor(
      async () => (await training.progress()).nodes.slow === 'running',
      "node 'slow' to run",
    );
    await waitFor(
      () => executions(executionsDir, 'slow').length === 1,
      "node 'slow' to start executing",
    );
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');

    const second = worker();
    await second.ready;
    const result = await training.result();

    expect(result).toMatchObject({ pipeline: 'slow', nodes: 3 });
    expect((await training.handle.describe()).status.name).toBe('COMPLETED');
    expect(
      JSON.parse(readFileSync(join(temporalTestProject, 'data/output/slow_result.json'), 'utf8')),
    ).toBe(3);
    // `first` completed before the kill: it is never executed again.
    expect(executions(executionsDir, 'first')).toEqual([first.pid]);
    // `slow` died with the first worker and was retried on the second.
    expect(executions(executionsDir, 'slow')).toEqual([first.pid, second.pid]);
    expect(executions(executionsDir, 'last')).toEqual([second.pid]);

    // The new worker replayed the workflow (local activity markers included): still one run.
    const runs = await mlflowRunsOf(training.workflowId);
    expect(runs.map((run) => run.info.status)).toEqual(['FINISHED']);
    expect(runs[0]!.info.run_id).toBe(result.mlflowRunId);

    await second.stop('SIGTERM');
  }, 180_000);
});

describe('the MLflow run of a training workflow', () => {
  it('is found again, not created twice, when the start activity is retried for the same workflow id', async () => {
    const activities = createProjectActivities(temporalTestProject);
    const context = {
      workflowId: `retried-start-${randomUUID()}`,
      pipeline: 'slow',
      env: 'local',
      params: {},
      identity: { project: 'temporal-test-project', env: 'local' },
      codeHash: 'x',
      store: 'local' as const,
    };
    const first = await activities.startMlflowRun(context);
    const again = await activities.startMlflowRun(context);
    expect(again.runId).toBe(first.runId);
    const runs = await mlflowRunsOf(context.workflowId);
    expect(runs.map((run) => run.info.run_id)).toEqual([first.runId]);
    await activities.endMlflowRun({
      context: { ...context, mlflowRunId: first.runId },
      status: 'FINISHED',
    });
  });
});
