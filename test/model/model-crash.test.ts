/**
 * Issue 6, "kill the worker during packaging": a worker process is SIGKILLed while the packaging
 * activity has created the LoggedModel (PENDING) and is uploading its files; a new worker process
 * retries the activity, and the run still ends with exactly one READY model and one registry
 * version made from it. Packaging takes well under a second, so the workers reach MLflow through a
 * proxy that holds the first worker's artifact uploads unanswered: the kill always lands there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import type { LoggedModel, ModelVersion } from '../../src/mlflow/types.js';
import { startTraining } from '../../src/temporal/client.js';
import type { TrainingResult } from '../../src/temporal/types.js';
import { copyExampleProject } from '../support/example-model.js';
import { MlflowProxy } from '../support/mlflow-proxy.js';
import { repoRoot, services } from '../support/services.js';

const REGISTERED_NAME = 'support-ticket-router';
const POLL_MS = 20;

/** Holds artifact uploads while `holdUploads`: the first worker's packaging stops mid-upload. */
const proxy = new MlflowProxy();
let holdUploads = true;
proxy.rule = ({ method, url }) =>
  holdUploads && method === 'PUT' && url.includes('/mlflow-artifacts/artifacts/')
    ? 'hold'
    : 'forward';
let proxyUri: string;

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
let connection: Connection;
let client: Client;
let mlflow: MlflowClient;
let storeDir: string;

// A private copy: other test files train the example at the same time.
const exampleCopy = copyExampleProject();

/** `temporal-mlflow worker` for the example, as its own process; resolves once it polls. */
async function startWorker(taskQueue: string): Promise<WorkerProcess> {
  const { TEMPORAL_ADDRESS } = services();
  const child = spawn(
    process.execPath,
    [
      'bin/temporal-mlflow.js',
      'worker',
      '--project',
      exampleCopy,
      '--task-queue',
      taskQueue,
      '--store',
      'local',
      '--store-dir',
      storeDir,
      '--log-level',
      'WARN',
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, TEMPORAL_ADDRESS, MLFLOW_TRACKING_URI: proxyUri },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (!output.includes('"msg":"worker started"')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the worker did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, exited };
}

async function versionsOf(name: string): Promise<ModelVersion[]> {
  const versions: ModelVersion[] = [];
  for await (const version of mlflow.registry.searchAllModelVersions({
    filter: `name = '${name}'`,
  }))
    versions.push(version);
  return versions;
}

async function modelsOfRun(experimentId: string, runId: string): Promise<LoggedModel[]> {
  const models: LoggedModel[] = [];
  for await (const model of mlflow.loggedModels.searchAll({
    experimentIds: [experimentId],
    filter: `source_run_id = '${runId}'`,
  }))
    models.push(model);
  return models;
}

beforeAll(async () => {
  const { TEMPORAL_ADDRESS, MLFLOW_TRACKING_URI } = services();
  connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
  client = new Client({ connection });
  mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  storeDir = await mkdtemp(join(tmpdir(), 'tm-crash-store-'));
  proxyUri = await proxy.start();
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await connection?.close();
  await proxy.stop();
  if (storeDir) await rm(storeDir, { recursive: true, force: true });
});

describe('a worker killed during packaging', () => {
  it('leaves one READY model and one registry version once another worker retries the packaging', async () => {
    await mlflow.registry.getOrCreateRegisteredModel(REGISTERED_NAME);
    const before = await versionsOf(REGISTERED_NAME);
    const lastBefore = Math.max(0, ...before.map((version) => Number(version.version)));

    const taskQueue = `test-crash-${randomUUID()}`;
    const first = await startWorker(taskQueue);
    const training = await startTraining(client, {
      taskQueue,
      nodeDefaults: { heartbeatTimeoutMs: 2_000 },
    });

    // Training runs; as soon as the workflow says 'packaging', watch MLflow at 20 ms for the model.
    let state = '';
    for (let deadline = Date.now() + 120_000; state !== 'packaging';) {
      const progress = await training.progress();
      state = progress.state;
      if (state === 'completed' || state === 'failed' || Date.now() > deadline)
        throw new Error(`never saw 'packaging' (state ${state}):\n${first.output()}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const runId = (await training.progress()).mlflowRunId!;
    const experimentId = (await mlflow.runs.get(runId)).info.experiment_id;

    // Kill once the LoggedModel exists (PENDING: some packaging work is done) and one of its
    // uploads is held by the proxy.
    let pending: LoggedModel | undefined;
    for (let deadline = Date.now() + 60_000; !pending || proxy.held.length === 0;) {
      if (!pending) [pending] = await modelsOfRun(experimentId, runId);
      if (Date.now() > deadline)
        throw new Error(
          `the model never appeared with an upload under way (model ${pending?.info.model_id}):\n${first.output()}`,
        );
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    expect(pending.info.status).toBe('LOGGED_MODEL_PENDING');
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // The kill landed inside packaging: the model was created and is still PENDING now.
    expect(pending).toBeDefined();
    const afterKill = await mlflow.loggedModels.get(pending!.info.model_id);
    expect(afterKill.info.status).toBe('LOGGED_MODEL_PENDING');
    holdUploads = false;
    proxy.releaseHeld();

    // A new worker picks the packaging activity up again (after its heartbeat timeout).
    await startWorker(taskQueue);
    const result: TrainingResult = await training.result();
    expect(result.mlflowRunId).toBe(runId);
    expect((await training.handle.describe()).status.name).toBe('COMPLETED');

    // The retry finished the model the first attempt created: one model for the run, READY.
    const models = await modelsOfRun(experimentId, runId);
    expect(models.map((model) => [model.info.model_id, model.info.status])).toEqual([
      [pending!.info.model_id, 'LOGGED_MODEL_READY'],
    ]);
    expect(result.model?.modelId).toBe(pending!.info.model_id);
    const run = await mlflow.runs.get(runId);
    expect(run.info.status).toBe('FINISHED');
    expect(run.outputs?.model_outputs?.map((output) => output.model_id)).toEqual([
      pending!.info.model_id,
    ]);

    // The packaging activity really ran twice (the crash was not after it completed).
    const history = await training.handle.fetchHistory();
    const scheduled = history.events!.filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'packageModel',
    );
    expect(scheduled).toHaveLength(1);
    const started = history.events!.find(
      (event) =>
        event.activityTaskStartedEventAttributes &&
        Number(event.activityTaskStartedEventAttributes.scheduledEventId) ===
          Number(scheduled[0]!.eventId),
    );
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThanOrEqual(2);

    // One registry version from that model; the registered model grew by exactly that version
    // (plus any from other runs: other test files train the example concurrently).
    const added = (await versionsOf(REGISTERED_NAME)).filter(
      (version) => Number(version.version) > lastBefore,
    );
    const ours = added.filter((version) => version.run_id === runId);
    expect(ours.map((version) => version.source)).toEqual([`models:/${pending!.info.model_id}`]);
    expect(ours[0]!.version).toBe(result.model?.registeredModelVersion);
    expect(
      added.filter((version) => version.source === `models:/${pending!.info.model_id}`),
    ).toHaveLength(1);
    const others = added.filter((version) => version.run_id !== runId);
    expect(added.length - others.length).toBe(1);
  }, 240_000);
});
