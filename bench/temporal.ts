/**
 * Orchestration overhead on Temporal versus the local runner: no-op chains (50, 200, 1,000 nodes)
 * and a 200-node fan-out, plus 64 nodes sleeping 200 ms on 16 node slots. Needs the local servers
 * (`npm run services start`). Writes bench/results/temporal.json.
 *   node --import tsx bench/temporal.ts
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataCatalog } from '../src/catalog/data-catalog.js';
import { getPipeline, loadProject } from '../src/project/load-project.js';
import { runPipelineLocally } from '../src/runner/local-runner.js';
import { startTraining } from '../src/temporal/client.js';
import { createWorker } from '../src/temporal/worker.js';
import { serviceAddress } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const projectDir = fileURLToPath(new URL('./fixtures/bench-project/', import.meta.url));
const address = serviceAddress('TEMPORAL_ADDRESS');
// Benchmarks measure orchestration, not MLflow: no tracking.
delete process.env.MLFLOW_TRACKING_URI;

Runtime.install({ logger: new DefaultLogger('WARN') });
const project = await loadProject(projectDir);

/** Median time between consecutive node activities being scheduled (a chain's per-node cycle), from history. */
async function medianNodeCycleMs(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const at = (event: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }): number =>
    Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;
  let events = [...(history.events ?? [])];
  // A chain longer than one history ran as child workflows `<id>/chunk-<n>`: gather their events.
  for (
    let chunk = 0;
    !events.some(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'runNode',
    );
    chunk++
  ) {
    const child = await client.workflow
      .getHandle(`${workflowId}/chunk-${chunk}`)
      .fetchHistory()
      .catch(() => undefined);
    if (!child) break;
    events = events.concat(child.events ?? []);
    for (let next = chunk + 1; ; next++) {
      const more = await client.workflow
        .getHandle(`${workflowId}/chunk-${next}`)
        .fetchHistory()
        .catch(() => undefined);
      if (!more) break;
      events = events.concat(more.events ?? []);
    }
  }
  const scheduled = events
    .filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'runNode')
    .map(at);
  const cycles = scheduled.slice(1).map((time, i) => time - scheduled[i]!);
  return median(cycles);
}

async function onTemporal(
  pipeline: string,
  maxConcurrentNodes: number,
): Promise<{ wallMs: number; medianCycleMs: number }> {
  const taskQueue = `bench-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const worker = await createWorker({
    projectDir,
    connection: nativeConnection,
    taskQueue,
    maxConcurrentNodes,
    storeDir: mkdtempSync(join(tmpdir(), 'bench-store-')),
    workerOptions: { maxConcurrentActivityTaskPolls: Number(process.env.POLLS ?? 5) },
  });
  const client = new Client({ connection });
  try {
    return await worker.runUntil(async () => {
      const started = performance.now();
      const handle = await startTraining(client, { pipeline, taskQueue });
      await handle.result();
      const wallMs = performance.now() - started;
      return { wallMs, medianCycleMs: await medianNodeCycleMs(client, handle.workflowId) };
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}

/** The same dev server and SDK with no library code: a plain chain of no-op activities. */
async function baselineMsPerActivity(length: number): Promise<number> {
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: `bench-baseline-${randomUUID()}`,
    workflowsPath: fileURLToPath(new URL('./fixtures/baseline-workflow.ts', import.meta.url)),
    activities: { noop: async (x: number) => x + 1 },
  });
  try {
    return await worker.runUntil(async () => {
      const started = performance.now();
      await new Client({ connection }).workflow.execute('baselineChain', {
        taskQueue: worker.options.taskQueue,
        workflowId: `bench-baseline-${randomUUID()}`,
        args: [length],
      });
      return (performance.now() - started) / length;
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}

async function locally(pipeline: string, maxConcurrency: number): Promise<number> {
  const started = performance.now();
  await runPipelineLocally({
    pipeline: getPipeline(project.definition, pipeline),
    catalog: new DataCatalog({}, { seed: 1 }),
    run: { runId: 'bench', pipelineName: pipeline, env: 'local', projectDir, runtimeParams: {} },
    maxConcurrency,
  });
  return performance.now() - started;
}

const rows = [];
for (const [pipeline, nodes] of [
  ['chain_50', 50],
  ['chain_200', 200],
  ['fanout_200', 200],
  ['chain_1000', 1000],
] as const) {
  if (process.env.ONLY && process.env.ONLY !== pipeline) continue;
  const temporal = await onTemporal(pipeline, 16);
  const temporalMs = temporal.wallMs;
  const localMs = await locally(pipeline, 16);
  rows.push({
    pipeline,
    nodes,
    ...(pipeline.startsWith('chain')
      ? { medianNodeCycleMs: Number(temporal.medianCycleMs.toFixed(2)) }
      : {}),
    temporalMsPerNode: Number((temporalMs / nodes).toFixed(2)),
    localMsPerNode: Number((localMs / nodes).toFixed(4)),
    wallTimeRatio: Number((temporalMs / localMs).toFixed(1)),
  });
  console.table(rows.slice(-1));
}
const baseline = Number((await baselineMsPerActivity(200)).toFixed(2));
console.log(
  `baseline: a plain Temporal chain of 200 no-op activities takes ${baseline} ms per activity on this server`,
);
const sleepersMs = (await onTemporal('sleepers_64', 16)).wallMs;
const ideal = (64 / 16) * 200;
const sleepers = {
  nodes: 64,
  sleepMs: 200,
  slots: 16,
  wallMs: Math.round(sleepersMs),
  idealMs: ideal,
  ratioToIdeal: Number((sleepersMs / ideal).toFixed(2)),
};
console.table(rows);
console.table([sleepers]);
writeResults('temporal', {
  note: 'medianNodeCycleMs: median time between consecutive chain nodes being scheduled (history timestamps), i.e. one node run plus its orchestration; temporalMsPerNode: whole-workflow wall time / nodes, including workflow start and plan',
  targets: { chainMsPerNode: '≤ 10, flat from 50 to 1,000', sleepers: '≤ 1.3 × ideal 0.8 s' },
  baselinePlainTemporalChainMsPerActivity: baseline,
  rows,
  sleepers,
});
