/**
 * The example's real packaged model gives the same predictions everywhere people use MLflow models:
 * `model.predict`, our scoring server, `mlflow models serve` (python_function shim) and
 * `mlflow.pyfunc.load_model` from Python.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { loadModel } from '../../src/model/load-model.js';
import { createScoringServer } from '../../src/serving/index.js';
import { listen, send } from '../serving/http.js';
import { packageExampleModel } from '../support/example-model.js';
import { MLFLOW, PYTHON } from './build-fixture.js';

const run = promisify(execFile);
const pyEnv = {
  ...process.env,
  MLFLOW_DISABLE_TELEMETRY: 'true',
  PATH: `${dirname(PYTHON)}:${process.env.PATH ?? ''}`,
};

const PYFUNC_PREDICT = `
import json, sys
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
records = json.loads(sys.stdin.read())
out = model.predict(pd.DataFrame(records), params={"min_confidence": 0.9})
print(json.dumps(out.to_dict(orient="records") if hasattr(out, "to_dict") else out))
`;
import { freePort } from '../support/ports.js';

let modelDir: string;
let records: Record<string, unknown>[];
let children: ChildProcess[] = [];

beforeAll(async () => {
  modelDir = mkdtempSync(join(tmpdir(), 'tm-example-model-'));
  const example = await packageExampleModel(modelDir);
  modelDir = example.modelDir;
  records = (example.tickets as unknown as Record<string, unknown>[]).slice(0, 200);
}, 120_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(modelDir, { recursive: true, force: true });
});

describe("the example's packaged model", () => {
  it('predicts the same with model.predict, our server, mlflow models serve and mlflow.pyfunc', async () => {
    const model = await loadModel(modelDir);
    const expected = await model.predict(records, { min_confidence: 0.9 });
    const body = JSON.stringify({ dataframe_records: records, params: { min_confidence: 0.9 } });

    const app = createScoringServer(model);
    const ours = await send(
      await listen(app),
      'POST',
      '/invocations',
      { 'content-type': 'application/json' },
      body,
    );
    await app.close();
    expect(ours.status).toBe(200);
    expect(ours.json().predictions).toEqual(expected);

    const port = await freePort();
    const serve = spawn(
      MLFLOW,
      [
        'models',
        'serve',
        '-m',
        modelDir,
        '--env-manager',
        'local',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ],
      {
        env: pyEnv,
        stdio: 'ignore',
      },
    );
    children.push(serve);
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 240; i++) {
      const up = await fetch(`${base}/ping`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const theirs = await send(
      base,
      'POST',
      '/invocations',
      { 'content-type': 'application/json' },
      body,
    );
    expect(theirs.status).toBe(200);
    expect(theirs.json().predictions).toEqual(expected);
    serve.kill('SIGTERM');
    children = children.filter((child) => child !== serve);

    const python = run(PYTHON, ['-c', PYFUNC_PREDICT, modelDir], { env: pyEnv, timeout: 120_000 });
    python.child.stdin!.end(JSON.stringify(records));
    const { stdout } = await python;
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(expected);
    // The threshold really applied: some answers are flagged for review, some are not.
    const flags = (expected as { needs_review: boolean }[]).map((answer) => answer.needs_review);
    expect(new Set(flags).size).toBe(2);
  }, 180_000);
});
