/**
 * Closing a training run: an MLflow outage while the run is being ended is waited out (durably,
 * with backoff), never turns the success into a failure, and the registry alias moves only once
 * the run is closed FINISHED.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { MlflowClient } from '../../src/mlflow/client.js';
import { startTraining } from '../../src/temporal/client.js';
import { createWorker } from '../../src/temporal/worker.js';
import { addMlflowEnv, copyExampleAs } from '../support/project-copies.js';
import { services } from '../support/services.js';
import { quietTemporalLogs } from '../support/temporal.js';

/** An HTTP proxy to the real MLflow server that refuses `runs/update` … FINISHED while `down`. */
class FlakyMlflowProxy {
  down = false;
  refused = 0;
  private server: Server | undefined;
  private target = new URL(services().MLFLOW_TRACKING_URI);
  /** Called on the first refused request: the outage has begun. */
  onOutage: (() => void) | undefined;

  async start(): Promise<string> {
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        if (
          incoming.url?.endsWith('/runs/update') &&
          body.toString().includes('FINISHED') &&
          this.down
        ) {
          this.refused++;
          if (this.refused === 1) this.onOutage?.();
          outgoing.writeHead(503, { 'content-type': 'text/plain' }).end('MLflow is down');
          return;
        }
        const forwarded = request(
          {
            host: this.target.hostname,
            port: this.target.port,
            path: incoming.url,
            method: incoming.method,
            headers: { ...incoming.headers, host: this.target.host },
          },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
          },
        );
        forwarded.on('error', () => outgoing.writeHead(502).end());
        forwarded.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

let connection: Connection;
let nativeConnection: NativeConnection;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
const proxy = new FlakyMlflowProxy();

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
    proxy.onOutage = () => {
      void mlflow.registry
        .getModelVersionByAlias(project.registeredModel, 'champion')
        .then((version) => (aliasDuringOutage = version.version))
        .catch(() => (aliasDuringOutage = undefined));
    };
    proxy.down = true;
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
    proxy.down = false;

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
