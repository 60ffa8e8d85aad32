/**
 * Drop-in for MLflow's scoring server (issue 13): every request `mlflow models serve` accepts, ours
 * accepts by default with the same status and body shape, and the reverse for an empty record list.
 * Each case is sent to both servers — MLflow's, on the drop-in model through the python_function
 * shim, and ours on the same model — in the same test; the strict server refuses what MLflow
 * tolerates.
 */
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { createScoringServer } from '../../src/serving/index.js';
import { createDropInModel } from './fixtures/dropin-model.js';
import { send } from './http.js';
import type { HttpResponse } from './http.js';
import { buildDropInModel, startMlflowServe } from './mlflow-reference.js';
import type { MlflowServer } from './mlflow-reference.js';

const JSON_TYPE = 'application/json';
const CSV_TYPE = 'text/csv';

let modelDir: string;
let mlflow: MlflowServer;
let ours: FastifyInstance;
let oursUrl: string;
let strict: FastifyInstance;
let strictUrl: string;

beforeAll(async () => {
  modelDir = await buildDropInModel();
  ours = createScoringServer(createDropInModel());
  oursUrl = await ours.listen({ host: '127.0.0.1', port: 0 });
  strict = createScoringServer(createDropInModel(), { strict: true });
  strictUrl = await strict.listen({ host: '127.0.0.1', port: 0 });
  mlflow = await startMlflowServe(modelDir);
}, 150_000);

afterAll(async () => {
  await mlflow?.stop();
  await ours?.close();
  await strict?.close();
  rmSync(modelDir, { recursive: true, force: true });
});

/** The same request to MLflow's server, ours and ours with `strict`. */
async function both(
  contentType: string,
  body: string,
): Promise<{ theirs: HttpResponse; mine: HttpResponse; strictly: HttpResponse }> {
  const headers = { 'content-type': contentType };
  const [theirs, mine, strictly] = await Promise.all(
    [mlflow.url, oursUrl, strictUrl].map((base) =>
      send(base, 'POST', '/invocations', headers, body),
    ),
  );
  return { theirs: theirs!, mine: mine!, strictly: strictly! };
}

/** Same keys at every level (values may differ), as a client written against MLflow reads them. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shape(v)]),
    );
  return typeof value;
}

describe('where mlflow models serve accepts a request, temporal-mlflow serve does too', () => {
  it.each([
    [
      'an unknown param (ignored with a warning)',
      JSON_TYPE,
      '{"dataframe_records": [{"x": 1, "s": "a"}], "params": {"temperature": 0.2}}',
      [{ y: 2, s: 'a', n: null }],
      400,
    ],
    [
      'null in a required double column',
      JSON_TYPE,
      '{"dataframe_records": [{"x": null, "s": "a"}, {"x": 2, "s": "b"}]}',
      [
        { y: null, s: 'a', n: null },
        { y: 4, s: 'b', n: null },
      ],
      400,
    ],
    [
      'null in a required string column',
      JSON_TYPE,
      '{"dataframe_split": {"columns": ["x", "s"], "data": [[1, null]]}}',
      [{ y: 2, s: null, n: null }],
      400,
    ],
    [
      'a numeric string for a double column (converted)',
      JSON_TYPE,
      '{"inputs": [{"x": "1.5", "s": "a"}]}',
      [{ y: 3, s: 'a', n: null }],
      400,
    ],
    [
      'an unknown key next to the format key (ignored)',
      JSON_TYPE,
      '{"dataframe_records": [{"x": 1, "s": "a"}], "extra": true}',
      [{ y: 2, s: 'a', n: null }],
      400,
    ],
    [
      'a number for a string column in CSV',
      CSV_TYPE,
      'x,s\n1,42\n',
      [{ y: 2, s: '42', n: null }],
      200,
    ],
    ['an empty cell in CSV', CSV_TYPE, 'x,s\n,a\n', [{ y: null, s: 'a', n: null }], 400],
    [
      'a repeated CSV header name (renamed x.1, ignored)',
      CSV_TYPE,
      'x,x,s\n1,2,a\n',
      [{ y: 2, s: 'a', n: null }],
      400,
    ],
    [
      'dataframe_split with columns and no rows',
      JSON_TYPE,
      '{"dataframe_split": {"columns": ["x", "s"], "data": []}}',
      [],
      200,
    ],
  ])(
    '%s: 200 with the same predictions from both',
    async (_case, type, body, expected, strictStatus) => {
      const { theirs, mine, strictly } = await both(type, body);
      expect([theirs.status, mine.status]).toEqual([200, 200]);
      expect(theirs.json()).toEqual({ predictions: expected });
      expect(mine.json()).toEqual({ predictions: expected });
      expect(strictly.status).toBe(strictStatus);
    },
  );

  it('a number for a string column: 200 from both, ours giving the model "42" as the schema says', async () => {
    const { theirs, mine, strictly } = await both(
      JSON_TYPE,
      '{"dataframe_records": [{"x": 1, "s": 42}]}',
    );
    expect([theirs.status, mine.status]).toEqual([200, 200]);
    expect(shape(mine.json())).toEqual(shape({ predictions: [{ y: 2, s: '', n: null }] }));
    expect(mine.json()).toEqual({ predictions: [{ y: 2, s: '42', n: null }] });
    // MLflow 3.17 hands the JSON number through to the model unchanged (its CSV path converts it).
    expect(theirs.json()).toEqual({ predictions: [{ y: 2, s: expect.anything(), n: null }] });
    expect(String((theirs.json().predictions as { s: unknown }[])[0]!.s)).toBe('42');
    expect([strictly.status, strictly.json().error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(strictly.json().message).toMatch(
      /expected string, received integer 42 → at row 0, column 's'/,
    );
  });
});

describe('where mlflow models serve refuses a request, so does temporal-mlflow serve', () => {
  it.each([
    ['an empty dataframe_records list', '{"dataframe_records": []}'],
    ['an empty inputs list', '{"inputs": []}'],
    ['an empty instances list', '{"instances": []}'],
    ['a missing required column', '{"dataframe_records": [{"x": 1}]}'],
    [
      'a param of the wrong type',
      '{"dataframe_records": [{"x": 1, "s": "a"}], "params": {"offset": "high"}}',
    ],
  ])('%s: 400 INVALID_PARAMETER_VALUE from both, with the same body shape', async (_case, body) => {
    const { theirs, mine, strictly } = await both(JSON_TYPE, body);
    expect([theirs.status, mine.status, strictly.status]).toEqual([400, 400, 400]);
    for (const res of [theirs, mine, strictly])
      expect(res.json()).toMatchObject({
        error_code: 'INVALID_PARAMETER_VALUE',
        message: expect.any(String),
      });
  });

  it('names the missing columns of an empty record list', async () => {
    const { mine } = await both(JSON_TYPE, '{"inputs": []}');
    expect(mine.json().message).toMatch(
      /missing required column 'x' \(double\): the request has no records[\s\S]*missing required column 's' \(string\)/,
    );
  });
});
