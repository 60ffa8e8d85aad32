/**
 * Closing a training run: an MLflow outage while the run is being ended is waited out (durably,
 * with backoff), never turns the success into a failure, and the registry alias moves only once
 * the run is closed FINISHED.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { MlflowClient } from '../../src/mlflow/client.js';
import { startTraining } from '../../src/temporal/client.js';
import { createWorker } from '../../src/temporal/worker.js';
import { MlflowProxy } from '../support/mlflow-proxy.js';
import { addMlflowEnv, copyExampleAs } from '../support/project-copies.js';
import { services } from '../support/services.js';
import { quietTemporalLogs } from '../support/temporal.js';

let connection: Connection;
let nativeConnection: NativeConnection;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
const proxy = new MlflowProxy();
/** While `down`, the proxy refuses to end runs FINISHED: MLflow is down as the run is closed. */
let down = false;
proxy.rule = ({ url, body }) =>
  down && url.endsWith('/runs/update') && body.toString().includes('FINISHED')
    ? 'refuse'
    : 'forward';

beforeAll(async () => {
  quietTemporalLogs();
  const { TEMPORAL_ADDRESS } = services();
  connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
  nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await proxy.stop();
  await connection?.close();
  await nativeConnection?.close();
});

describe('closing a training run while MLflow is down', () => {
  it('waits the outage out, ends the run FINISHED, then moves the alias; the workflow succeeds', async () => {
    const project = copyExampleAs(`closing-${randomUUID().slice(0, 8)}`);
    const proxyUri = await proxy.start();
    addMlflowEnv(project.dir, 'local', proxyUri);
    const storeDir = mkdtempSync(join(tmpdir(), 'tm-store-'));
    worker = await createWorker({
      projectDir: project.dir,
      connection: nativeConnection,
      storeDir,
      heartbeatIntervalMs: 300,
    });
    running = worker.run();
    const mlflow = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });

    // The outage starts when the run is first ended; meanwhile the alias must not have moved.
    let aliasDuringOutage: string | undefined = 'not checked';
    proxy.onRefuse = (count) => {
      if (count !== 1) return;
      void mlflow.registry
        .getModelVersionByAlias(project.registeredModel, 'champion')
        .then((version) => (aliasDuringOutage = version.version))
        .catch(() => (aliasDuringOutage = undefined));
    };
    down = true;
    const client = new Client({ connection });
    const handle = await startTraining(client, { projectDir: project.dir });

    // Down for several attempts of the closing activity, then back.
    const deadline = Date.now() + 120_000;
    while (proxy.refused < 3) {
      if (Date.now() > deadline) throw new Error('the run was never ended');
      const { status } = await handle.handle.describe();
      if (status.name !== 'RUNNING') await handle.result(); // throws the failure, if that is why
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await handle.progress()).state).toBe('closing');
    expect((await handle.handle.describe()).status.name).toBe('RUNNING');
    down = false;

    const result = await handle.result();
    expect(result.model?.registeredModelVersion).toBeDefined();
    expect(aliasDuringOutage).toBeUndefined();
    const run = await mlflow.runs.get(result.mlflowRunId!);
    expect(run.info.status).toBe('FINISHED');
    expect(run.info.end_time).toBeDefined();
    const champion = await mlflow.registry.getModelVersionByAlias(
      project.registeredModel,
      'champion',
    );
    expect(champion.version).toBe(result.model!.registeredModelVersion);
    // Cleanup ran: nothing of the run is left in the intermediate store.
    expect(readdirSync(storeDir).filter((entry) => !entry.startsWith('.'))).toEqual([]);
  }, 240_000);
});
