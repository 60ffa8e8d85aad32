/**
 * The scoring server under hostile load (issue 13), against `serve`'s library entry point in its
 * own process on loopback, with the default limits unless said otherwise:
 *
 *   node --import tsx bench/serving-hardening.ts        # FUZZ_REQUESTS=10000 by default
 *
 * 1. A 0.9 MB CSV with 100,000 header columns: time to its answer (400 with the default
 *    --max-columns, and 200 with --max-columns 200000). Target ≤ 100 ms.
 * 2. 16 maximum-size requests in flight (bodies just under --body-limit, --max-records rows):
 *    `/ping` p99 while they are processed. Target ≤ 50 ms.
 * 3. A fuzz of FUZZ_REQUESTS random requests (every format, sizes up to and over the limits, 15 %
 *    damaged; test/serving/fuzz.ts), 8 at a time: 0 5xx, `/ping` p99 throughout, peak RSS of the
 *    server (stated bound: RSS_BOUND_MB).
 *
 * Prints the figures and writes bench/results/serving-hardening.json.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import {
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_MAX_COLUMNS,
  DEFAULT_MAX_RECORDS,
} from '../src/serving/options.js';
import { serveModel } from '../src/serving/serve.js';
import { createFixtureModel } from '../test/pyfunc/fixtures/fixture-model.js';
import { fuzzRequests } from '../test/serving/fuzz.js';
import { median, percentile, writeResults } from './support.js';

const FUZZ_REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const FUZZ_CONCURRENCY = 8;
const RSS_BOUND_MB = Number(process.env.RSS_BOUND_MB ?? 1536);
const PORT_DEFAULT = 5941;
const PORT_WIDE = 5942;

interface Answer {
  status: number;
  ms: number;
}

function post(
  agent: Agent | undefined,
  port: number,
  contentType: string,
  body: string,
): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/invocations',
        method: 'POST',
        ...(agent ? { agent } : {}),
        headers: {
          ...(contentType ? { 'content-type': contentType } : {}),
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(body);
  });
}

function ping(port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/ping' }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    });
    req.on('error', () => resolve(Number.POSITIVE_INFINITY));
    req.end();
  });
}

/**
 * Pings every 10 ms from a worker thread (its own event loop: building and sending large bodies in
 * this thread must not delay the pings' timing) and samples the server's RSS every 50 ms, until
 * stopped.
 */
function monitor(port: number, server: ChildProcess) {
  const pid = server.pid!;
  server.send('eld-reset');
  let rssPeak = 0;
  const rss = () => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    rssPeak = Math.max(rssPeak, m ? Number(m[1]) / 1024 : 0);
  };
  const sampler = setInterval(rss, 50);
  const pinger = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
    const { request } = require('node:http');
    const pings = [];
    let stop = false;
    parentPort.on('message', () => (stop = true));
    const ping = () => new Promise((resolve) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port: workerData.port, path: '/ping' }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - t0));
      });
      req.on('error', () => resolve(Infinity));
      req.end();
    });
    (async () => {
      while (!stop) {
        pings.push(await ping());
        await new Promise((r) => setTimeout(r, 10));
      }
      parentPort.postMessage(pings);
    })();`,
    { eval: true, workerData: { port } },
  );
  return async () => {
    const pings = new Promise<number[]>((resolve) => pinger.once('message', resolve));
    pinger.postMessage('stop');
    const result = await pings;
    await pinger.terminate();
    clearInterval(sampler);
    rss();
    const loopDelay = await new Promise<EventLoopDelay>((resolve) => {
      server.once('message', (m) => resolve(m as EventLoopDelay));
      server.send('eld-read');
    });
    return { pings: result, rssPeakMb: Math.round(rssPeak), loopDelay };
  };
}

/** The server's own event-loop delay (ms) while monitored: what a request waits for the loop. */
interface EventLoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function startServer(port: number, extra: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--serve', String(port), ...extra],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const deadline = Date.now() + 60_000;
  while ((await ping(port)) === Number.POSITIVE_INFINITY) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

const round = (n: number) => Math.round(n * 10) / 10;

async function wideCsv(port: number) {
  const names = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
  const csv = `${names.join(',')}\n${names.map(() => '1').join(',')}\n`;
  const answers: Answer[] = [];
  for (let i = 0; i < 7; i++) answers.push(await post(undefined, port, 'text/csv', csv));
  return {
    bytes: csv.length,
    statuses: [...new Set(answers.map((a) => a.status))],
    medianMs: round(median(answers.map((a) => a.ms))),
    maxMs: round(Math.max(...answers.map((a) => a.ms))),
  };
}

async function maxSizeInFlight(port: number, server: ChildProcess) {
  // Rows at --max-records, as many columns as fit just under --body-limit.
  const rows = DEFAULT_MAX_RECORDS;
  const perRow = Math.floor(DEFAULT_BODY_LIMIT_BYTES / rows);
  const columns = Math.max(1, Math.floor((perRow - 3) / 10));
  const names = ['x', ...Array.from({ length: columns - 1 }, (_, i) => `c${i}`)];
  const data = Array.from({ length: rows }, (_, r) =>
    names.map((_, c) => Math.round((r * 7 + c) % 100_000) / 10 + 1000.5),
  );
  const body = JSON.stringify({ dataframe_split: { columns: names, data } });
  const stop = monitor(port, server);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 16 }, () => post(undefined, port, 'application/json', body)),
  );
  const elapsedMs = performance.now() - t0;
  const { pings, rssPeakMb, loopDelay } = await stop();
  return {
    requests: 16,
    bodyBytes: body.length,
    rows,
    columns,
    statuses: [...new Set(answers.map((a) => a.status))],
    elapsedMs: Math.round(elapsedMs),
    pings: pings.length,
    pingP50Ms: round(percentile(pings, 50)),
    pingP99Ms: round(percentile(pings, 99)),
    pingMaxMs: round(Math.max(...pings)),
    serverLoopDelay: loopDelay,
    rssPeakMb,
  };
}

async function fuzz(port: number, server: ChildProcess) {
  const next = fuzzRequests(
    {
      bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
      maxRecords: DEFAULT_MAX_RECORDS,
      maxColumns: DEFAULT_MAX_COLUMNS,
    },
    42,
  );
  const agent = new Agent({ keepAlive: true, maxSockets: FUZZ_CONCURRENCY });
  const statuses: Record<string, number> = {};
  const fiveHundreds: string[] = [];
  let sent = 0;
  let bytes = 0;
  const stop = monitor(port, server);
  const t0 = performance.now();
  const client = async () => {
    while (sent < FUZZ_REQUESTS) {
      const n = ++sent;
      const req = next();
      bytes += req.body.length;
      const a = await post(agent, port, req.contentType, req.body);
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      if (a.status >= 500 || a.status === 0)
        fiveHundreds.push(`${req.kind} ${req.body.length} B → ${a.status}`);
      if (n % 1000 === 0) process.stderr.write(`fuzz: ${n} requests sent\n`);
    }
  };
  await Promise.all(Array.from({ length: FUZZ_CONCURRENCY }, client));
  const elapsedMs = performance.now() - t0;
  agent.destroy();
  const { pings, rssPeakMb, loopDelay } = await stop();
  return {
    requests: FUZZ_REQUESTS,
    concurrency: FUZZ_CONCURRENCY,
    megabytesSent: Math.round(bytes / 1e6),
    seconds: round(elapsedMs / 1000),
    statuses,
    fiveHundredsOrResets: fiveHundreds.length,
    examples: fiveHundreds.slice(0, 5),
    pings: pings.length,
    pingP50Ms: round(percentile(pings, 50)),
    pingP99Ms: round(percentile(pings, 99)),
    pingMaxMs: round(Math.max(...pings)),
    serverLoopDelay: loopDelay,
    rssPeakMb,
    rssBoundMb: RSS_BOUND_MB,
  };
}

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ');

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, load ${load()} (1/5/15 min) at start`);
  const server = await startServer(PORT_DEFAULT, []);
  const wide = await startServer(PORT_WIDE, ['--max-columns', '200000']);
  try {
    const csvDefault = await wideCsv(PORT_DEFAULT);
    const csvWide = await wideCsv(PORT_WIDE);
    console.log(
      `100,000-column CSV (${csvDefault.bytes} B): default limits → ${csvDefault.statuses} in ${csvDefault.medianMs} ms (median of 7, max ${csvDefault.maxMs}); --max-columns 200000 → ${csvWide.statuses} in ${csvWide.medianMs} ms (max ${csvWide.maxMs}); target ≤ 100 ms`,
    );
    wide.kill('SIGTERM');
    const inFlight = await maxSizeInFlight(PORT_DEFAULT, server);
    console.log(
      `16 max-size requests (${(inFlight.bodyBytes / 1e6).toFixed(1)} MB, ${inFlight.rows} rows × ${inFlight.columns} columns) in flight: ${inFlight.statuses} in ${inFlight.elapsedMs} ms; /ping p50 ${inFlight.pingP50Ms} ms, p99 ${inFlight.pingP99Ms} ms (max ${inFlight.pingMaxMs}, ${inFlight.pings} pings); server event-loop delay p99 ${inFlight.serverLoopDelay.p99Ms} ms (max ${inFlight.serverLoopDelay.maxMs}); RSS peak ${inFlight.rssPeakMb} MB; target p99 ≤ 50 ms`,
    );
    const fz = await fuzz(PORT_DEFAULT, server);
    console.log(
      `fuzz: ${fz.requests} requests (${fz.megabytesSent} MB) in ${fz.seconds} s, statuses ${JSON.stringify(fz.statuses)}, 5xx/resets ${fz.fiveHundredsOrResets}; /ping p50 ${fz.pingP50Ms} ms, p99 ${fz.pingP99Ms} ms (max ${fz.pingMaxMs}, ${fz.pings} pings); server event-loop delay p99 ${fz.serverLoopDelay.p99Ms} ms (max ${fz.serverLoopDelay.maxMs}); RSS peak ${fz.rssPeakMb} MB (bound ${RSS_BOUND_MB} MB)`,
    );
    console.log(`load ${load()} at end`);
    writeResults('serving-hardening', {
      loadAverageAtEnd: loadavg(),
      limits: {
        bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
        maxRecords: DEFAULT_MAX_RECORDS,
        maxColumns: DEFAULT_MAX_COLUMNS,
      },
      targets: {
        wideCsvMs: 100,
        pingP99Ms: 50,
        fuzz5xx: 0,
        rssBoundMb: RSS_BOUND_MB,
      },
      wideCsv: { defaultLimits: csvDefault, maxColumns200000: csvWide },
      maxSizeInFlight: inFlight,
      fuzz: fz,
    });
  } finally {
    server.kill('SIGTERM');
    wide.kill('SIGTERM');
  }
}

if (process.argv[2] === '--serve') {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  process.on('message', (m) => {
    if (m === 'eld-reset') delay.reset();
    else if (m === 'eld-read')
      process.send!({
        p50Ms: ms(delay.percentile(50)),
        p99Ms: ms(delay.percentile(99)),
        maxMs: ms(delay.max),
      } satisfies EventLoopDelay);
  });
  const maxColumns = process.argv[3 + 1] === '--max-columns' ? Number(process.argv[5]) : undefined;
  await serveModel(createFixtureModel(), {
    port: Number(process.argv[3]),
    logger: false,
    // Worker threads load their own copy of the fixture model (a model loaded from a folder needs
    // no such option: the threads load the folder).
    threadModel: {
      module: new URL('../test/pyfunc/fixtures/fixture-model.ts', import.meta.url).href,
      exportName: 'createFixtureModel',
    },
    ...(maxColumns ? { maxColumns } : {}),
  });
} else {
  await main();
}
