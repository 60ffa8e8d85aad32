/**
 * The node cache: retraining the example with a full cache hit versus without the cache, on
 * Temporal (warm in-process worker, MLflow tracking and model packaging as `train --wait` does) and
 * with the local runner. Reports medians, the nodes' share (first node scheduled → last node
 * completed, from history) and packaging's. Target: a full-hit retrain ≤ 1 s on Temporal.
 * Needs the local servers (`npm run services start`). Writes bench/results/node-cache.json.
 *   node --import tsx bench/node-cache.ts
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDataset } from '../src/datasets/memory.js';
import { isPipelineMl } from '../src/model/pipeline-ml.js';
import type { Pipeline } from '../src/pipeline/pipeline.js';
import { LocalCacheStore } from '../src/runner/cache-store.js';
import { runPipelineLocally } from '../src/runner/local-runner.js';
import { NodeCache } from '../src/runner/node-cache.js';
import { Session } from '../src/session.js';
import { compileTrainingOptions, startCompiledTraining } from '../src/temporal/client.js';
import type { TrainingResult } from '../src/temporal/types.js';
import { createWorker } from '../src/temporal/worker.js';
import { copyExampleAs } from '../test/support/project-copies.js';
import { readServicesEnv, serviceAddress } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const env = readServicesEnv();
process.env.MLFLOW_TRACKING_URI ??= env.MLFLOW_TRACKING_URI;
const address = serviceAddress('TEMPORAL_ADDRESS');
Runtime.install({ logger: new DefaultLogger('WARN') });
console.log(
  `machine: ${cpus().length} cores, load ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ')}; ${ROUNDS} rounds each`,
);

const project = copyExampleAs(`bench-cache-${randomUUID().slice(0, 8)}`);
const cacheDir = mkdtempSync(join(tmpdir(), 'bench-node-cache-'));
const taskQueue = `bench-node-cache-${randomUUID()}`;
const nativeConnection = await NativeConnection.connect({ address });
const connection = await Connection.connect({ address });
const client = new Client({ connection });
const worker = await createWorker({
  projectDir: project.dir,
  connection: nativeConnection,
  taskQueue,
  storeDir: mkdtempSync(join(tmpdir(), 'bench-store-')),
  cache: 'local',
  cacheDir,
});
const running = worker.run();

interface Timed {
  wallMs: number;
  nodesMs: number;
  packagingMs: number;
  cachedNodes: number;
  /** Workflow start → first activity scheduled, and each step's span (scheduled → completed). */
  steps: Record<string, number>;
}

const at = (event: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }): number =>
  Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

/** One `train --wait` of the example: wall time, and the nodes' and packaging's spans from history. */
async function trainOnce(noCache: boolean): Promise<Timed> {
  const started = performance.now();
  const compiled = await compileTrainingOptions({ projectDir: project.dir, taskQueue });
  if (noCache) compiled.input.noCache = true;
  const handle = await startCompiledTraining(client, compiled);
  const result: TrainingResult = await handle.result();
  const wallMs = performance.now() - started;
  const events = (await handle.handle.fetchHistory()).events ?? [];
  const scheduledType = new Map<number, string>();
  // Nodes: the node activities and the activity restoring cached nodes at once.
  const isNodes = (type: string) => type === 'runNode' || type === 'restoreCachedNodes';
  const spans: Record<string, number[]> = { runNode: [], packageModel: [] };
  const scheduledAt = new Map<number, number>();
  const steps: Record<string, number> = {};
  const closed = events.at(-1);
  let packagingStart = 0;
  for (const event of events) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '';
      scheduledType.set(Number(event.eventId), type);
      scheduledAt.set(Number(event.eventId), at(event));
      steps.headMs ??= at(event) - at(events[0]!);
      if (isNodes(type)) spans.runNode!.push(at(event));
      if (type === 'packageModel') packagingStart = at(event);
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const type = scheduledType.get(Number(completed.scheduledEventId)) ?? '';
      const span = at(event) - scheduledAt.get(Number(completed.scheduledEventId))!;
      steps[type] = (steps[type] ?? 0) + span;
      if (isNodes(type)) spans.runNode!.push(at(event));
      if (type === 'packageModel') spans.packageModel!.push(at(event) - packagingStart);
      steps.tailMs = closed ? at(closed) - at(event) : 0;
    }
  }
  return {
    wallMs,
    nodesMs: Math.max(...spans.runNode!) - Math.min(...spans.runNode!),
    packagingMs: spans.packageModel![0] ?? 0,
    cachedNodes: result.cachedNodes ?? 0,
    steps,
  };
}

/** Median span of each step over the runs (a step a run lacks counts 0 there). */
function stepSummary(runs: Timed[]): Record<string, number> {
  const names = new Set(runs.flatMap((run) => Object.keys(run.steps)));
  return Object.fromEntries(
    [...names].map((name) => [name, Math.round(median(runs.map((run) => run.steps[name] ?? 0)))]),
  );
}

function summary(runs: Timed[]): Record<string, number> {
  return {
    wallMs: Math.round(median(runs.map((run) => run.wallMs))),
    nodesMs: Math.round(median(runs.map((run) => run.nodesMs))),
    packagingMs: Math.round(median(runs.map((run) => run.packagingMs))),
    cachedNodes: median(runs.map((run) => run.cachedNodes)),
  };
}

/** The local runner on the example's training (metrics kept in memory: no MLflow). */
async function runLocally(cache: NodeCache | undefined): Promise<number> {
  const session = await Session.open({ projectDir: project.dir, environment: {} });
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered)) throw new Error('the example should be a PipelineML');
  const started = performance.now();
  await runPipelineLocally({
    pipeline: registered.training as Pipeline,
    catalog: session.catalog.withDatasets({ routing_metrics: new MemoryDataset() }),
    run: {
      runId: randomUUID(),
      pipelineName: '__default__',
      env: 'local',
      projectDir: project.dir,
      runtimeParams: {},
    },
    ...(cache ? { cache } : {}),
  });
  return performance.now() - started;
}

try {
  const cold = await trainOnce(false); // fills the cache, warms the worker (bundle, session)
  const hits: Timed[] = [];
  const misses: Timed[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    hits.push(await trainOnce(false));
    misses.push(await trainOnce(true));
  }
  const localCache = new NodeCache({ store: new LocalCacheStore(cacheDir) });
  await runLocally(localCache);
  const localHits: number[] = [];
  const localMisses: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    localHits.push(await runLocally(localCache));
    localMisses.push(await runLocally(undefined));
  }
  const hit = summary(hits);
  const miss = summary(misses);
  const figures = {
    rounds: ROUNDS,
    load: loadavg(),
    temporal: {
      coldFirstTrain: summary([cold]),
      fullCacheHit: hit,
      noCache: miss,
      hitToNoCacheRatio: Number((hit.wallMs! / miss.wallMs!).toFixed(2)),
      /** Summed scheduled → completed spans of each activity type (ms, medians). */
      fullCacheHitSteps: stepSummary(hits),
      noCacheSteps: stepSummary(misses),
      targetFullHitMs: 1000,
      meetsTarget: hit.wallMs! <= 1000,
    },
    localRunner: {
      fullCacheHitMs: Number(median(localHits).toFixed(1)),
      noCacheMs: Number(median(localMisses).toFixed(1)),
    },
  };
  console.table({
    'temporal full hit': hit,
    'temporal --no-cache': miss,
  });
  console.table({
    'full hit': figures.temporal.fullCacheHitSteps,
    '--no-cache': figures.temporal.noCacheSteps,
  });
  console.table({
    'local full hit (ms)': figures.localRunner.fullCacheHitMs,
    'local no cache (ms)': figures.localRunner.noCacheMs,
  });
  writeResults('node-cache', figures);
} finally {
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
  rmSync(cacheDir, { recursive: true, force: true });
}
