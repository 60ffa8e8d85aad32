/**
 * Scoring server throughput and latency: our server vs `mlflow models serve --env-manager local`
 * (through the python_function shim) on the same fixture model, in the same run.
 *
 *   node --import tsx bench/serving.ts            # BENCH_SECONDS=5 per case by default
 *
 * Cases: 1 and 100 records per request × concurrency 1 and 32, loopback only, keep-alive
 * connections. Each server runs in its own process (ours: this file with --serve-ours). Prints a
 * table and writes bench/results/serving.json.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveModel } from '../src/serving/serve.js';
import { buildFixtureModel, MLFLOW, PYTHON } from '../test/pyfunc/build-fixture.js';
import { createFixtureModel } from '../test/pyfunc/fixtures/fixture-model.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_MS = 1000;
const RECORDS = [1, 100];
const CONCURRENCY = [1, 32];
const OURS_PORT = 5931;
const MLFLOW_PORT = 5932;
const here = dirname(fileURLToPath(import.meta.url));

interface CaseResult {
  server: 'ours' | 'mlflow';
  records: number;
  concurrency: number;
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

function body(records: number): string {
  return JSON.stringify({
    dataframe_split: { columns: ['x'], data: Array.from({ length: records }, (_, i) => [i + 0.5]) },
  });
}

function post(agent: Agent, port: number, payload: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/invocations',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function load(
  port: number,
  payload: string,
  concurrency: number,
  durationMs: number,
): Promise<{ latencies: number[]; errors: number; elapsedMs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const status = await post(agent, port, payload).catch(() => 0);
      if (status === 200) latencies.push(performance.now() - t0);
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - start;
  agent.destroy();
  return { latencies, errors, elapsedMs };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function measure(
  server: CaseResult['server'],
  port: number,
  records: number,
  concurrency: number,
): Promise<CaseResult> {
  const payload = body(records);
  await load(port, payload, concurrency, WARMUP_MS);
  const { latencies, errors, elapsedMs } = await load(port, payload, concurrency, SECONDS * 1000);
  latencies.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    server,
    records,
    concurrency,
    requests: latencies.length,
    errors,
    rps: Math.round(latencies.length / (elapsedMs / 1000)),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`server on port ${port} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ping`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no /ping answer on port ${port} within ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  const modelDir = await buildFixtureModel();
  const env = {
    ...process.env,
    MLFLOW_DISABLE_TELEMETRY: 'true',
    PATH: `${dirname(PYTHON)}:${process.env.PATH ?? ''}`,
  };
  const ours = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--serve-ours', String(OURS_PORT)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const theirs = spawn(
    MLFLOW,
    [
      'models',
      'serve',
      '-m',
      modelDir,
      '--env-manager',
      'local',
      '--port',
      String(MLFLOW_PORT),
      '--host',
      '127.0.0.1',
    ],
    {
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
      detached: true,
    },
  );
  const results: CaseResult[] = [];
  try {
    await Promise.all([waitForPing(OURS_PORT, ours), waitForPing(MLFLOW_PORT, theirs)]);
    for (const records of RECORDS) {
      for (const concurrency of CONCURRENCY) {
        for (const [server, port] of [
          ['ours', OURS_PORT],
          ['mlflow', MLFLOW_PORT],
        ] as const) {
          const r = await measure(server, port, records, concurrency);
          results.push(r);
          process.stderr.write(
            `${server} records=${records} c=${concurrency}: ${r.rps} req/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms (${r.errors} errors)\n`,
          );
        }
      }
    }
  } finally {
    ours.kill('SIGTERM');
    if (theirs.pid && theirs.exitCode === null) process.kill(-theirs.pid, 'SIGTERM');
    rmSync(modelDir, { recursive: true, force: true });
  }

  const find = (s: CaseResult['server'], n: number, c: number) =>
    results.find((r) => r.server === s && r.records === n && r.concurrency === c)!;
  const a = find('ours', 1, 32);
  const b = find('mlflow', 1, 32);
  const summary = {
    rpsRatio: Math.round((a.rps / b.rps) * 10) / 10,
    p99Ratio: Math.round((b.p99Ms / a.p99Ms) * 10) / 10,
    target: 'rpsRatio ≥ 5 and p99Ratio ≥ 5 (1 record/request, concurrency 32)',
  };
  console.log('\nserver  records  conc   req/s   p50 ms   p99 ms  errors');
  for (const r of results) {
    console.log(
      `${r.server.padEnd(7)} ${String(r.records).padStart(7)} ${String(r.concurrency).padStart(5)} ${String(r.rps).padStart(7)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${String(r.errors).padStart(7)}`,
    );
  }
  console.log(
    `\n1 record/request, concurrency 32: ours ${summary.rpsRatio}x the requests/s of mlflow models serve; its p99 is ${summary.p99Ratio}x ours`,
  );
  const out = join(here, 'results/serving.json');
  mkdirSync(dirname(out), { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    secondsPerCase: SECONDS,
    warmupMs: WARMUP_MS,
  };
  writeFileSync(out, `${JSON.stringify({ meta, summary, results }, null, 2)}\n`);
  console.log(`written ${out}`);
}

if (process.argv[2] === '--serve-ours') {
  await serveModel(createFixtureModel(), { port: Number(process.argv[3]), logger: true });
} else {
  await main();
}
