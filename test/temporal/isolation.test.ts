/**
 * Several projects, and one project's environments, on one Temporal server: every default keeps
 * their work apart, and a queue shared by mistake never fails a run for good nor logs it to the
 * wrong MLflow server.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import { startTraining } from '../../src/temporal/client.js';
import { projectTaskQueue } from '../../src/temporal/identity.js';
import { createWorker, type CreateWorkerOptions } from '../../src/temporal/worker.js';
import { startPrivateMlflowServer, type PrivateMlflowServer } from '../support/mlflow-server.js';
import { addMlflowEnv, copyExampleAs, type ProjectCopy } from '../support/project-copies.js';
import { services } from '../support/services.js';
import { killAllWorkers, spawnWorker } from '../support/worker-process.js';
import { quietTemporalLogs } from '../support/temporal.js';

let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
const running: { worker: Worker; done: Promise<void> }[] = [];

beforeAll(async () => {
  quietTemporalLogs();
  const { TEMPORAL_ADDRESS } = services();
  connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
  nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  client = new Client({ connection });
});

afterAll(async () => {
  await killAllWorkers();
  await Promise.all(running.map(({ worker }) => stopWorker(worker)));
  await connection?.close();
  await nativeConnection?.close();
});

async function startWorker(options: CreateWorkerOptions & { identity: string }): Promise<Worker> {
  const worker = await createWorker({
    connection: nativeConnection,
    storeDir: mkdtempSync(join(tmpdir(), 'tm-store-')),
    heartbeatIntervalMs: 300,
    ...options,
    workerOptions: { identity: options.identity },
  });
  running.push({ worker, done: worker.run() });
  return worker;
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running.find((entry) => entry.worker === worker)?.done;
}

/** Identities of the workers that started each activity of a workflow, from its history. */
async function activityWorkers(workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((event) => event.activityTaskStartedEventAttributes?.identity)
    .filter((identity): identity is string => Boolean(identity));
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('two projects with every default on one Temporal server', () => {
  let a: ProjectCopy;
  let b: ProjectCopy;
  let workerA: Worker;
  let workerB: Worker;
  beforeAll(async () => {
    const suffix = randomUUID().slice(0, 8);
    a = copyExampleAs(`iso-a-${suffix}`);
    b = copyExampleAs(`iso-b-${suffix}`);
    [workerA, workerB] = await Promise.all([
      startWorker({ projectDir: a.dir, identity: `worker-of-${a.name}` }),
      startWorker({ projectDir: b.dir, identity: `worker-of-${b.name}` }),
    ]);
  }, 120_000);

  it('gives each project its own queue, derived from its name and environment', async () => {
    expect(workerA.options.taskQueue).toBe(projectTaskQueue(a.name, 'local'));
    expect(workerB.options.taskQueue).toBe(projectTaskQueue(b.name, 'local'));
    expect(workerA.options.taskQueue).not.toBe(workerB.options.taskQueue);
  });

  it('runs three interleaved trainings of each on its own workers, each model in its own experiment and registry entry', async () => {
    const order = [a, b, a, b, a, b];
    const handles = await Promise.all(
      order.map((project) => startTraining(client, { projectDir: project.dir })),
    );
    const results = await Promise.all(handles.map((handle) => handle.result()));
    const mlflow = MlflowClient.fromEnv();
    for (const [index, result] of results.entries()) {
      const project = order[index]!;
      const other = project === a ? b : a;
      expect(result.model?.registeredModelName).toBe(project.registeredModel);
      const run = await mlflow.runs.get(result.mlflowRunId!);
      const experiment = await mlflow.experiments.get(run.info.experiment_id);
      expect(experiment.name).toBe(project.experiment);
      const workers = await activityWorkers(handles[index]!.workflowId);
      expect(workers.length).toBeGreaterThan(7);
      expect(workers.filter((identity) => identity !== `worker-of-${project.name}`)).toEqual([]);
      expect(workers).not.toContain(`worker-of-${other.name}`);
    }
    for (const project of [a, b]) {
      const versions = await mlflow.registry.searchModelVersions({
        filter: `name = '${project.registeredModel}'`,
      });
      expect(versions.items).toHaveLength(3);
    }
  }, 240_000);
});

describe('one project, two environments with two MLflow servers, workers on one queue by mistake', () => {
  let project: ProjectCopy;
  let staging: PrivateMlflowServer | undefined;
  const queue = `shared-by-mistake-${randomUUID()}`;

  beforeAll(async () => {
    project = copyExampleAs(`iso-env-${randomUUID().slice(0, 8)}`);
    staging = await startPrivateMlflowServer();
    addMlflowEnv(project.dir, 'staging', staging.uri);
    addMlflowEnv(project.dir, 'production', services().MLFLOW_TRACKING_URI);
  }, 120_000);
  afterAll(async () => staging?.stop());

  it('hands the run back with a message naming both sides, and it finishes on the right server once the right worker comes', async () => {
    // Another process: one process may not run two workers on one queue.
    const stagingWorker = spawnWorker({
      projectDir: project.dir,
      taskQueue: queue,
      args: ['--env', 'staging'],
    });
    await stagingWorker.ready;
    const handle = await startTraining(client, {
      projectDir: project.dir,
      env: 'production',
      taskQueue: queue,
    });
    // The staging worker takes the plan, hands it back, and the UI shows why.
    const lastFailure = await waitFor(
      'the pending plan activity to show its last failure',
      async () => {
        const description = await handle.handle.describe();
        const pending = description.raw.pendingActivities ?? [];
        return (
          pending.find((activity) => activity.lastFailure?.message)?.lastFailure?.message ??
          undefined
        );
      },
    );
    expect(lastFailure).toContain(
      `This worker serves project '${project.name}' (env 'staging') on MLflow ${staging!.uri}`,
    );
    expect(lastFailure).toContain(
      `the run belongs to project '${project.name}' (env 'production') on MLflow ${services().MLFLOW_TRACKING_URI}`,
    );
    expect((await handle.handle.describe()).status.name).toBe('RUNNING');

    await startWorker({
      projectDir: project.dir,
      env: 'production',
      taskQueue: queue,
      identity: 'production-worker',
    });
    const result = await handle.result();
    expect(result.model?.registeredModelName).toBe(project.registeredModel);
    const workers = await activityWorkers(handle.workflowId);
    // Only the production worker completed work; the staging one only ever handed tasks back.
    const production = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
    const run = await production.runs.get(result.mlflowRunId!);
    expect(run.info.status).toBe('FINISHED');
    expect(workers).toContain('production-worker');
    const stagingClient = new MlflowClient({ trackingUri: staging!.uri });
    const experiments = await stagingClient.experiments.search({});
    expect(experiments.items.map((experiment) => experiment.name)).not.toContain(
      project.experiment,
    );
    await stagingWorker.stop();
  }, 240_000);
});
