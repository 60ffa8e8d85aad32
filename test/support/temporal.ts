import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorker, type CreateWorkerOptions } from '../../src/temporal/worker.js';
import { repoRoot, services } from './services.js';

let runtimeInstalled = false;

/** Temporal's INFO logs drown test output: keep warnings and errors. */
export function quietTemporalLogs(): void {
  if (runtimeInstalled) return;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by another test file in this worker process.
  }
  runtimeInstalled = true;
}

export const temporalTestProject = join(repoRoot, 'test', 'fixtures', 'temporal-project');

/** A client and a worker on a fresh task queue of the real dev server; `close` releases both. */
export interface TemporalHarness {
  client: Client;
  taskQueue: string;
  worker: Worker;
  running: Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(
  options: Partial<CreateWorkerOptions> = {},
): Promise<TemporalHarness> {
  quietTemporalLogs();
  const { TEMPORAL_ADDRESS } = services();
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
  const worker = await createWorker({
    projectDir: temporalTestProject,
    connection: nativeConnection,
    taskQueue,
    heartbeatIntervalMs: 300,
    storeDir: mkdtempSync(join(tmpdir(), 'tm-store-')),
    ...options,
  });
  const running = worker.run();
  return {
    client: new Client({ connection }),
    taskQueue,
    worker,
    running,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Test-friendly activity options: a dead worker or a cancel is noticed within seconds. */
export const fastNodeDefaults = { heartbeatTimeoutMs: 2_000, startToCloseTimeoutMs: 60_000 };
