/**
 * Scoring server at the framework's limit (issue 16): `temporal-mlflow serve` of the example's real
 * model (support-tickets: vocabulary + classifier, trained and packaged here by
 * test/support/example-model.ts) against a bare fastify handler returning a fixed prediction, with
 * the same load tool (wrk), connections (32) and request (1 record, `dataframe_records`), in the
 * same run, each server in its own process. A third server, `layer`, is ours with the model replaced
 * by the same fixed answer (the example's signature, logging and options kept): our HTTP and
 * request-handling layer alone, so the gap to the bare handler splits into layer and model. A
 * fourth, `node`, is node:http alone answering the fixed prediction: the floor of any framework.
 *
 *   node --import tsx bench/serving.ts         # BENCH_SECONDS=10 per case, BENCH_ROUNDS=3
 *
 * Needs wrk (`apt-get install -y wrk` on Debian/Ubuntu, `brew install wrk` on macOS). The servers
 * are measured in alternate order, `BENCH_ROUNDS` times; the figures are medians. Targets: ours ≥
 * 0.6× the bare handler's requests/s, p99 ≤ 2× its p99; the same ratio by server CPU per request
 * (`cpuRatio`, bare ÷ ours) is steadier when other work loads the machine. Prints the machine's
 * cores and load and writes bench/results/serving.json. Also prints what the model itself costs (one `predict` in
 * process, and ours − layer in the server) and the ratio a server whose HTTP layer cost no more
 * than the bare handler would reach with it: the ceiling this model puts on the target.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { packageExampleModel } from '../test/support/example-model.js';
import { repoRoot } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 32;
const WRK_THREADS = 2;
const OURS_PORT = 5931;
const BARE_PORT = 5933;
const LAYER_PORT = 5935;
const NODE_PORT = 5937;

type Server = 'ours' | 'layer' | 'bare' | 'node';

interface WrkResult {
  /** The server process's CPU time (user + system) per request, µs: less sensitive to load. */
  cpuUsPerRequest?: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
}

/** A process's CPU time so far (user + system), in µs (Linux /proc; undefined elsewhere). */
function cpuMicros(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ');

function requireWrk(): void {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    console.error(
      'bench/serving.ts needs wrk, the HTTP load tool: install it with `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS), then run again.',
    );
    process.exit(1);
  }
}

/** wrk's latency figure (`812.00us`, `1.25ms`, `1.02s`) in milliseconds. */
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const latency = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Math.round(num(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: Math.round(latency('50') * 100) / 100,
    p99Ms: Math.round(latency('99') * 100) / 100,
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

function wrk(port: number, script: string, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'wrk',
      [
        `-t${WRK_THREADS}`,
        `-c${CONNECTIONS}`,
        `-d${seconds}s`,
        '--latency',
        '-s',
        script,
        `http://127.0.0.1:${port}/invocations`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited ${code}:\n${out}`)),
    );
  });
}

/** CPU time of one `predict` of one record in this process (median of 5 runs of 20 000 calls), µs. */
async function predictCpu(
  model: { predict(records: unknown[]): Promise<unknown> },
  record: unknown,
): Promise<number> {
  const runs: number[] = [];
  for (let run = 0; run < 6; run++) {
    const start = process.cpuUsage();
    for (let i = 0; i < 20_000; i++) await model.predict([{ ...(record as object) }]);
    const used = process.cpuUsage(start);
    if (run > 0) runs.push((used.user + used.system) / 20_000); // the first run warms up
  }
  return Math.round(median(runs) * 10) / 10;
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the server on port ${port} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ping`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no /ping answer on port ${port} within ${timeoutMs} ms`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  requireWrk();
  console.log(`machine: ${cpus().length} cores, load ${load()} (1/5/15 min) at start`);
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  const workDir = mkdtempSync(join(repoRoot, '.local', 'tmp', 'bench-serving-'));
  const example = await packageExampleModel(workDir);
  const body = JSON.stringify({ dataframe_records: [example.tickets[0]] });
  const prediction = await example.model.predict([example.tickets[0]]);
  const fixed = JSON.stringify({ predictions: prediction });
  const modelAlone = await predictCpu(example.model, example.tickets[0]);
  console.log(
    `the model alone (predict of 1 record in this process, no HTTP): ${modelAlone} µs CPU/call`,
  );
  const script = join(workDir, 'post.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  // Ours: the CLI as users run it (default options and logging); bare: fastify's defaults.
  const ours = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin', 'temporal-mlflow.js'),
      'serve',
      '-m',
      example.modelDir,
      '--port',
      String(OURS_PORT),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const bare = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--serve-bare', String(BARE_PORT), fixed],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const layer = spawn(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--serve-layer',
      String(LAYER_PORT),
      fixed,
      example.modelDir,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // node: node:http alone (no framework) parsing the body and answering the fixed prediction.
  const plain = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--serve-node', String(NODE_PORT), fixed],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const ports: Record<Server, number> = {
    ours: OURS_PORT,
    layer: LAYER_PORT,
    bare: BARE_PORT,
    node: NODE_PORT,
  };
  const pids: Record<Server, number | undefined> = {
    ours: ours.pid,
    layer: layer.pid,
    bare: bare.pid,
    node: plain.pid,
  };
  const runs: { server: Server; round: number; result: WrkResult }[] = [];
  try {
    await Promise.all([
      waitForPing(OURS_PORT, ours),
      waitForPing(BARE_PORT, bare),
      waitForPing(LAYER_PORT, layer),
      waitForPing(NODE_PORT, plain),
    ]);
    const check = await fetch(`http://127.0.0.1:${OURS_PORT}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const answer = await check.text();
    if (check.status !== 200 || answer !== fixed)
      throw new Error(`ours answered ${check.status} ${answer}, expected 200 ${fixed}`);
    for (const port of [BARE_PORT, OURS_PORT, LAYER_PORT, NODE_PORT]) await wrk(port, script, 2); // warm-up
    for (let round = 1; round <= ROUNDS; round++) {
      const order: Server[] =
        round % 2 === 1 ? ['bare', 'ours', 'layer', 'node'] : ['node', 'layer', 'ours', 'bare'];
      for (const server of order) {
        const pid = pids[server];
        const cpu0 = cpuMicros(pid);
        const result = await wrk(ports[server], script, SECONDS);
        const cpu1 = cpuMicros(pid);
        if (cpu0 !== undefined && cpu1 !== undefined && result.requests > 0)
          result.cpuUsPerRequest = Math.round((cpu1 - cpu0) / result.requests);
        runs.push({ server, round, result });
        console.log(
          `round ${round} ${server.padEnd(4)}: ${result.rps} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, server CPU ${result.cpuUsPerRequest ?? '?'} µs/request (${result.requests} requests, ${result.non2xx} non-2xx, ${result.socketErrors} socket errors; load ${load()})`,
        );
      }
    }
  } finally {
    await Promise.all([stop(ours), stop(bare), stop(layer), stop(plain)]);
    rmSync(workDir, { recursive: true, force: true });
    rmSync(example.projectDir, { recursive: true, force: true });
  }
  const of = (server: Server) => runs.filter((r) => r.server === server);
  const summary = (server: Server) => ({
    rps: Math.round(median(of(server).map((r) => r.result.rps))),
    p50Ms: median(of(server).map((r) => r.result.p50Ms)),
    p99Ms: median(of(server).map((r) => r.result.p99Ms)),
    cpuUsPerRequest: median(of(server).map((r) => r.result.cpuUsPerRequest ?? Number.NaN)),
    non2xx: of(server).reduce((a, r) => a + r.result.non2xx, 0),
  });
  const o = summary('ours');
  const b = summary('bare');
  const l = summary('layer');
  const n = summary('node');
  const rpsRatio = Math.round((o.rps / b.rps) * 100) / 100;
  const p99Ratio = Math.round((o.p99Ms / b.p99Ms) * 100) / 100;
  // The same comparison by server CPU per request: what requests/s would give on a quiet machine
  // where both servers are CPU-bound, and much steadier than requests/s when other work shares it.
  const cpuRatio = Math.round((b.cpuUsPerRequest / o.cpuUsPerRequest) * 100) / 100;
  // What the model adds per request in the server (ours − layer), and the requests/s ratio ours
  // would reach, on a CPU-bound server, if its HTTP layer cost no more than the bare handler.
  const modelInServer = o.cpuUsPerRequest - l.cpuUsPerRequest;
  const ceilingOver = (layerUs: number) =>
    Math.round((b.cpuUsPerRequest / (layerUs + modelInServer)) * 100) / 100;
  const ceiling = ceilingOver(b.cpuUsPerRequest);
  const ceilingNoFramework = ceilingOver(n.cpuUsPerRequest);
  console.log(
    `\nmedians of ${ROUNDS} rounds × ${SECONDS} s, wrk -t${WRK_THREADS} -c${CONNECTIONS}, 1 record per request:` +
      `\n  ours (support-tickets model): ${o.rps} req/s, p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms, server CPU ${o.cpuUsPerRequest} µs/request` +
      `\n  ours, model → fixed answer:   ${l.rps} req/s, p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, server CPU ${l.cpuUsPerRequest} µs/request (our layer alone: ${Math.round((l.rps / b.rps) * 100) / 100}× the bare requests/s)` +
      `\n  bare fastify, fixed answer:   ${b.rps} req/s, p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms, server CPU ${b.cpuUsPerRequest} µs/request` +
      `\n  node:http, fixed answer:      ${n.rps} req/s, p50 ${n.p50Ms} ms, p99 ${n.p99Ms} ms, server CPU ${n.cpuUsPerRequest} µs/request (no framework)` +
      `\n  ratio: ${rpsRatio}× the requests/s (target ≥ 0.6), ${p99Ratio}× the p99 (target ≤ 2); by server CPU per request ${cpuRatio}×; load ${load()}` +
      `\n  the model adds ${modelInServer} µs CPU/request in the server (${modelAlone} µs alone, in process): with a layer as cheap as the bare handler, ours would reach at most ${ceiling}× its requests/s (${ceilingNoFramework}× with one as cheap as node:http alone)`,
  );
  writeResults('serving', {
    model: 'examples/support-tickets (vocabulary + classifier), packaged by savePipelineModel',
    loadTool: `wrk ${WRK_THREADS} threads, ${CONNECTIONS} connections, ${SECONDS} s per case, ${ROUNDS} rounds in alternate order`,
    request: body,
    loadAverageAtEnd: loadavg(),
    targets: { rpsRatio: 0.6, p99Ratio: 2 },
    summary: {
      ours: o,
      bare: b,
      rpsRatio,
      p99Ratio,
      cpuRatio,
      layer: { ...l, rpsRatio: Math.round((l.rps / b.rps) * 100) / 100 },
      node: { ...n, rpsRatio: Math.round((n.rps / b.rps) * 100) / 100 },
    },
    modelCost: {
      cpuUsPerCallAlone: modelAlone,
      cpuUsPerRequestInServer: modelInServer,
      rpsRatioCeiling: ceiling,
      rpsRatioCeilingWithoutFramework: ceilingNoFramework,
      note: 'cpuUsPerRequestInServer = ours − layer; rpsRatioCeiling = bare / (bare + cpuUsPerRequestInServer), the ratio of a CPU-bound server whose layer costs what the bare handler costs; rpsRatioCeilingWithoutFramework = bare / (node + cpuUsPerRequestInServer), with a layer as cheap as node:http alone',
    },
    layer:
      'ours with the model replaced by the fixed answer (same signature, options and logging): the HTTP and request-handling layer alone',
    node: 'node:http alone: reads the body, JSON.parse, answers the fixed prediction (a floor for any framework)',
    runs,
  });
}

if (process.argv[2] === '--serve-layer') {
  // Ours with the model replaced by the fixed answer: the example's signature, default options.
  const { createScoringServer } = await import('../src/serving/server.js');
  const { loadModel } = await import('../src/model/load-model.js');
  const loaded = await loadModel(process.argv[5]!);
  const { predictions } = JSON.parse(process.argv[4]!) as { predictions: unknown };
  const app = createScoringServer(
    {
      signature: loaded.signature,
      metadata: { flavorVersion: loaded.metadata.flavorVersion },
      predict: () => Promise.resolve(predictions),
    },
    { logger: true },
  );
  await app.listen({ host: '127.0.0.1', port: Number(process.argv[3]) });
  const close = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
} else if (process.argv[2] === '--serve-node') {
  // No framework: node:http reading the body, parsing it and answering the fixed prediction.
  const { createServer } = await import('node:http');
  const fixed = process.argv[4]!;
  const length = String(Buffer.byteLength(fixed));
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('\n');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res
        .writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': length,
        })
        .end(fixed);
    });
  });
  server.keepAliveTimeout = 72_000; // as fastify's
  server.listen(Number(process.argv[3]), '127.0.0.1');
  const close = () => server.close(() => process.exit(0));
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
} else if (process.argv[2] === '--serve-bare') {
  // The reference: fastify's defaults (JSON body parser, no logger), a fixed prediction.
  const fixed = JSON.parse(process.argv[4]!) as unknown;
  const app = Fastify();
  app.get('/ping', async () => '\n');
  app.post('/invocations', async () => fixed);
  await app.listen({ host: '127.0.0.1', port: Number(process.argv[3]) });
  const close = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
} else {
  await main();
}
