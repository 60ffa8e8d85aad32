/**
 * Transport behaviour against a real local HTTP server that misbehaves on purpose (500s, 429s,
 * silence): retries, time limits, error mapping, auth headers.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MlflowAuthError,
  MlflowClient,
  MlflowConfigError,
  MlflowConnectionError,
  MlflowError,
  MlflowInvalidParameterError,
  MlflowResourceNotFoundError,
} from '../../src/mlflow/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void;

interface FakeServer {
  url: string;
  hits: () => number;
  headers: () => IncomingMessage['headers'][];
  close: () => Promise<void>;
}

async function fakeServer(handler: Handler): Promise<FakeServer> {
  let hits = 0;
  const headers: IncomingMessage['headers'][] = [];
  const server: Server = createServer((req, res) => {
    hits += 1;
    headers.push(req.headers);
    req.resume();
    req.on('end', () => handler(req, res, hits));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    headers: () => headers,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

const fastRetry = { maxAttempts: 4, initialDelayMs: 10, maxDelayMs: 50, totalTimeoutMs: 5000 };

describe('MLflow transport', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('5xx answers are retried until one succeeds', async () => {
    server = await fakeServer((_req, res, hit) =>
      hit < 3
        ? json(res, 503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' })
        : json(res, 200, { experiment_id: '7' }),
    );
    const client = new MlflowClient({ trackingUri: server.url, retry: fastRetry });
    await expect(client.experiments.create('e')).resolves.toBe('7');
    expect(server.hits()).toBe(3);
  });

  test('429 is retried, honouring Retry-After', async () => {
    server = await fakeServer((_req, res, hit) => {
      if (hit === 1) {
        res.writeHead(429, { 'Retry-After': '0' });
        res.end();
      } else json(res, 200, { experiment_id: '1' });
    });
    const client = new MlflowClient({ trackingUri: server.url, retry: fastRetry });
    await expect(client.experiments.create('e')).resolves.toBe('1');
    expect(server.hits()).toBe(2);
  });

  test('persistent 5xx fails after maxAttempts with the server error_code and message', async () => {
    server = await fakeServer((_req, res) =>
      json(res, 500, { error_code: 'INTERNAL_ERROR', message: 'database is locked' }),
    );
    const client = new MlflowClient({ trackingUri: server.url, retry: fastRetry });
    const error = await client.runs.get('r1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowError);
    expect(error).toMatchObject({
      errorCode: 'INTERNAL_ERROR',
      httpStatus: 500,
      endpoint: 'GET /api/2.0/mlflow/runs/get',
    });
    expect((error as Error).message).toBe(
      'MLflow INTERNAL_ERROR (HTTP 500) from GET /api/2.0/mlflow/runs/get after 4 attempts: database is locked',
    );
    expect(server.hits()).toBe(4);
  });

  test.each([
    [400, 'INVALID_PARAMETER_VALUE', MlflowInvalidParameterError],
    [404, 'RESOURCE_DOES_NOT_EXIST', MlflowResourceNotFoundError],
    [401, 'UNAUTHENTICATED', MlflowAuthError],
    [403, 'PERMISSION_DENIED', MlflowAuthError],
  ])(
    'HTTP %i (%s) is never retried and maps to its error class',
    async (status, code, errorClass) => {
      server = await fakeServer((_req, res) =>
        json(res, status, { error_code: code, message: 'nope' }),
      );
      const client = new MlflowClient({ trackingUri: server.url, retry: fastRetry });
      const error = await client.runs.get('r1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({ errorCode: code, httpStatus: status });
      expect(server.hits()).toBe(1);
    },
  );

  test('a server that never answers is cut by the total time limit', async () => {
    server = await fakeServer(() => undefined);
    const client = new MlflowClient({
      trackingUri: server.url,
      retry: { ...fastRetry, totalTimeoutMs: 1500 },
    });
    const started = Date.now();
    const error = await client.runs.get('r1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowConnectionError);
    expect(error).toMatchObject({ errorCode: 'DEADLINE_EXCEEDED', deadlineMs: 1500 });
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test('a server that trickles one byte at a time is cut by the total deadline of the call', async () => {
    const timers: NodeJS.Timeout[] = [];
    server = await fakeServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100000' });
      const timer = setInterval(() => res.write(' '), 100);
      timers.push(timer);
      res.on('close', () => clearInterval(timer));
    });
    const client = new MlflowClient({
      trackingUri: server.url,
      retry: { ...fastRetry, totalTimeoutMs: 1200 },
      requestTimeoutMs: 30_000,
    });
    const started = Date.now();
    // Today's guard against a hang: the race fails the test instead of waiting forever.
    const guard = new Promise((resolve) => {
      const t = setTimeout(() => resolve('still waiting after 8 s'), 8000);
      timers.push(t);
    });
    try {
      const error = await Promise.race([client.runs.get('r1').catch((e: unknown) => e), guard]);
      expect(error).toBeInstanceOf(MlflowConnectionError);
      expect(error).toMatchObject({
        name: 'MlflowDeadlineExceededError',
        errorCode: 'DEADLINE_EXCEEDED',
        endpoint: 'GET /api/2.0/mlflow/runs/get',
        deadlineMs: 1200,
      });
      expect((error as Error).message).toMatch(
        /^No complete answer from the MLflow tracking server at http:\/\/127\.0\.0\.1:\d+ within the 1200 ms deadline of GET \/api\/2\.0\/mlflow\/runs\/get/,
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      timers.forEach((t) => clearTimeout(t));
    }
  });

  test('a streamed download that trickles is cut by the transfer deadline with a typed error', async () => {
    const timers: NodeJS.Timeout[] = [];
    server = await fakeServer((req, res) => {
      if (req.url?.startsWith('/api/2.0/mlflow/runs/get')) {
        json(res, 200, {
          run: {
            info: { run_id: 'r1', artifact_uri: 'mlflow-artifacts:/1/r1/artifacts' },
            data: {},
          },
        });
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const timer = setInterval(() => res.write('x'), 100);
      timers.push(timer);
      res.on('close', () => clearInterval(timer));
    });
    const dir = await mkdtemp(join(tmpdir(), 'tm-http-'));
    const client = new MlflowClient({
      trackingUri: server.url,
      retry: fastRetry,
      transferTimeoutMs: 1200,
    });
    const guard = new Promise((resolve) => {
      const t = setTimeout(() => resolve('still waiting after 8 s'), 8000);
      timers.push(t);
    });
    try {
      const error = await Promise.race([
        client.artifacts
          .downloadFile('r1', 'model/big.bin', join(dir, 'big.bin'))
          .catch((e: unknown) => e),
        guard,
      ]);
      expect(error).toBeInstanceOf(MlflowError);
      expect((error as Error).message).toContain('within the 1200 ms deadline');
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      timers.forEach((t) => clearTimeout(t));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['an HTML page', 'text/html', '<html>proxy login</html>', 'GET /api/2.0/mlflow/runs/get', ''],
    ['a JSON array', 'application/json', '[1, 2]', 'GET /api/2.0/mlflow/runs/get', ''],
    ['no run', 'application/json', '{"runs": []}', 'GET /api/2.0/mlflow/runs/get', 'run'],
    [
      'a run without info',
      'application/json',
      '{"run": {"data": {}}}',
      'GET /api/2.0/mlflow/runs/get',
      'run.info',
    ],
  ])(
    'a 200 answer with %s instead of a run is a typed error naming the endpoint and the field',
    async (_what, type, text, endpoint, field) => {
      server = await fakeServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': type });
        res.end(text);
      });
      const client = new MlflowClient({ trackingUri: server.url, retry: fastRetry });
      const error = await client.runs.get('r1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MlflowError);
      expect(error).toMatchObject({
        name: 'MlflowUnexpectedResponseError',
        errorCode: 'INVALID_RESPONSE',
        httpStatus: 200,
        endpoint,
        field,
      });
      expect((error as Error).message).toContain(`from ${endpoint}`);
      expect(server.hits()).toBe(1);
    },
  );

  test.each([
    [
      'experiments.create',
      (c: MlflowClient) => c.experiments.create('e'),
      'POST /api/2.0/mlflow/experiments/create',
      'experiment_id',
    ],
    [
      'experiments.get',
      (c: MlflowClient) => c.experiments.get('1'),
      'GET /api/2.0/mlflow/experiments/get',
      'experiment',
    ],
    [
      'runs.create',
      (c: MlflowClient) => c.runs.create({ experimentId: '1' }),
      'POST /api/2.0/mlflow/runs/create',
      'run',
    ],
    [
      'runs.search',
      (c: MlflowClient) => c.runs.search({ experimentIds: ['1'] }),
      'POST /api/2.0/mlflow/runs/search',
      'runs',
    ],
    [
      'loggedModels.get',
      (c: MlflowClient) => c.loggedModels.get('m-1'),
      'GET /api/2.0/mlflow/logged-models/m-1',
      'model',
    ],
    [
      'registry.getModelVersion',
      (c: MlflowClient) => c.registry.getModelVersion('m', 1),
      'GET /api/2.0/mlflow/model-versions/get',
      'model_version',
    ],
  ])(
    '%s given a 200 answer of the wrong shape throws a typed error, not a TypeError',
    async (_name, call, endpoint, field) => {
      server = await fakeServer((_req, res) => json(res, 200, { runs: 'nope', unrelated: true }));
      const client = new MlflowClient({ trackingUri: server.url, retry: fastRetry });
      const error = await call(client).catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ name: 'MlflowUnexpectedResponseError', endpoint, field });
    },
  );

  test('a refused connection fails with MlflowConnectionError naming the URI, within the time limit', async () => {
    const client = new MlflowClient({
      trackingUri: 'http://127.0.0.1:1',
      retry: { maxAttempts: 50, initialDelayMs: 100, maxDelayMs: 400, totalTimeoutMs: 2000 },
    });
    const started = Date.now();
    const error = await client.experiments.getByName('x').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(MlflowConnectionError);
    expect(error).toMatchObject({
      trackingUri: 'http://127.0.0.1:1',
      errorCode: 'CONNECTION_ERROR',
    });
    expect((error as MlflowConnectionError).attempts).toBeGreaterThan(1);
    expect((error as Error).message).toMatch(
      /^Cannot reach the MLflow tracking server at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED.*Check MLFLOW_TRACKING_URI/,
    );
    expect(elapsed).toBeLessThan(5000);
  });

  test('Basic auth wins over the token, is sent, and never appears in errors', async () => {
    server = await fakeServer((_req, res) =>
      json(res, 401, { error_code: 'UNAUTHENTICATED', message: 'bad credentials' }),
    );
    const url = new URL(server.url);
    const client = MlflowClient.fromEnv({
      MLFLOW_TRACKING_URI: `http://bob:hunter2@${url.host}`,
      MLFLOW_TRACKING_USERNAME: 'alice',
      MLFLOW_TRACKING_PASSWORD: 'p4ssw0rd',
      MLFLOW_TRACKING_TOKEN: 'tok-123',
    });
    expect(client.trackingUri).toBe(server.url);
    const error = await client.runs.get('r').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowAuthError);
    expect(server.headers()[0]?.authorization).toBe(
      `Basic ${Buffer.from('alice:p4ssw0rd').toString('base64')}`,
    );
    const text = `${(error as Error).message} ${String((error as Error).cause)} ${JSON.stringify(error)}`;
    for (const secret of [
      'p4ssw0rd',
      'tok-123',
      'hunter2',
      Buffer.from('alice:p4ssw0rd').toString('base64'),
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  test('a bearer token is sent when no username is set', async () => {
    server = await fakeServer((_req, res) => json(res, 200, { experiment_id: '1' }));
    await MlflowClient.fromEnv({
      MLFLOW_TRACKING_URI: server.url,
      MLFLOW_TRACKING_TOKEN: 'tok-123',
    }).experiments.create('e');
    expect(server.headers()[0]?.authorization).toBe('Bearer tok-123');
  });

  test('fromEnv without MLFLOW_TRACKING_URI says what to set', () => {
    expect(() => MlflowClient.fromEnv({})).toThrow(MlflowConfigError);
    expect(() => MlflowClient.fromEnv({})).toThrow(/MLFLOW_TRACKING_URI is not set/);
  });

  test.each([['mlruns'], ['file:///tmp/mlruns'], ['databricks']])(
    "the tracking URI '%s' is refused",
    (uri) => {
      expect(() => new MlflowClient({ trackingUri: uri })).toThrow(/http/);
    },
  );

  test('a non-JSON error page still surfaces status and text', async () => {
    server = await fakeServer((_req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      res.end('Invalid Host header');
    });
    const error = await new MlflowClient({ trackingUri: server.url, retry: fastRetry }).runs
      .get('r')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MlflowAuthError);
    expect((error as Error).message).toContain(
      'PERMISSION_DENIED (HTTP 403) from GET /api/2.0/mlflow/runs/get: Invalid Host header',
    );
  });
});
