/**
 * The python_function shim, proven with MLflow itself: `mlflow.pyfunc.load_model(dir).predict(df)`
 * (from 8 threads too) and `mlflow models serve --env-manager local` answering like our server.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { signatureFromMlmodel, signatureToMlmodel } from '../../src/model/signature.js';
import { createScoringServer } from '../../src/serving/index.js';
import { listen, send } from '../serving/http.js';
import { buildFixtureModel, MLFLOW, PYTHON, REPO_ROOT } from './build-fixture.js';
import { createFixtureModel } from './fixtures/fixture-model.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);
const pyEnv = {
  ...process.env,
  MLFLOW_DISABLE_TELEMETRY: 'true',
  PATH: `${dirname(PYTHON)}:${process.env.PATH ?? ''}`,
};

async function waitForPing(base: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`mlflow models serve exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/ping`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`mlflow models serve did not answer /ping within ${timeoutMs} ms`);
}

let modelDir: string;
beforeAll(async () => {
  modelDir = await buildFixtureModel();
});
afterAll(() => rmSync(modelDir, { recursive: true, force: true }));

describe('mlflow.pyfunc.load_model on a temporal-mlflow model', () => {
  it('predicts a DataFrame with params, surfaces JS errors, is safe from 8 threads and restarts a dead child', async () => {
    const { stdout } = await run(
      PYTHON,
      [join(REPO_ROOT, 'test/pyfunc/check_pyfunc.py'), modelDir],
      { env: pyEnv, timeout: 120_000 },
    );
    const results = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(results).toEqual({
      default: [2, 5, -6],
      offset: [2.5, 5.5, -5.5],
      error: expect.stringContaining('FixtureFailure: the fixture model was asked to fail'),
      threads: 64,
      after_restart: [8],
    });
  });

  it('reads the signature we write exactly as MLflow writes it', async () => {
    const ours = signatureToMlmodel(
      signatureFromMlmodel({
        inputs: JSON.stringify([
          { type: 'double', name: 'x', required: true },
          { type: 'array', items: { type: 'string' }, name: 'tags', required: false },
          {
            type: 'object',
            properties: { a: { type: 'long', required: true } },
            name: 'o',
            required: true,
          },
          { type: 'map', values: { type: 'double' }, name: 'm', required: true },
          { type: 'datetime', name: 't', required: true },
        ]),
        outputs: JSON.stringify([{ type: 'string', name: 'label', required: true }]),
        params: JSON.stringify([
          { name: 'k', default: 3, shape: null, type: 'long' },
          { name: 'w', default: [0.5], shape: [-1], type: 'double' },
        ]),
      }),
    );
    const script =
      'import json,sys\nfrom mlflow.models.signature import ModelSignature\nprint(json.dumps(ModelSignature.from_dict(json.loads(sys.argv[1])).to_dict()))';
    const { stdout } = await run(PYTHON, ['-c', script, JSON.stringify(ours)], {
      env: pyEnv,
      timeout: 60_000,
    });
    const mlflows = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string>;
    for (const key of ['inputs', 'outputs', 'params'] as const) {
      expect(JSON.parse(mlflows[key]!)).toEqual(JSON.parse(ours[key]!));
    }
  });
});

describe('mlflow models serve with the shim', () => {
  let child: ChildProcess | undefined;
  let childLog = '';
  let theirs: string;
  let app: FastifyInstance;
  let ours: string;
  beforeAll(async () => {
    const port = await freePort();
    theirs = `http://127.0.0.1:${port}`;
    child = spawn(
      MLFLOW,
      [
        'models',
        'serve',
        '-m',
        modelDir,
        '--env-manager',
        'local',
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
      ],
      {
        env: pyEnv,
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true, // its own process group: mlflow starts uvicorn as a child
      },
    );
    child.stderr?.on(
      'data',
      (c: Buffer) => (childLog = (childLog + c.toString('utf8')).slice(-4000)),
    );
    app = createScoringServer(createFixtureModel());
    ours = await listen(app);
    await waitForPing(theirs, child, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${childLog}`);
    });
  }, 120_000);
  afterAll(async () => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    await app?.close();
  });

  const bodies: [string, string, string][] = [
    [
      'dataframe_split',
      'application/json',
      '{"dataframe_split": {"columns": ["x"], "data": [[1], [2.5], [-3]]}}',
    ],
    ['dataframe_records', 'application/json', '{"dataframe_records": [{"x": 1}, {"x": 2.5}]}'],
    ['instances', 'application/json', '{"instances": [{"x": 0.1}, {"x": 0.2}]}'],
    ['inputs (records)', 'application/json', '{"inputs": [{"x": 1e10}]}'],
    ['inputs (columns)', 'application/json', '{"inputs": {"x": [1, 2, 3]}}'],
    [
      'params',
      'application/json',
      '{"dataframe_records": [{"x": 1}, {"x": 2}], "params": {"offset": 0.25}}',
    ],
    ['CSV', 'text/csv', 'x\n1\n2.5\n'],
  ];

  it.each(bodies)(
    'answers %s with the same predictions as our server',
    async (_name, contentType, body) => {
      const [a, b] = await Promise.all([
        send(theirs, 'POST', '/invocations', { 'content-type': contentType }, body),
        send(ours, 'POST', '/invocations', { 'content-type': contentType }, body),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(a.json()).toEqual(b.json());
      expect(Object.keys(a.json())).toEqual(['predictions']);
    },
  );

  it('answers a failing predict with 400 BAD_REQUEST carrying the JS error message, as our server', async () => {
    const body = '{"inputs": [{"x": 1}], "params": {"fail": true}}';
    const [a, b] = await Promise.all([
      send(theirs, 'POST', '/invocations', { 'content-type': 'application/json' }, body),
      send(ours, 'POST', '/invocations', { 'content-type': 'application/json' }, body),
    ]);
    expect([a.status, b.status]).toEqual([400, 400]);
    expect([a.json().error_code, b.json().error_code]).toEqual(['BAD_REQUEST', 'BAD_REQUEST']);
    for (const r of [a, b])
      expect(r.json().message).toContain('FixtureFailure: the fixture model was asked to fail');
  });
});
