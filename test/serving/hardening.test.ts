/**
 * A scoring server that cannot be stalled or exhausted (issue 13): linear parsing of a 100,000-column
 * CSV, health checks answered while large requests are processed, limits on records, columns and
 * in-flight requests, and `serve` that fails (instead of hanging) when the model cannot load.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { createScoringServer } from '../../src/serving/index.js';
import type { ScoringModel, ScoringServerOptions } from '../../src/serving/index.js';
import { createFixtureModel } from '../pyfunc/fixtures/fixture-model.js';
import { packageExampleModel } from '../support/example-model.js';
import { send } from './http.js';
import type { HttpResponse } from './http.js';
import { freePort } from './mlflow-reference.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const CSV_TYPE = { 'content-type': 'text/csv' };
const CLI = fileURLToPath(new URL('../../bin/temporal-mlflow.js', import.meta.url));

async function start(model: ScoringModel, options: ScoringServerOptions = {}) {
  const app = createScoringServer(model, options);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base };
}

/** Pings every few ms until `work` settles; returns its answer and every ping's latency. */
async function pingWhile(
  base: string,
  work: Promise<HttpResponse[]>,
): Promise<{ answers: HttpResponse[]; pings: number[] }> {
  let done = false;
  const finished = work.finally(() => (done = true));
  const pings: number[] = [];
  while (!done) {
    const t0 = performance.now();
    const res = await send(base, 'GET', '/ping');
    expect(res.status).toBe(200);
    pings.push(performance.now() - t0);
    await new Promise((r) => setImmediate(r));
  }
  return { answers: await finished, pings };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

describe('a scoring server under large requests', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => ({ app, base } = await start(createFixtureModel())));
  afterAll(() => app.close());

  it('answers a 100,000-column CSV header (0.9 MB) with 400 or 200 promptly and keeps answering /ping meanwhile', async () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
    const csv = `${names.join(',')}\n${names.map(() => '1').join(',')}\n`;
    expect(csv.length).toBeGreaterThan(800_000);
    const t0 = performance.now();
    const { answers, pings } = await pingWhile(
      base,
      Promise.all([send(base, 'POST', '/invocations', CSV_TYPE, csv)]),
    );
    const elapsed = performance.now() - t0;
    expect([400, 200]).toContain(answers[0]!.status);
    // Today's quadratic duplicate check takes tens of seconds; the target (bench) is ≤ 100 ms.
    expect(elapsed).toBeLessThan(5_000);
    expect(Math.max(...pings)).toBeLessThan(1_000);
  }, 60_000);

  it('answers /ping while 16 large requests are being processed', async () => {
    const { app: big, base: bigBase } = await start(createFixtureModel(), {
      bodyLimitBytes: 4 * 1024 * 1024,
      maxRecords: 1_000_000,
      // Large bodies are scored in a worker thread with its own copy of the model.
      threadModel: {
        module: new URL('../pyfunc/fixtures/fixture-model.ts', import.meta.url).href,
        exportName: 'createFixtureModel',
      },
    });
    try {
      const rows = Array.from({ length: 250_000 }, (_, i) => [i + 0.5]);
      const body = JSON.stringify({ dataframe_split: { columns: ['x'], data: rows } });
      expect(body.length).toBeLessThan(4 * 1024 * 1024);
      const { answers, pings } = await pingWhile(
        bigBase,
        Promise.all(
          Array.from({ length: 16 }, () => send(bigBase, 'POST', '/invocations', JSON_TYPE, body)),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
      expect(pings.length).toBeGreaterThan(10);
      // Generous for a shared 2-core machine under jest; bench/serving-hardening.ts measures p99 ≤ 50 ms.
      expect(percentile(pings, 99)).toBeLessThan(250);
    } finally {
      await big.close();
    }
  }, 120_000);
});

describe('request limits', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(
    async () =>
      ({ app, base } = await start(createFixtureModel(), { maxRecords: 3, maxColumns: 4 })),
  );
  afterAll(() => app.close());

  it.each([
    [
      'records in dataframe_records',
      JSON_TYPE,
      '{"dataframe_records": [{"x":1},{"x":1},{"x":1},{"x":1}]}',
      /has 4 records; this server accepts at most 3 per request \(maxRecords, serve --max-records\)/,
    ],
    [
      'rows in dataframe_split',
      JSON_TYPE,
      '{"dataframe_split": {"columns": ["x"], "data": [[1],[1],[1],[1]]}}',
      /has 4 records/,
    ],
    ['values in columnar inputs', JSON_TYPE, '{"inputs": {"x": [1, 2, 3, 4]}}', /has 4 records/],
    ['CSV rows', CSV_TYPE, 'x\n1\n2\n3\n4\n', /more than 3 records/],
    [
      'columns in dataframe_split',
      JSON_TYPE,
      '{"dataframe_split": {"columns": ["x","a","b","c","d"], "data": [[1,1,1,1,1]]}}',
      /has 5 columns; this server accepts at most 4 per request \(maxColumns, serve --max-columns\)/,
    ],
    [
      'keys in a record',
      JSON_TYPE,
      '{"inputs": [{"x":1,"a":1,"b":1,"c":1,"d":1}]}',
      /has 5 columns/,
    ],
    ['CSV header names', CSV_TYPE, 'x,a,b,c,d\n1,1,1,1,1\n', /more than 4 columns/],
    [
      'params',
      JSON_TYPE,
      '{"inputs": [{"x":1}], "params": {"a":1,"b":1,"c":1,"d":1,"e":1}}',
      /has 5 params/,
    ],
  ])(
    'answers too many %s with 400 REQUEST_LIMIT_EXCEEDED naming the limit and its flag',
    async (_what, headers, body, message) => {
      const res = await send(base, 'POST', '/invocations', headers, body);
      expect(res.status).toBe(400);
      expect(res.json()).toEqual({
        error_code: 'REQUEST_LIMIT_EXCEEDED',
        message: expect.stringMatching(message),
      });
    },
  );

  it('accepts requests at the limits', async () => {
    const res = await send(
      base,
      'POST',
      '/invocations',
      CSV_TYPE,
      'x,a,b,c\n1,1,1,1\n2,1,1,1\n3,1,1,1\n',
    );
    expect([res.status, res.text]).toEqual([200, '{"predictions":[{"y":2},{"y":4},{"y":6}]}']);
  });

  it('rejects invalid limits, naming each option', () => {
    expect(() =>
      createScoringServer(createFixtureModel(), { maxRecords: 0, maxInFlight: 1.5 }),
    ).toThrow(
      /maxRecords must be a positive integer, got 0\n.*maxInFlight must be a positive integer, got 1.5/,
    );
  });
});

describe('in-flight requests per worker', () => {
  it('answers requests beyond maxInFlight with 503 and Retry-After before reading them, and serves again once slots free up', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const fixture = createFixtureModel();
    const slow: ScoringModel = {
      ...fixture,
      predict: async (records, params) => (started++, await gate, fixture.predict(records, params)),
    };
    const { app, base } = await start(slow, { maxInFlight: 2, retryAfterSeconds: 3 });
    try {
      const body = '{"inputs": [{"x": 1}]}';
      const held = [1, 2].map(() => send(base, 'POST', '/invocations', JSON_TYPE, body));
      const deadline = Date.now() + 10_000;
      while (started < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(started).toBe(2);
      const busy = await send(base, 'POST', '/invocations', JSON_TYPE, body);
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('3');
      expect(busy.json()).toEqual({
        error_code: 'TEMPORARILY_UNAVAILABLE',
        message: expect.stringContaining(
          '2 requests are already being processed by this worker (maxInFlight, serve --max-in-flight)',
        ),
      });
      expect((await send(base, 'GET', '/ping')).status).toBe(200);
      release();
      expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
      const again = await send(base, 'POST', '/invocations', JSON_TYPE, body);
      expect(again.status).toBe(200);
    } finally {
      release();
      await app.close();
    }
  }, 30_000);
});

/** Runs the CLI until it exits (or the deadline passes: then kills it and fails). */
function runCli(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, timedOut });
    });
  });
}

describe('temporal-mlflow serve', () => {
  it.each([1, 2])(
    'with %i worker(s) and a model that cannot load, exits non-zero with the error and never prints "serving"',
    async (workers) => {
      const missing = join(tmpdir(), 'tm-no-such-model');
      const port = await freePort();
      const { code, stderr, timedOut } = await runCli(
        ['serve', '-m', missing, '--workers', String(workers), '--port', String(port)],
        30_000,
      );
      expect(timedOut).toBe(false);
      expect(code).not.toBe(0);
      expect(stderr).not.toMatch(/serving/);
      expect(stderr).toMatch(/tm-no-such-model/);
      await expect(send(`http://127.0.0.1:${port}`, 'GET', '/ping')).rejects.toThrow();
    },
    40_000,
  );

  it('rejects a bad limit flag with a usage error naming the flag', async () => {
    const { code, stderr } = await runCli(['serve', '-m', 'x', '--body-limit', 'lots'], 30_000);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(
      /--body-limit must be a size such as 16mb, 512kb or a number of bytes, got 'lots'/,
    );
  }, 40_000);

  describe('with the example model', () => {
    let workDir: string;
    let base: string;
    let child: ReturnType<typeof spawn> | undefined;
    let stderr = '';
    beforeAll(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'tm-serve-cli-'));
      const { modelDir } = await packageExampleModel(workDir);
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      child = spawn(
        process.execPath,
        [
          CLI,
          'serve',
          '-m',
          modelDir,
          '--port',
          String(port),
          '--body-limit',
          '2kb',
          '--max-records',
          '2',
          '--max-columns',
          '5',
          '--max-in-flight',
          '4',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const deadline = Date.now() + 60_000;
      while (!/serving .* at http/.test(stderr)) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`serve did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }, 180_000);
    afterAll(() => {
      if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      rmSync(workDir, { recursive: true, force: true });
    });

    it('prints "serving" once it answers, and applies --body-limit, --max-records and --max-columns', async () => {
      expect((await send(base, 'GET', '/ping')).status).toBe(200);
      const record = { ticket_id: 't', subject: 'refund', body: 'I want my money back' };
      const ok = await send(
        base,
        'POST',
        '/invocations',
        JSON_TYPE,
        JSON.stringify({ inputs: [record] }),
      );
      expect(ok.status).toBe(200);
      const tooMany = await send(
        base,
        'POST',
        '/invocations',
        JSON_TYPE,
        JSON.stringify({ inputs: [record, record, record] }),
      );
      expect([tooMany.status, tooMany.json().error_code]).toEqual([400, 'REQUEST_LIMIT_EXCEEDED']);
      const wide = await send(base, 'POST', '/invocations', CSV_TYPE, 'a,b,c,d,e,f\n1,2,3,4,5,6\n');
      expect([wide.status, wide.json().error_code]).toEqual([400, 'REQUEST_LIMIT_EXCEEDED']);
      const big = await send(
        base,
        'POST',
        '/invocations',
        JSON_TYPE,
        JSON.stringify({ inputs: [{ ...record, body: 'x'.repeat(4096) }] }),
      );
      expect([big.status, big.json().error_code]).toEqual([413, 'REQUEST_LIMIT_EXCEEDED']);
      expect(big.json().message).toMatch(/limit of 2000 bytes; .*\(serve --body-limit\)/);
    });
  });
});
