/**
 * The local MLflow server's cost per tracking call, as `scripts/services` starts it (gunicorn's
 * sync workers) against MLflow's default (uvicorn), each a fresh server with its own SQLite store
 * started by the script in a folder of its own. A round is what a sweep's round asks of MLflow:
 * 8 trials at once, each creating its run, logging its params in one batch, logging its metric
 * and ending the run, through this package's MLflow client (a connection per call). Rounds
 * alternate between the two servers; the server's CPU per call is read from /proc for its whole
 * process tree. Writes bench/results/mlflow-server.json.
 *   node --import tsx bench/mlflow-server.ts     (BENCH_ROUNDS=12 rounds per server)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../src/mlflow/index.js';
import { processTree } from '../test/support/process-tree.js';
import { readServicesEnv, repoRoot } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const TRIALS = 8;
const CALLS_PER_ROUND = TRIALS * 4;
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const script = join(repoRoot, 'scripts', 'services');

type Flavour = 'gunicorn' | 'uvicorn';

interface Server {
  flavour: Flavour;
  client: MlflowClient;
  pid: number;
  experimentId: string;
  stop(): void;
}

/** Starts an MLflow server with `scripts/services start mlflow` in a folder of its own. */
async function startServer(flavour: Flavour): Promise<Server> {
  const localDir = mkdtempSync(join(tmpdir(), `tm-bench-mlflow-${flavour}-`));
  const env = {
    ...process.env,
    TEMPORAL_MLFLOW_LOCAL_DIR: localDir,
    TEMPORAL_MLFLOW_MLFLOW_SERVER: flavour,
  };
  const services = (command: string): void => {
    execFileSync('bash', [script, command, 'mlflow'], { env, stdio: 'ignore' });
  };
  const stop = (): void => {
    services('stop');
    rmSync(localDir, { recursive: true, force: true });
  };
  try {
    services('start');
  } catch (error) {
    stop();
    throw error;
  }
  const trackingUri = readServicesEnv(join(localDir, 'services.env')).MLFLOW_TRACKING_URI!;
  const client = new MlflowClient({ trackingUri });
  const pid = Number(readFileSync(join(localDir, 'run', 'mlflow.pid'), 'utf8'));
  const experimentId = await client.experiments.create(`bench-mlflow-server-${Date.now()}`);
  return { flavour, client, pid, experimentId, stop };
}

/** CPU ticks (user + system) of `root` and every process below it. */
const treeTicks = (root: number): number =>
  processTree(root).reduce((sum, entry) => sum + entry.ticks, 0);

/** One sweep-like round: TRIALS runs at once, each created, given params and a metric, ended. */
async function round(server: Server, index: number): Promise<void> {
  const { client, experimentId } = server;
  await Promise.all(
    Array.from({ length: TRIALS }, async (_, trial) => {
      const run = await client.runs.create({
        experimentId,
        tags: { 'mlflow.runName': `round-${index}-trial-${trial}` },
      });
      const runId = run.info.run_id;
      await client.runs.logBatch(runId, {
        params: [
          { key: 'quality', value: String(trial) },
          { key: 'sleep_ms', value: '200' },
        ],
      });
      await client.runs.logMetric(runId, 'score', trial);
      await client.runs.update(runId, { status: 'FINISHED', endTime: Date.now() });
    }),
  );
}

interface Measured {
  medianRoundMs: number;
  serverCpuMsPerCall: number;
}

const servers: Server[] = [];
try {
  for (const flavour of ['uvicorn', 'gunicorn'] as const) servers.push(await startServer(flavour));
  // A warm-up round each: imports, first connections, SQLite pages.
  for (const server of servers) await round(server, -1);
  const walls = new Map<Flavour, number[]>(servers.map((s) => [s.flavour, []]));
  const ticks = new Map<Flavour, number>(servers.map((s) => [s.flavour, 0]));
  for (let index = 0; index < ROUNDS; index++) {
    // Alternating, the first server changing each round: both see the same machine.
    const order = index % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const before = treeTicks(server.pid);
      const started = performance.now();
      await round(server, index);
      walls.get(server.flavour)!.push(performance.now() - started);
      ticks.set(server.flavour, ticks.get(server.flavour)! + treeTicks(server.pid) - before);
    }
  }
  const measured = Object.fromEntries(
    servers.map((server): [Flavour, Measured] => [
      server.flavour,
      {
        medianRoundMs: Math.round(median(walls.get(server.flavour)!)),
        serverCpuMsPerCall: Number(
          (
            (ticks.get(server.flavour)! * 1000) /
            TICKS_PER_SECOND /
            (ROUNDS * CALLS_PER_ROUND)
          ).toFixed(2),
        ),
      },
    ]),
  ) as Record<Flavour, Measured>;
  const figures = {
    rounds: ROUNDS,
    trialsPerRound: TRIALS,
    callsPerRound: CALLS_PER_ROUND,
    loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
    gunicornAsScriptsServicesStartsIt: measured.gunicorn,
    uvicornMlflowDefault: measured.uvicorn,
    cpuPerCallRatio: Number(
      (measured.gunicorn.serverCpuMsPerCall / measured.uvicorn.serverCpuMsPerCall).toFixed(2),
    ),
    roundRatio: Number(
      (measured.gunicorn.medianRoundMs / measured.uvicorn.medianRoundMs).toFixed(2),
    ),
  };
  console.log(
    `MLflow server, ${TRIALS} runs at once × 4 calls, ${ROUNDS} rounds each (load ${figures.loadAverage1m}):`,
  );
  for (const [name, value] of Object.entries(measured))
    console.log(
      `  ${name.padEnd(9)} round ${value.medianRoundMs} ms, server CPU ${value.serverCpuMsPerCall} ms per call`,
    );
  console.log(
    `  gunicorn / uvicorn: CPU per call ${figures.cpuPerCallRatio}×, round ${figures.roundRatio}×`,
  );
  writeResults('mlflow-server', figures);
} finally {
  for (const server of servers) server.stop();
}
