/**
 * Orchestration overhead on Temporal, against a bare Temporal chain of no-op activities on the same
 * server in the same run: a 200-node no-op chain as regular activities and as local activities
 * (`local: true`: a linear run of local nodes runs in one local activity of at most 100 nodes,
 * against a bare chain of one no-op local activity per step), 64 nodes sleeping 200 ms on 16 node
 * slots, and (unless QUICK=1) no-op chains of
 * 50 and 1,000 nodes and a 200-node fan-out against the local runner. Workers are long-lived and
 * warmed up by one run, as a production worker is; the headline figures are medians of REPEAT
 * (default 3) interleaved repetitions. Needs the local servers (`npm run services start`). Writes
 * bench/results/temporal.json.
 *   node --import tsx bench/temporal.ts
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataCatalog } from '../src/catalog/data-catalog.js';
import { getPipeline, loadProject } from '../src/project/load-project.js';
import { runPipelineLocally } from '../src/runner/local-runner.js';
import { startTraining } from '../src/temporal/client.js';
import { createWorker } from '../src/temporal/worker.js';
import { serviceAddress } from '../test/support/services.js';
import { median, writeResults } from './support.js';

/** Node slots of both workers (the sleepers run on this many) and the local runner's concurrency. */
const SLOTS = 16;
const projectDir = fileURLToPath(new URL('./fixtures/bench-project/', import.meta.url));
const address = serviceAddress('TEMPORAL_ADDRESS');
// Benchmarks measure orchestration, not MLflow: no tracking.
delete process.env.MLFLOW_TRACKING_URI;

Runtime.install({ logger: new DefaultLogger('WARN') });
const project = await loadProject(projectDir);

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

const at = (event: HistoryEvent): number =>
  Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;

/** The events of a run and of its chunk child workflows (`<id>/chunk-<n>`), if it had any. */
async function runEvents(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const events = [...((await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [])];
  if (!events.some((event) => event.startChildWorkflowExecutionInitiatedEventAttributes))
    return events;
  for (let chunk = 0; ; chunk++) {
    const child = await client.workflow
      .getHandle(`${workflowId}/chunk-${chunk}`)
      .fetchHistory()
      .catch(() => undefined);
    if (!child) return events;
    events.push(...(child.events ?? []));
  }
}

/** One activity of a run: when it was scheduled, started and completed (history timestamps). */
interface ActivityTimes {
  scheduled: number;
  started?: number;
  completed?: number;
}

/**
 * The activities of type `activityType` of a run, in the order they were scheduled, with the run's
 * start and (if it completed) close.
 */
function activityTimes(events: HistoryEvent[], activityType: string) {
  const byScheduledId = new Map<number, ActivityTimes>();
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === activityType)
      byScheduledId.set(Number(event.eventId), { scheduled: at(event) });
    const s = event.activityTaskStartedEventAttributes;
    const startedOne = s && byScheduledId.get(Number(s.scheduledEventId));
    if (startedOne) startedOne.started = at(event);
    const c = event.activityTaskCompletedEventAttributes;
    const completedOne = c && byScheduledId.get(Number(c.scheduledEventId));
    if (completedOne) completedOne.completed = at(event);
  }
  const closed = events.find((event) => event.workflowExecutionCompletedEventAttributes);
  return {
    start: events[0] ? at(events[0]) : 0,
    closed: closed ? at(closed) : undefined,
    activities: [...byScheduledId.values()],
  };
}

const defined = (values: (number | undefined)[]): number[] =>
  values.filter((value): value is number => value !== undefined);

/**
 * Where a chain's per-node time goes, medians from history timestamps: `queueMs` scheduled →
 * started (server dispatch, worker poll), `runMs` started → completed (the activity on the worker),
 * `workflowMs` completed → next node scheduled (workflow task round trip); `cycleMs` scheduled →
 * next scheduled.
 */
function phases(events: HistoryEvent[], activityType: string) {
  const { start, closed, activities } = activityTimes(events, activityType);
  const queue: number[] = [];
  const run: number[] = [];
  const workflow: number[] = [];
  const cycle: number[] = [];
  activities.forEach(({ scheduled, started, completed }, i) => {
    if (started !== undefined) queue.push(started - scheduled);
    if (started !== undefined && completed !== undefined) run.push(completed - started);
    const next = activities[i + 1];
    if (next) {
      cycle.push(next.scheduled - scheduled);
      if (completed !== undefined) workflow.push(next.scheduled - completed);
    }
  });
  const round = (values: number[]) => Number(median(values).toFixed(2));
  const first = activities[0];
  const lastCompleted = activities.at(-1)?.completed;
  return {
    // Whole-run overhead outside the chain: start → first node scheduled, last completed → closed.
    headMs: first ? Number((first.scheduled - start).toFixed(1)) : 0,
    tailMs:
      closed !== undefined && lastCompleted !== undefined
        ? Number((closed - lastCompleted).toFixed(1))
        : 0,
    cycleMs: round(cycle),
    queueMs: round(queue),
    runMs: round(run),
    workflowMs: round(workflow),
  };
}

/**
 * Where the sleepers' time goes beyond the ideal, from history timestamps (medians within the run):
 * `headMs` start → first node started; `firstWaveMs` first → `slots`-th start; `runMs` started →
 * completed (the pause plus dispatch: poll response, worker, completion); `handoffMs` a slot's
 * completion → the start of the node taking it over (k-th completion → (k + slots)-th start);
 * `tailMs` last completion → workflow closed.
 */
function sleeperPhases(events: HistoryEvent[], activityType: string, slots: number) {
  const { start, closed, activities } = activityTimes(events, activityType);
  const starts = defined(activities.map((activity) => activity.started)).sort((a, b) => a - b);
  const completions = defined(activities.map((activity) => activity.completed)).sort(
    (a, b) => a - b,
  );
  const runs = activities.flatMap(({ started, completed }) =>
    started !== undefined && completed !== undefined ? [completed - started] : [],
  );
  const round = (value: number) => Number(value.toFixed(1));
  return {
    headMs: round((starts[0] ?? start) - start),
    firstWaveMs: round((starts[slots - 1] ?? 0) - (starts[0] ?? 0)),
    runMs: round(median(runs)),
    handoffMs: round(median(starts.slice(slots).map((s, k) => s - completions[k]!))),
    tailMs: closed !== undefined ? round(closed - (completions.at(-1) ?? 0)) : 0,
  };
}

/**
 * A run's wall time and the CPU time this process (client and worker: workflow and activity code)
 * spent meanwhile: on a loaded machine wall times swell with others' work, CPU times much less.
 */
interface Timed {
  wallMs: number;
  cpuMs: number;
  workflowId: string;
}

function elapsed(started: number, cpu: NodeJS.CpuUsage): Omit<Timed, 'workflowId'> {
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

/** A library worker serving the bench project, and a client; runs are timed from start to result. */
async function libraryWorker(maxConcurrentNodes: number) {
  const taskQueue = `bench-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const worker = await createWorker({
    projectDir,
    connection: nativeConnection,
    taskQueue,
    maxConcurrentNodes,
    storeDir: mkdtempSync(join(tmpdir(), 'bench-store-')),
  });
  const client = new Client({ connection });
  const running = worker.run();
  return {
    client,
    async train(pipeline: string): Promise<Timed> {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const handle = await startTraining(client, { pipeline, taskQueue });
      await handle.result();
      return { ...elapsed(started, cpu), workflowId: handle.workflowId };
    },
    async close(): Promise<void> {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** The same dev server and SDK with no library code: plain chains of no-op (local) activities. */
async function baselineWorker() {
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: `bench-baseline-${randomUUID()}`,
    workflowsPath: fileURLToPath(new URL('./fixtures/baseline-workflow.ts', import.meta.url)),
    activities: {
      noop: async (x: number) => x + 1,
      pause: (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms)),
    },
    // As many slots as the library worker's node slots, for the sleepers' floor.
    maxConcurrentActivityTaskExecutions: SLOTS,
  });
  const client = new Client({ connection });
  const running = worker.run();
  return {
    client,
    /** A chain of `length` no-op activities, regular or (`local`) local ones. */
    async chain(length: number, local = false): Promise<Timed> {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const workflowId = `bench-baseline-${randomUUID()}`;
      await client.workflow.execute(local ? 'baselineLocalChain' : 'baselineChain', {
        taskQueue: worker.options.taskQueue,
        workflowId,
        args: [length],
      });
      return { ...elapsed(started, cpu), workflowId };
    },
    /** 64 activities pausing 200 ms each, scheduled at once, on 16 slots. */
    async sleepers(): Promise<{ wallMs: number; workflowId: string }> {
      const started = performance.now();
      const workflowId = `bench-baseline-${randomUUID()}`;
      await client.workflow.execute('baselineSleepers', {
        taskQueue: worker.options.taskQueue,
        workflowId,
        args: [64, 200],
      });
      return { wallMs: performance.now() - started, workflowId };
    },
    async close(): Promise<void> {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
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

const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
const fixed = (value: number, digits = 2): number => Number(value.toFixed(digits));
const loadBefore = load();
console.log(`${cpus().length} cores, load ${loadBefore} (1/5/15 min)`);

const repeat = Math.max(1, Number(process.env.REPEAT ?? 3));
const library = await libraryWorker(SLOTS);
const baseline = await baselineWorker();
const reps: {
  baselineMsPerActivity: number;
  baselineLocalMsPerActivity: number;
  chainMsPerNode: number;
  localChainMsPerNode: number;
  localInlineChainMsPerNode: number;
  sleepersMs: number;
  bareSleepersMs: number;
  /** CPU ms of this process per node / activity. */
  cpu: { bare: number; chain: number; bareLocal: number; local: number; localInline: number };
  baselinePhases: ReturnType<typeof phases>;
  chainPhases: ReturnType<typeof phases>;
  bareSleeperPhases: ReturnType<typeof sleeperPhases>;
  sleeperPhases: ReturnType<typeof sleeperPhases>;
}[] = [];
const rows = [];
try {
  // Warm-up, as a long-running worker is: project and session loaded, node threads started.
  await library.train('chain_50');
  await library.train('chain_200_local');
  await baseline.chain(20);
  await baseline.chain(20, true);
  await baseline.sleepers();

  for (let rep = 0; rep < repeat; rep++) {
    const bare = await baseline.chain(200);
    const chain = await library.train('chain_200');
    const bareLocal = await baseline.chain(200, true);
    const local = await library.train('chain_200_local');
    const inline = await library.train('chain_200_local_inline');
    const sleepers = await library.train('sleepers_64');
    const bareSleepers = await baseline.sleepers();
    reps.push({
      baselineMsPerActivity: bare.wallMs / 200,
      baselineLocalMsPerActivity: bareLocal.wallMs / 200,
      chainMsPerNode: chain.wallMs / 200,
      localChainMsPerNode: local.wallMs / 200,
      localInlineChainMsPerNode: inline.wallMs / 200,
      sleepersMs: sleepers.wallMs,
      bareSleepersMs: bareSleepers.wallMs,
      cpu: {
        bare: bare.cpuMs / 200,
        chain: chain.cpuMs / 200,
        bareLocal: bareLocal.cpuMs / 200,
        local: local.cpuMs / 200,
        localInline: inline.cpuMs / 200,
      },
      baselinePhases: phases(await runEvents(baseline.client, bare.workflowId), 'noop'),
      chainPhases: phases(await runEvents(library.client, chain.workflowId), 'runNode'),
      bareSleeperPhases: sleeperPhases(
        await runEvents(baseline.client, bareSleepers.workflowId),
        'pause',
        SLOTS,
      ),
      sleeperPhases: sleeperPhases(
        await runEvents(library.client, sleepers.workflowId),
        'runNode',
        SLOTS,
      ),
    });
    console.log(`repetition ${rep + 1}/${repeat}, load ${load()}`, reps.at(-1));
  }

  if (process.env.QUICK !== '1') {
    for (const [pipeline, nodes] of [
      ['chain_50', 50],
      ['chain_200', 200],
      ['fanout_200', 200],
      ['chain_1000', 1000],
    ] as const) {
      const temporal = await library.train(pipeline);
      const localMs = await locally(pipeline, SLOTS);
      rows.push({
        pipeline,
        nodes,
        ...(pipeline.startsWith('chain')
          ? {
              medianNodeCycleMs: phases(
                await runEvents(library.client, temporal.workflowId),
                'runNode',
              ).cycleMs,
            }
          : {}),
        temporalMsPerNode: fixed(temporal.wallMs / nodes),
        localMsPerNode: fixed(localMs / nodes, 4),
        wallTimeRatio: fixed(temporal.wallMs / localMs, 1),
      });
    }
  }
} finally {
  await library.close();
  await baseline.close();
}

const med = (pick: (rep: (typeof reps)[number]) => number): number => median(reps.map(pick));
const range = (pick: (rep: (typeof reps)[number]) => number): [number, number] => {
  const values = reps.map(pick);
  return [fixed(Math.min(...values)), fixed(Math.max(...values))];
};
const baselineMs = med((rep) => rep.baselineMsPerActivity);
const chainMs = med((rep) => rep.chainMsPerNode);
const baselineLocalMs = med((rep) => rep.baselineLocalMsPerActivity);
const localMs = med((rep) => rep.localChainMsPerNode);
const ideal = (64 / SLOTS) * 200;
const headline = {
  repetitions: repeat,
  bareTemporalChainMsPerActivity: fixed(baselineMs),
  chainMsPerNode: fixed(chainMs),
  chainToBareRatio: fixed(chainMs / baselineMs),
  bareTemporalLocalChainMsPerActivity: fixed(baselineLocalMs),
  localChainMsPerNode: fixed(localMs),
  localChainToBareLocalRatio: fixed(localMs / baselineLocalMs),
  // Medians of each repetition's own ratio: a run and its bare twin ran back to back, under about
  // the same load, so these hold up better than ratios of medians on a machine others load.
  pairedChainToBareRatio: fixed(med((rep) => rep.chainMsPerNode / rep.baselineMsPerActivity)),
  pairedLocalToBareLocalRatio: fixed(
    med((rep) => rep.localChainMsPerNode / rep.baselineLocalMsPerActivity),
  ),
  // The spread of those ratios across repetitions: how much one run's figure can be trusted here.
  pairedChainToBareRange: range((rep) => rep.chainMsPerNode / rep.baselineMsPerActivity),
  cpuChainToBareRatio: fixed(med((rep) => rep.cpu.chain / rep.cpu.bare)),
  cpuLocalToBareLocalRatio: fixed(med((rep) => rep.cpu.local / rep.cpu.bareLocal)),
  localInlineChainMsPerNode: fixed(med((rep) => rep.localInlineChainMsPerNode)),
  cpuMsPerNode: Object.fromEntries(
    (['bare', 'chain', 'bareLocal', 'local', 'localInline'] as const).map((kind) => [
      kind,
      fixed(med((rep) => rep.cpu[kind])),
    ]),
  ),
  sleepers: {
    nodes: 64,
    sleepMs: 200,
    slots: SLOTS,
    wallMs: Math.round(med((rep) => rep.sleepersMs)),
    idealMs: ideal,
    ratioToIdeal: fixed(med((rep) => rep.sleepersMs) / ideal),
    // The same 64 pauses as plain activities of a bare workflow on 16 slots: Temporal's own floor.
    bareWallMs: Math.round(med((rep) => rep.bareSleepersMs)),
    bareRatioToIdeal: fixed(med((rep) => rep.bareSleepersMs) / ideal),
    pairedRatioToBare: fixed(med((rep) => rep.sleepersMs / rep.bareSleepersMs)),
    ratioToIdealRange: range((rep) => rep.sleepersMs / ideal),
    bareRatioToIdealRange: range((rep) => rep.bareSleepersMs / ideal),
  },
};
/** Medians across repetitions of one phase breakdown's fields. */
const medianPhases = <K extends string>(
  pick: (rep: (typeof reps)[number]) => Record<K, number>,
  keys: readonly K[],
  digits = 2,
): Record<K, number> =>
  Object.fromEntries(
    keys.map((key) => [
      key,
      fixed(
        med((rep) => pick(rep)[key]),
        digits,
      ),
    ]),
  ) as Record<K, number>;
const perNode = ['headMs', 'tailMs', 'cycleMs', 'queueMs', 'runMs', 'workflowMs'] as const;
const breakdown = {
  bareTemporalChain: medianPhases((rep) => rep.baselinePhases, perNode),
  chain_200: medianPhases((rep) => rep.chainPhases, perNode),
};
const sleeperKeys = ['headMs', 'firstWaveMs', 'runMs', 'handoffMs', 'tailMs'] as const;
const sleepersBreakdown = {
  bareTemporalSleepers: medianPhases((rep) => rep.bareSleeperPhases, sleeperKeys, 1),
  sleepers_64: medianPhases((rep) => rep.sleeperPhases, sleeperKeys, 1),
};
const loadAfter = load();
console.table([
  {
    'bare chain ms/activity': headline.bareTemporalChainMsPerActivity,
    'chain_200 ms/node': headline.chainMsPerNode,
    ratio: headline.chainToBareRatio,
    'bare local chain ms/activity': headline.bareTemporalLocalChainMsPerActivity,
    'local chain ms/node': headline.localChainMsPerNode,
    'local ratio': headline.localChainToBareLocalRatio,
    'paired ratio': headline.pairedChainToBareRatio,
    'paired local ratio': headline.pairedLocalToBareLocalRatio,
    'local, thread: false': headline.localInlineChainMsPerNode,
    'sleepers ms': headline.sleepers.wallMs,
    'sleepers / ideal': headline.sleepers.ratioToIdeal,
    'bare sleepers / ideal': headline.sleepers.bareRatioToIdeal,
  },
]);
console.table([headline.cpuMsPerNode]);
console.table(breakdown);
console.table(sleepersBreakdown);
if (rows.length > 0) console.table(rows);
console.log(`load before ${loadBefore}, after ${loadAfter} (1/5/15 min)`);
writeResults('temporal', {
  note: "Medians of interleaved repetitions on warm, long-lived workers. *MsPerNode: whole-workflow wall time (start to result, plan and cleanup included) / nodes; cpuMsPerNode: CPU time of the bench process (client and worker) per node or activity, less sensitive to load than wall time; bareTemporalChainMsPerActivity / bareTemporalLocalChainMsPerActivity: the same for a plain workflow chaining no-op (local) activities on the same server; localChainMsPerNode: the chain of local nodes, which runs as linear groups of at most 100 nodes per local activity (the bare local chain has one local activity per step); sleepers.bare*: the same 64 pauses of 200 ms as plain activities of a bare workflow on 16 slots (the floor Temporal itself sets); breakdown: per-node phases from history timestamps (head: workflow start→first node scheduled, tail: last node completed→workflow closed, queue: scheduled→started, run: started→completed, workflow: completed→next scheduled); sleepersBreakdown: the same 64 pauses, ours and bare (head: start→first node started, firstWave: first→16th start, run: started→completed, the 200 ms pause plus dispatch, handoff: a slot's completion→the start of the node taking it over, tail: last completion→closed).",
  targets: {
    chainToBareRatio: '≤ 1.1',
    localChainMsPerNode:
      '≤ 2 (unless the bare local chain itself costs more: then ≤ 1.1 × bare local)',
    sleepersRatioToIdeal: '≤ 1.3 (ideal 0.8 s)',
  },
  load: { before: loadBefore, after: loadAfter },
  ...headline,
  breakdown,
  sleepersBreakdown,
  repetitionsRaw: reps,
  rows,
});
