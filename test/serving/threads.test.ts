/**
 * Large requests scored in worker threads (issue 13): the same answers as on the event loop, the
 * event loop free meanwhile (a health check is answered while a thread is busy), a fallback to the
 * event loop when no thread can load the model, the in-flight body budget, and an over-limit body
 * answered 413 rather than reset.
 */
import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { createScoringServer } from '../../src/serving/index.js';
import type { ScoringModel, ScoringServerOptions } from '../../src/serving/index.js';
import { createFixtureModel } from '../pyfunc/fixtures/fixture-model.js';
import { send } from './http.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const FIXTURE_MODULE = new URL('../pyfunc/fixtures/fixture-model.ts', import.meta.url).href;
const THREAD_MODELS = new URL('./fixtures/thread-models.ts', import.meta.url).href;

/** A fixture model that counts the predict calls made on the event loop. */
function countedFixture(): { model: ScoringModel; calls: () => number } {
  const fixture = createFixtureModel();
  let calls = 0;
  return {
    model: {
      ...fixture,
      predict: (records, params) => (calls++, fixture.predict(records, params)),
    },
    calls: () => calls,
  };
}

async function start(model: ScoringModel, options: ScoringServerOptions) {
  const app = createScoringServer(model, options);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base };
}

/** Bodies of every format, valid and not, large enough (≥ 1 KiB) to go to a thread. */
function bodies(): { type: string; body: string }[] {
  const rows = Array.from({ length: 200 }, (_, i) => i + 0.5);
  const json = (value: unknown) => ({ type: 'application/json', body: JSON.stringify(value) });
  return [
    json({ dataframe_split: { columns: ['x'], data: rows.map((x) => [x]) } }),
    json({ dataframe_records: rows.map((x) => ({ x })), params: { offset: 1 } }),
    json({ inputs: { x: rows }, params: { offset: 2, unknown: true } }),
    json({ instances: rows.map((x) => ({ x: String(x) })) }),
    json({ dataframe_records: rows.map((x) => ({ x: x > 100 ? 'abc' : x })) }),
    json({ inputs: rows.map((x) => ({ x })), params: { fail: true } }),
    { type: 'text/csv', body: `x\n${rows.join('\n')}\n` },
    { type: 'application/json', body: `{"inputs": [${rows.join(',')}` },
  ];
}

describe('large requests in worker threads', () => {
  let threaded: { app: FastifyInstance; base: string };
  let onLoop: { app: FastifyInstance; base: string };
  const counted = countedFixture();
  beforeAll(async () => {
    threaded = await start(counted.model, {
      threads: 1,
      threadThresholdBytes: 1024,
      threadModel: { module: FIXTURE_MODULE, exportName: 'createFixtureModel' },
    });
    onLoop = await start(createFixtureModel(), { threads: 0 });
  }, 60_000);
  afterAll(async () => {
    await threaded?.app.close();
    await onLoop?.app.close();
  });

  it('answers every format, and every error, as the event loop does, without calling the server’s own model', async () => {
    for (const { type, body } of bodies()) {
      const [a, b] = await Promise.all([
        send(threaded.base, 'POST', '/invocations', { 'content-type': type }, body),
        send(onLoop.base, 'POST', '/invocations', { 'content-type': type }, body),
      ]);
      expect({ status: a.status, text: a.text }).toEqual({ status: b.status, text: b.text });
    }
    expect(counted.calls()).toBe(0);
    // A small body stays on the event loop.
    const small = await send(threaded.base, 'POST', '/invocations', JSON_TYPE, '{"inputs": [1]}');
    expect(small.json()).toEqual({ predictions: [{ y: 2 }] });
    expect(counted.calls()).toBe(1);
  }, 60_000);
});

describe('the event loop while a thread is busy', () => {
  it('answers /ping before a large request whose model holds its thread', async () => {
    const { app, base } = await start(createFixtureModel(), {
      threads: 1,
      threadThresholdBytes: 16,
      threadModel: { module: THREAD_MODELS, exportName: 'busyModel', args: [1500] },
    });
    try {
      const order: string[] = [];
      const large = send(base, 'POST', '/invocations', JSON_TYPE, '{"inputs": [1, 2, 3, 4]}').then(
        (res) => (order.push('invocations'), res),
      );
      // The request has reached its thread once the body is read; ping after a first answer.
      await send(base, 'GET', '/ping');
      const ping = await send(base, 'GET', '/ping');
      order.push('ping');
      expect(ping.status).toBe(200);
      expect((await large).json()).toEqual({
        predictions: [{ y: 2 }, { y: 4 }, { y: 6 }, { y: 8 }],
      });
      expect(order).toEqual(['ping', 'invocations']);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('scores on the event loop when no thread can load the model', async () => {
    const { app, base } = await start(createFixtureModel(), {
      threads: 1,
      threadThresholdBytes: 16,
      threadModel: { module: THREAD_MODELS, exportName: 'failingLoad' },
    });
    try {
      const res = await send(base, 'POST', '/invocations', JSON_TYPE, '{"inputs": [1, 2, 3, 4]}');
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ predictions: [{ y: 2 }, { y: 4 }, { y: 6 }, { y: 8 }] });
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe('request bodies held at once', () => {
  it('answers 503 when a request would pass maxInFlightBytes with those already held', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const fixture = createFixtureModel();
    const slow: ScoringModel = {
      ...fixture,
      predict: async (records, params) => (started++, await gate, fixture.predict(records, params)),
    };
    const { app, base } = await start(slow, { threads: 0, maxInFlightBytes: 1000 });
    try {
      const held = send(
        base,
        'POST',
        '/invocations',
        JSON_TYPE,
        `{"inputs": [1]}${' '.repeat(600)}`,
      );
      const deadline = Date.now() + 10_000;
      while (started < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(started).toBe(1);
      const busy = await send(
        base,
        'POST',
        '/invocations',
        JSON_TYPE,
        `{"inputs": [1]}${' '.repeat(600)}`,
      );
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('1');
      expect(busy.json().message).toContain('maxInFlightBytes, serve --max-in-flight-bytes');
      // A small one still fits beside the held body.
      const fits = send(base, 'POST', '/invocations', JSON_TYPE, '{"inputs": [2]}');
      release();
      expect((await held).status).toBe(200);
      expect((await fits).status).toBe(200);
    } finally {
      release();
      await app.close();
    }
  }, 30_000);

  it('answers a body over the limit with 413 while the client is still sending it, not a reset', async () => {
    const { app, base } = await start(createFixtureModel(), {
      threads: 0,
      bodyLimitBytes: 64 * 1024,
    });
    try {
      const body = Buffer.alloc(8 * 1024 * 1024, 0x20);
      for (const headers of [{ 'content-length': String(body.length) }, {}]) {
        const status = await new Promise<number | string>((resolve) => {
          const req = request(
            `${base}/invocations`,
            { method: 'POST', headers: { ...JSON_TYPE, ...headers } },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', (error) => resolve(error.message));
          // Written in pieces, as a client streaming a large file does.
          let offset = 0;
          const write = () => {
            while (offset < body.length) {
              const more = req.write(body.subarray(offset, (offset += 256 * 1024)));
              if (!more) return void req.once('drain', write);
            }
            req.end();
          };
          write();
        });
        expect(status).toBe(413);
      }
    } finally {
      await app.close();
    }
  }, 30_000);
});
