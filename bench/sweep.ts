/**
 * Sweep fan-out: 16 trials of a 3-node pipeline whose nodes each sleep 200 ms, 8 trials at once,
 * on one worker with 24 node slots. The ideal is 2 rounds × 0.6 s = 1.2 s; the target is within
 * 2× of it. Trials are real child trainings with MLflow runs nested under the sweep's run (the
 * metric ranks them), so the figure includes MLflow bookkeeping. Needs the local servers.
 * Prints where a trial's time goes (from the trials' Temporal histories: each step's execution,
 * the gaps between steps) and the load average; then, untimed, one more sweep through a counting
 * proxy gives the MLflow calls per trial (a figure the machine's load does not blur). Writes
 * bench/results/sweep.json.
 *   node --import tsx bench/sweep.ts          (BENCH_ROUNDS=3 measured sweeps after a warm-up)
 *   BENCH_QUICK=1 node --import tsx bench/sweep.ts    (the tracked sweep only, for A/B runs)
 *   BENCH_WORKFLOWS=<path of a workflows index.ts>    (A/B against other workflow code, e.g. a
 *                                                      copy of an earlier commit's workflows/)
 */
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSweep } from '../src/temporal/sweep-client.js';
import { createWorker } from '../src/temporal/worker.js';
import { MlflowProxy } from '../test/support/mlflow-proxy.js';
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
const nativeConnection = await NativeConnection.connect({ address });
const connection = await Connection.connect({ address });
const client = new Client({ connection });

interface Measured {
  medianWallMs: number;
  medianWorkflowMs: number;
  ratioToIdeal: number;
  loadAverage1m: number;
  trialProfileOfLastRound: TrialProfile | undefined;
}

/** ROUNDS sweeps after a warm-up one, on a worker of its own serving configuration `env`. */
/** The measured sweep: TRIALS trials of the fixture's `sleepy` pipeline, MAX_PARALLEL at once. */
function startSleepySweep(client: Client, env: string, taskQueue: string) {
  return startSweep(client, {
    projectDir,
    env,
    taskQueue,
    pipeline: 'sleepy',
    params: { sleep_ms: SLEEP_MS },
    spec: {
      maxParallel: MAX_PARALLEL,
      metric: 'score',
      parameters: { quality: Array.from({ length: TRIALS }, (_, i) => i) },
    },
  });
}

async function measure(env: string): Promise<Measured> {
  const taskQueue = `bench-sweep-${randomUUID()}`;
  const worker = await createWorker({
    projectDir,
    env,
    connection: nativeConnection,
    taskQueue,
    maxConcurrentNodes: 3 * MAX_PARALLEL,
    storeDir: mkdtempSync(join(tmpdir(), 'tm-bench-sweep-')),
    workerOptions: {
      maxCachedWorkflows: 200,
      ...(process.env.BENCH_WORKFLOWS ? { workflowsPath: process.env.BENCH_WORKFLOWS } : {}),
    },
  });
  const running = worker.run();
  const walls: number[] = [];
  const trialSpans: number[] = [];
  const loads: number[] = [];
  let profile: TrialProfile | undefined;
  try {
    for (let round = 0; round < ROUNDS + 1; round++) {
      const started = performance.now();
      const sweep = await startSleepySweep(client, env, taskQueue);
      const result = await sweep.result();
      const wall = performance.now() - started;
      if (result.trials.some((t) => t.state !== 'completed')) throw new Error('a trial failed');
      // Round 0 warms the worker (project load, bundles): not counted.
      if (round === 0) continue;
      walls.push(wall);
      trialSpans.push(result.durationMs);
      loads.push(loadavg()[0]!);
      console.log(
        `${env} round ${round}: ${(wall / 1000).toFixed(2)} s wall, workflow ${result.durationMs} ms, load ${loadavg()[0]!.toFixed(2)}`,
      );
      if (round === ROUNDS)
        profile = {
          ...(await profileTrials(result.trials.map((t) => t.workflowId))),
          sweepSteps: (await profileTrials([sweep.workflowId])).stepsMs,
          sweepEdges: await sweepEdges(sweep.workflowId),
        };
    }
  } finally {
    worker.shutdown();
    await running;
  }
  const wallMs = median(walls);
  return {
    medianWallMs: Math.round(wallMs),
    medianWorkflowMs: Math.round(median(trialSpans)),
    ratioToIdeal: Number((wallMs / IDEAL_MS).toFixed(2)),
    loadAverage1m: Number(median(loads).toFixed(2)),
    trialProfileOfLastRound: profile,
  };
}

/** The MLflow calls of one sweep (untimed), through a proxy, by endpoint, on a fresh worker. */
async function countMlflowCalls(): Promise<MlflowCalls> {
  const proxy = new MlflowProxy();
  const calls: Record<string, number> = {};
  proxy.rule = ({ method, url }) => {
    const endpoint = `${method} ${url.split('?')[0]!.replace('/api/2.0/mlflow/', '')}`;
    calls[endpoint] = (calls[endpoint] ?? 0) + 1;
    return 'forward';
  };
  const trackingUri = process.env.MLFLOW_TRACKING_URI;
  // Read when the worker opens its sessions: only the counting worker tracks through the proxy.
  process.env.MLFLOW_TRACKING_URI = await proxy.start();
  const taskQueue = `bench-sweep-calls-${randomUUID()}`;
  const worker = await createWorker({
    projectDir,
    env: 'local',
    connection: nativeConnection,
    taskQueue,
    maxConcurrentNodes: 3 * MAX_PARALLEL,
    storeDir: mkdtempSync(join(tmpdir(), 'tm-bench-sweep-')),
  });
  const running = worker.run();
  try {
    const sweep = await startSleepySweep(client, 'local', taskQueue);
    await sweep.result();
  } finally {
    worker.shutdown();
    await running;
    await proxy.stop();
    process.env.MLFLOW_TRACKING_URI = trackingUri;
  }
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  return { total, perTrial: Number((total / TRIALS).toFixed(2)), byEndpoint: calls };
}

interface MlflowCalls {
  /** Every call of the sweep: its trials' and its parent run's (experiment look-up included). */
  total: number;
  perTrial: number;
  byEndpoint: Record<string, number>;
}

let tracked: Measured;
let untracked: Measured;
let mlflowCalls: MlflowCalls;
if (process.env.BENCH_QUICK === '1') {
  // A/B runs: the tracked sweep only, nothing written.
  try {
    const quick = await measure('local');
    console.log(
      `quick: ${quick.medianWallMs} ms, ratio ${quick.ratioToIdeal}, load ${quick.loadAverage1m}`,
    );
    console.log(JSON.stringify(quick.trialProfileOfLastRound));
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
  process.exit(0);
}
try {
  // The target's configuration: every trial an MLflow run nested under the sweep's.
  tracked = await measure('local');
  // conf/untracked: the same sweep without MLflow (nothing ranks the trials): Temporal's share.
  untracked = await measure('untracked');
  mlflowCalls = await countMlflowCalls();
} finally {
  await connection.close();
  await nativeConnection.close();
}

const figures = {
  trials: TRIALS,
  maxParallel: MAX_PARALLEL,
  nodeSleepMs: SLEEP_MS,
  idealMs: IDEAL_MS,
  ...tracked,
  targetRatio: 2,
  meetsTarget: tracked.ratioToIdeal <= 2,
  withoutMlflow: untracked,
  mlflowCalls,
};
for (const [label, m] of [
  ['with MLflow tracking (the target)', tracked],
  ['without MLflow tracking', untracked],
] as const) {
  console.log(
    `${label}: ideal ${IDEAL_MS} ms, measured ${m.medianWallMs} ms (median of ${ROUNDS}), ratio ${m.ratioToIdeal} (target ≤ 2), load average ${m.loadAverage1m}`,
  );
  console.log(JSON.stringify(m.trialProfileOfLastRound));
}
console.log(
  `MLflow calls of one sweep: ${mlflowCalls.total} (${mlflowCalls.perTrial} per trial) ${JSON.stringify(mlflowCalls.byEndpoint)}`,
);
console.log(`wrote ${writeResults('sweep', figures)}`);

interface TrialProfile {
  /** Median span of a trial workflow, first event to last. */
  trialMs: number;
  /** The slowest trial's span. */
  slowestTrialMs: number;
  /** Steps of the sweep workflow itself (median of its metric reads). */
  sweepSteps?: Record<string, number>;
  /** Median execution (started → completed) of each step, nodes by name. */
  stepsMs: Record<string, number>;
  /** Median time from one step's completion to the next step's schedule (workflow task round trip). */
  gapMs: number;
  /** Median wait of an activity for a worker (scheduled → started): slots or pollers short. */
  activityQueueMs: number;
  /** Median workflow task: waiting for a worker (scheduled → started), then running (→ completed). */
  workflowTaskQueueMs: number;
  workflowTaskRunMs: number;
  /** The sweep's own share: from its start to its first trial's start, and after its last trial. */
  sweepEdges?: { beforeFirstTrialMs: number; afterLastTrialMs: number };
  /** Sum of the step medians + gaps: what the trial is made of. */
  stepsTotalMs: number;
}

function eventMs(event: temporal.api.history.v1.IHistoryEvent): number {
  return Number(event.eventTime!.seconds) * 1000 + Math.round((event.eventTime!.nanos ?? 0) / 1e6);
}

/** From the sweep's start to its first trial's start, and from its last trial's end to its own. */
async function sweepEdges(
  workflowId: string,
): Promise<{ beforeFirstTrialMs: number; afterLastTrialMs: number }> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const started = events.filter((e) => e.childWorkflowExecutionStartedEventAttributes);
  const ended = events.filter((e) => e.childWorkflowExecutionCompletedEventAttributes);
  return {
    beforeFirstTrialMs: eventMs(started[0]!) - eventMs(events[0]!),
    afterLastTrialMs: eventMs(events.at(-1)!) - eventMs(ended.at(-1)!),
  };
}

/** Where a trial's time goes, from the Temporal histories of the trials of one sweep. */
async function profileTrials(workflowIds: string[]): Promise<TrialProfile> {
  const at = eventMs;
  const steps: Record<string, number[]> = {};
  const gaps: number[] = [];
  const activityQueue: number[] = [];
  const taskQueue: number[] = [];
  const taskRun: number[] = [];
  const spans: number[] = [];
  const perTrialSteps: number[] = [];
  for (const workflowId of workflowIds) {
    const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const byId = new Map(events.map((event) => [String(event.eventId), event]));
    spans.push(at(events.at(-1)!) - at(events[0]!));
    let lastCompleted: number | undefined;
    let stepCount = 0;
    for (const event of events) {
      const taskStarted = event.workflowTaskStartedEventAttributes;
      if (taskStarted)
        taskQueue.push(at(event) - at(byId.get(String(taskStarted.scheduledEventId))!));
      const taskCompleted = event.workflowTaskCompletedEventAttributes;
      if (taskCompleted)
        taskRun.push(at(event) - at(byId.get(String(taskCompleted.startedEventId))!));
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled && lastCompleted !== undefined) gaps.push(at(event) - lastCompleted);
      const completed = event.activityTaskCompletedEventAttributes;
      if (!completed) continue;
      const schedule = byId.get(String(completed.scheduledEventId))!;
      const started = byId.get(String(completed.startedEventId))!;
      const attributes = schedule.activityTaskScheduledEventAttributes!;
      let name = attributes.activityType?.name ?? '?';
      if (name === 'runNode') {
        const payload = attributes.input?.payloads?.[0]?.data;
        if (payload)
          name = `node ${(JSON.parse(Buffer.from(payload).toString()) as { node: string }).node}`;
      }
      (steps[name] ??= []).push(at(event) - at(started));
      activityQueue.push(at(started) - at(schedule));
      lastCompleted = at(event);
      stepCount++;
    }
    perTrialSteps.push(stepCount);
  }
  const stepsMs = Object.fromEntries(
    Object.entries(steps).map(([name, values]) => [name, Math.round(median(values))]),
  );
  const gapMs = Math.round(median(gaps));
  const stepsSum = Object.values(stepsMs).reduce((a, b) => a + b, 0);
  return {
    trialMs: Math.round(median(spans)),
    slowestTrialMs: Math.max(...spans),
    stepsMs,
    gapMs,
    activityQueueMs: Math.round(median(activityQueue)),
    workflowTaskQueueMs: Math.round(median(taskQueue)),
    workflowTaskRunMs: Math.round(median(taskRun)),
    stepsTotalMs: stepsSum + gapMs * Math.round(median(perTrialSteps)),
  };
}
