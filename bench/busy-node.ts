/**
 * A CPU-bound node that keeps its thread busy for 10 minutes, trained on the real Temporal server
 * with the default node activity options (heartbeat timeout 30 s) and the worker's default
 * heartbeat interval. Before node functions ran in worker threads, every attempt of such a node
 * failed with "Heartbeat timeout" after 30 s. Samples the pending activity every 15 s and reports
 * the attempts, the longest time the server saw without a heartbeat, and the run's outcome.
 *   node --import tsx bench/busy-node.ts            (10 minutes; BUSY_NODE_MINUTES=1 for a shorter run)
 * Not part of `npm run bench` (it takes the whole 10 minutes): run it on its own.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTraining } from '../src/temporal/client.js';
import { createWorker } from '../src/temporal/worker.js';
import { services } from '../test/support/services.js';
import { writeResults } from './support.js';

const minutes = Number(process.env.BUSY_NODE_MINUTES ?? 10);
const busyMs = minutes * 60_000;
const projectDir = fileURLToPath(
  new URL('../test/runner/fixtures/thread-project', import.meta.url),
);

Runtime.install({ logger: new DefaultLogger('WARN') });
const { TEMPORAL_ADDRESS } = services();
const taskQueue = `bench-busy-node-${randomUUID()}`;
const nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
const client = new Client({ connection });
const worker = await createWorker({
  projectDir,
  connection: nativeConnection,
  taskQueue,
  storeDir: mkdtempSync(join(tmpdir(), 'tm-busy-store-')),
});
const running = worker.run();

const started = performance.now();
let maxSilenceS = 0;
let maxAttempt = 0;
let samples = 0;
try {
  const training = await startTraining(client, {
    pipeline: 'busy',
    taskQueue,
    params: { busy_ms: busyMs },
  });
  console.log(
    `busy-node: a ${minutes}-minute busy loop, workflow ${training.workflowId}, default activity options`,
  );
  const sampler = setInterval(() => {
    void training.handle.describe().then((description) => {
      for (const pending of description.raw.pendingActivities ?? []) {
        samples++;
        maxAttempt = Math.max(maxAttempt, pending.attempt ?? 0);
        const last = pending.lastHeartbeatTime?.seconds;
        if (last == null) continue;
        const silenceS = Date.now() / 1000 - Number(last);
        maxSilenceS = Math.max(maxSilenceS, silenceS);
        const elapsed = ((performance.now() - started) / 60_000).toFixed(1);
        console.log(
          `  ${elapsed} min: attempt ${pending.attempt}, last heartbeat ${silenceS.toFixed(1)} s ago`,
        );
      }
    });
  }, 15_000);
  try {
    const result = await training.result();
    const wallS = (performance.now() - started) / 1000;
    const figures = {
      busyMinutes: minutes,
      heartbeatTimeoutS: 30,
      completed: result.nodes === 1,
      attempts: Math.max(maxAttempt, 1),
      wallS: Number(wallS.toFixed(1)),
      pendingSamples: samples,
      longestHeartbeatSilenceS: Number(maxSilenceS.toFixed(1)),
      load: loadavg().map((l) => Number(l.toFixed(2))),
    };
    console.table(figures);
    writeResults('busy-node', figures);
  } finally {
    clearInterval(sampler);
  }
} finally {
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
}
