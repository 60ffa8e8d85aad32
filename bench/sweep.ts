/**
 * Sweep fan-out: 16 trials of a 3-node pipeline whose nodes each sleep 200 ms, 8 trials at once,
 * on one worker with 24 node slots. The ideal is 2 rounds × 0.6 s = 1.2 s; the target is within
 * 2× of it. Trials are real child trainings with MLflow runs nested under the sweep's run (the
 * metric ranks them), so the figure includes MLflow bookkeeping. Needs the local servers.
 * Writes bench/results/sweep.json.
 *   node --import tsx bench/sweep.ts
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSweep } from '../src/temporal/sweep-client.js';
import { createWorker } from '../src/temporal/worker.js';
import { serviceAddress } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const projectDir = fileURLToPath(new URL('../test/fixtures/lifecycle-project/', import.meta.url));
const TRIALS = 16;
const MAX_PARALLEL = 8;
const SLEEP_MS = 200;
const IDEAL_MS = Math.ceil(TRIALS / MAX_PARALLEL) * 3 * SLEEP_MS;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

Runtime.install({ logger: new DefaultLogger('WARN') });
const address = serviceAddress('TEMPORAL_ADDRESS');
process.env.MLFLOW_TRACKING_URI ??= serviceAddress('MLFLOW_TRACKING_URI');
const taskQueue = `bench-sweep-${randomUUID()}`;
const nativeConnection = await NativeConnection.connect({ address });
const connection = await Connection.connect({ address });
const client = new Client({ connection });
const worker = await createWorker({
  projectDir,
  connection: nativeConnection,
  taskQueue,
  maxConcurrentNodes: 3 * MAX_PARALLEL,
  storeDir: mkdtempSync(join(tmpdir(), 'tm-bench-sweep-')),
  workerOptions: { maxCachedWorkflows: 200 },
});
const running = worker.run();

const walls: number[] = [];
const trialSpans: number[] = [];
try {
  for (let round = 0; round < ROUNDS + 1; round++) {
    const started = performance.now();
    const sweep = await startSweep(client, {
      projectDir,
      taskQueue,
      pipeline: 'sleepy',
      params: { sleep_ms: SLEEP_MS },
      spec: {
        maxParallel: MAX_PARALLEL,
        metric: 'score',
        parameters: { quality: Array.from({ length: TRIALS }, (_, i) => i) },
      },
    });
    const result = await sweep.result();
    const wall = performance.now() - started;
    if (result.trials.some((t) => t.state !== 'completed')) throw new Error('a trial failed');
    // Round 0 warms the worker (project load, bundles): not counted.
    if (round === 0) continue;
    walls.push(wall);
    trialSpans.push(result.durationMs);
    console.log(
      `round ${round}: ${(wall / 1000).toFixed(2)} s wall, workflow ${result.durationMs} ms`,
    );
  }
} finally {
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
}

const wallMs = median(walls);
const figures = {
  trials: TRIALS,
  maxParallel: MAX_PARALLEL,
  nodeSleepMs: SLEEP_MS,
  idealMs: IDEAL_MS,
  medianWallMs: Math.round(wallMs),
  medianWorkflowMs: Math.round(median(trialSpans)),
  ratioToIdeal: Number((wallMs / IDEAL_MS).toFixed(2)),
  targetRatio: 2,
  meetsTarget: wallMs <= 2 * IDEAL_MS,
};
console.log(figures);
console.log(`wrote ${writeResults('sweep', figures)}`);
