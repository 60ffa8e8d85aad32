import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { createScoringServer, PACKAGE_VERSION, serveModel } from '../../src/serving/index.js';
import type { ScoringModel } from '../../src/serving/index.js';
import { createFixtureModel } from '../pyfunc/fixtures/fixture-model.js';
import { listen, send } from './http.js';

const json = { 'content-type': 'application/json' };

describe('the scoring server', () => {
  let app: FastifyInstance;
  let base: string;
  const seen: { records: unknown; params: unknown }[] = [];
  beforeAll(async () => {
    const fixture = createFixtureModel();
    const model: ScoringModel = {
      ...fixture,
      predict: (records, params) => (
        seen.push({ records, params }),
        fixture.predict(records, params)
      ),
    };
    app = createScoringServer(model);
    base = await listen(app);
  });
  afterAll(() => app.close());

  const invoke = async (payload: string, headers: Record<string, string> = json) => {
    const res = await send(base, 'POST', '/invocations', headers, payload);
    return { status: res.status, body: res.json() };
  };

  it.each([
    ['dataframe_split', { dataframe_split: { columns: ['x'], data: [[1], [2.5]] } }],
    [
      'dataframe_split with an index',
      { dataframe_split: { index: [7, 8], columns: ['x'], data: [[1], [2.5]] } },
    ],
    ['dataframe_records', { dataframe_records: [{ x: 1 }, { x: 2.5 }] }],
    ['instances as records', { instances: [{ x: 1 }, { x: 2.5 }] }],
    ['instances as columns', { instances: { x: [1, 2.5] } }],
    ['inputs as records', { inputs: [{ x: 1 }, { x: 2.5 }] }],
    ['inputs as columns', { inputs: { x: [1, 2.5] } }],
    ['inputs as a list of values for a single-input model', { inputs: [1, 2.5] }],
  ])('answers %s with {"predictions": [...]}', async (_name, body) => {
    expect(await invoke(JSON.stringify(body))).toEqual({
      status: 200,
      body: { predictions: [{ y: 2 }, { y: 5 }] },
    });
  });

  it('answers a single record given as {column: value} under inputs', async () => {
    expect(await invoke('{"inputs": {"x": 3}}')).toEqual({
      status: 200,
      body: { predictions: [{ y: 6 }] },
    });
  });

  it('passes params merged over the signature defaults', async () => {
    seen.length = 0;
    expect(await invoke('{"dataframe_records": [{"x": 1}], "params": {"offset": 0.5}}')).toEqual({
      status: 200,
      body: { predictions: [{ y: 2.5 }] },
    });
    expect(seen[0]?.params).toEqual({ offset: 0.5, fail: false });
  });

  it('passes the signature defaults when no params are given and drops columns the signature does not know', async () => {
    seen.length = 0;
    await invoke('{"dataframe_records": [{"x": 1, "comment": "ignored"}]}');
    expect(seen[0]).toEqual({ records: [{ x: 1 }], params: { offset: 0, fail: false } });
  });

  it('reads text/csv with a header row, typing cells by the signature', async () => {
    expect(await invoke('x\n1\n2.5\n', { 'content-type': 'text/csv' })).toEqual({
      status: 200,
      body: { predictions: [{ y: 2 }, { y: 5 }] },
    });
    expect(
      await invoke('"x"\r\n"1"\r\n2.5', { 'content-type': 'text/csv; charset=utf-8' }),
    ).toEqual({ status: 200, body: { predictions: [{ y: 2 }, { y: 5 }] } });
  });

  it('accepts a Content-Type with a charset parameter in any case', async () => {
    expect(
      (
        await invoke('{"inputs": [{"x": 1}]}', {
          'content-type': 'Application/JSON; charset=UTF-8',
        })
      ).status,
    ).toBe(200);
  });

  it('answers GET /ping and /health with 200 and a newline, as MLflow', async () => {
    for (const url of ['/ping', '/health']) {
      const res = await send(base, 'GET', url);
      expect([res.status, res.text]).toEqual([200, '\n']);
    }
  });

  it('answers GET /version with the package and flavor versions', async () => {
    const res = await send(base, 'GET', '/version');
    expect(res.json()).toEqual({
      version: PACKAGE_VERSION,
      flavor_version: '0.1.0',
      model_id: 'm-fixture',
    });
    expect(PACKAGE_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('answers an unknown route with 404 ENDPOINT_NOT_FOUND listing the routes', async () => {
    const res = await send(base, 'GET', '/predict');
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({
      error_code: 'ENDPOINT_NOT_FOUND',
      message: expect.stringContaining('POST /invocations'),
    });
  });

  it('answers a model error as MLflow does: 400 BAD_REQUEST with the error', async () => {
    const res = await invoke('{"inputs": [{"x": 1}], "params": {"fail": true}}');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error_code: 'BAD_REQUEST',
      message: expect.stringContaining('FixtureFailure: the fixture model was asked to fail'),
    });
  });

  it('returns a multi-output prediction object as is', async () => {
    const multi = createScoringServer({
      metadata: { flavorVersion: '0.1.0' },
      predict: (records) =>
        Promise.resolve({ labels: records.map(() => 'a'), scores: records.map(() => 0.5) }),
    });
    const res = await send(
      await listen(multi),
      'POST',
      '/invocations',
      json,
      '{"inputs": [{"q": 1}]}',
    );
    expect(res.json()).toEqual({ predictions: { labels: ['a'], scores: [0.5] } });
    await multi.close();
  });
});

describe("the scoring server's log", () => {
  const model: ScoringModel = {
    metadata: { flavorVersion: '0.1.0' },
    predict: (records) => Promise.resolve(records.map(() => 1)),
  };
  /** A server logging at `level` into `lines` (one parsed pino line each). */
  const logged = async (level: string) => {
    const lines: Record<string, unknown>[] = [];
    const app = createScoringServer(model, {
      logger: { level, stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
      threads: 0,
    });
    return { app, base: await listen(app), lines };
  };
  const perRequest = (lines: Record<string, unknown>[]) => lines.filter((l) => 'reqId' in l);

  it('writes no line for a request that succeeds at info, and a warning with its reqId for one that warns', async () => {
    const { app, base, lines } = await logged('info');
    await send(base, 'POST', '/invocations', json, '{"inputs": [{"x": 1}]}');
    expect(perRequest(lines)).toEqual([]);
    const res = await send(base, 'POST', '/invocations', json, '{"inputs": [{"x": 1}], "odd": 1}');
    expect(res.status).toBe(200);
    expect(perRequest(lines)).toEqual([
      expect.objectContaining({
        level: 40,
        reqId: expect.any(String),
        msg: expect.stringContaining("Unknown key 'odd'"),
      }),
    ]);
    await app.close();
  });

  it('writes one line per request, with its reqId, method, url and status, at debug', async () => {
    const { app, base, lines } = await logged('debug');
    await send(base, 'POST', '/invocations', json, '{"inputs": [{"x": 1}]}');
    await send(base, 'GET', '/ping');
    const requests = perRequest(lines);
    expect(requests).toEqual([
      expect.objectContaining({ level: 20, method: 'POST', url: '/invocations', status: 200 }),
      expect.objectContaining({ level: 20, method: 'GET', url: '/ping', status: 200 }),
    ]);
    expect(new Set(requests.map((l) => l.reqId)).size).toBe(2);
    await app.close();
  });
});

describe('serveModel', () => {
  function post(url: string, body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${url}/invocations`, { method: 'POST', headers: json }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('listens on a real socket and finishes in-flight requests when closed', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: ScoringModel = {
      ...createFixtureModel(),
      predict: async (records) => (await gate, records.map((r) => ({ y: (r.x as number) * 2 }))),
    };
    const handle = await serveModel(slow, { port: 0, logger: false, handleSignals: false });
    expect(handle.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ping = await fetch(`${handle.url}/ping`);
    expect(ping.status).toBe(200);

    const inFlight = post(handle.url, '{"dataframe_split": {"columns": ["x"], "data": [[21]]}}');
    await new Promise((r) => setTimeout(r, 50));
    const closed = handle.close();
    release();
    expect(await inFlight).toEqual({ status: 200, body: '{"predictions":[{"y":42}]}' });
    await closed;
    await expect(fetch(`${handle.url}/ping`)).rejects.toThrow();
  });

  it('rejects invalid options with a message naming the option', async () => {
    await expect(serveModel(createFixtureModel(), { workers: 0 })).rejects.toThrow(
      'workers must be an integer ≥ 1, got 0',
    );
    await expect(serveModel(createFixtureModel(), { port: 70_000 })).rejects.toThrow(
      'port must be an integer in 0..65535, got 70000',
    );
  });
});
