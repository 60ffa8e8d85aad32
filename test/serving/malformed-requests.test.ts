import type { FastifyInstance } from 'fastify';
import { createScoringServer } from '../../src/serving/index.js';
import { createFixtureModel } from '../pyfunc/fixtures/fixture-model.js';
import { listen, send } from './http.js';

const BODY_LIMIT = 64 * 1024;
const JSON_TYPE = 'application/json';
const CSV_TYPE = 'text/csv';

interface Case {
  name: string;
  contentType?: string;
  body?: string;
  status: number;
  code: string;
  message: RegExp;
}

const rows = (n: number) =>
  JSON.stringify({ dataframe_records: Array.from({ length: n }, (_, i) => ({ x: i })) });

const cases: Case[] = [
  {
    name: 'bad JSON',
    body: '{"inputs": [',
    status: 400,
    code: 'BAD_REQUEST',
    message: /^Invalid JSON in the request body/,
  },
  {
    name: 'a JSON list instead of an object',
    body: '[{"x": 1}]',
    status: 400,
    code: 'BAD_REQUEST',
    message: /exactly one of the input fields .*; received a list/,
  },
  {
    name: 'a JSON scalar',
    body: '42',
    status: 400,
    code: 'BAD_REQUEST',
    message: /received a number/,
  },
  {
    name: 'no format key',
    body: '{"params": {"offset": 1}}',
    status: 400,
    code: 'BAD_REQUEST',
    message:
      /exactly one of the input fields 'dataframe_split', 'dataframe_records', 'instances', 'inputs'; received none/,
  },
  {
    name: 'an empty object',
    body: '{}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /received none/,
  },
  {
    name: 'two format keys',
    body: '{"instances": [{"x": 1}], "inputs": [{"x": 1}]}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /received 'instances' and 'inputs'/,
  },
  {
    name: 'an unknown key next to a format key',
    body: '{"inputs": [{"x": 1}], "extra": 1}',
    status: 400,
    code: 'BAD_REQUEST',
    message:
      /Unknown key 'extra' in the request body; expected exactly one of .* and optionally 'params'/,
  },
  {
    name: 'an unknown format key (MLflow 1 style)',
    body: '{"columns": ["x"], "data": [[1]]}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /Unknown keys 'columns', 'data'/,
  },
  {
    name: 'dataframe_split that is a list',
    body: '{"dataframe_split": [[1]]}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'dataframe_split' must be an object .*; received a list/,
  },
  {
    name: 'dataframe_split without data',
    body: '{"dataframe_split": {"columns": ["x"]}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /must have a 'data' key .*; found no 'data' key/,
  },
  {
    name: 'dataframe_split with an unexpected key',
    body: '{"dataframe_split": {"columns": ["x"], "data": [[1]], "rows": 1}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /found unexpected key 'rows'/,
  },
  {
    name: 'dataframe_split with a row of the wrong length',
    body: '{"dataframe_split": {"columns": ["x"], "data": [[1], [2, 3]]}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'dataframe_split.data' row 1 has 2 values but there are 1 columns \('x'\)/,
  },
  {
    name: 'dataframe_split with an index of the wrong length',
    body: '{"dataframe_split": {"index": [0], "columns": ["x"], "data": [[1], [2]]}}',
    status: 400,
    code: 'BAD_REQUEST',
    message:
      /'dataframe_split.index' must be a list with one entry per row \(2\); received 1 entries/,
  },
  {
    name: 'dataframe_records that is an object',
    body: '{"dataframe_records": {"x": [1]}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'dataframe_records' must be a list of records .*; received an object/,
  },
  {
    name: 'dataframe_records with a non-record item',
    body: '{"dataframe_records": [{"x": 1}, [2]]}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'dataframe_records' must be a list of records; item 1 is a list, not an object/,
  },
  {
    name: 'inputs that is a string',
    body: '{"inputs": "x=1"}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'inputs' must be a list of records or an object .*; received a string/,
  },
  {
    name: 'columnar inputs of different lengths',
    body: '{"inputs": {"x": [1, 2], "z": [1]}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /column 'x' has 2 values, column 'z' has 1/,
  },
  {
    name: 'columnar inputs mixing lists and values',
    body: '{"instances": {"x": [1, 2], "z": 1}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'instances' mixes columns given as lists and single values \(column 'z'\)/,
  },
  {
    name: 'wrong columns',
    body: '{"inputs": [{"z": 1}]}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message:
      /missing required column 'x' \(double\) in the row\nThe model's inputs are 'x' \(double\); other columns are ignored/,
  },
  {
    name: 'a wrong type in one row',
    body: '{"dataframe_records": [{"x": 1}, {"x": "a"}]}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message: /expected double, received string "a" → at row 1, column 'x'/,
  },
  {
    name: 'null in a required column',
    body: '{"dataframe_split": {"columns": ["x"], "data": [[null]]}}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message: /column 'x' is required but is null at row 0/,
  },
  {
    name: 'several wrong types (all listed)',
    body: '{"inputs": {"x": ["a", true, 3]}}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message: /\(2 problems\)[\s\S]*row 0, column 'x'[\s\S]*received boolean → at row 1/,
  },
  {
    name: 'unknown params',
    body: '{"inputs": [{"x": 1}], "params": {"ofset": 1}}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message: /unknown param 'ofset' \(known params: 'fail', 'offset'\)/,
  },
  {
    name: 'a param of the wrong type',
    body: '{"inputs": [{"x": 1}], "params": {"offset": "1"}}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message: /param 'offset' expects double, received string "1"/,
  },
  {
    name: 'params that are not an object',
    body: '{"inputs": [{"x": 1}], "params": [1]}',
    status: 400,
    code: 'INVALID_PARAMETER_VALUE',
    message: /'params' must be an object of param name to value; received a list/,
  },
  {
    name: 'a missing body',
    status: 400,
    code: 'BAD_REQUEST',
    message: /Request body is empty; expected a JSON object/,
  },
  {
    name: 'an empty body',
    body: '',
    status: 400,
    code: 'BAD_REQUEST',
    message: /Request body is empty/,
  },
  {
    name: 'a body over the limit',
    body: rows(10_000),
    status: 413,
    code: 'REQUEST_LIMIT_EXCEEDED',
    message: /larger than the server's limit of 65536 bytes/,
  },
  {
    name: 'an unsupported content type',
    contentType: 'text/plain',
    body: 'x=1',
    status: 415,
    code: 'BAD_REQUEST',
    message:
      /Unsupported Content-Type 'text\/plain'; supported content types: application\/json, text\/csv/,
  },
  {
    name: 'no content type',
    contentType: '',
    body: '{"inputs": [{"x": 1}]}',
    status: 415,
    code: 'BAD_REQUEST',
    message: /Missing Content-Type header/,
  },
  {
    name: 'a charset other than UTF-8',
    contentType: 'application/json; charset=latin-1',
    body: '{}',
    status: 415,
    code: 'BAD_REQUEST',
    message: /only supports UTF-8; got charset 'latin-1'/,
  },
  {
    name: 'an unknown content type parameter',
    contentType: 'application/json; boundary=x',
    body: '{}',
    status: 415,
    code: 'BAD_REQUEST',
    message: /Unrecognized content type parameter 'boundary'/,
  },
  {
    name: 'CSV with an empty header name',
    contentType: CSV_TYPE,
    body: 'x,\n1,2\n',
    status: 400,
    code: 'BAD_REQUEST',
    message: /CSV header has an empty column name at position 1/,
  },
  {
    name: 'CSV with a duplicate header name',
    contentType: CSV_TYPE,
    body: 'x,x\n1,2\n',
    status: 400,
    code: 'BAD_REQUEST',
    message: /CSV header has the column 'x' twice/,
  },
  {
    name: 'CSV with a row of the wrong length',
    contentType: CSV_TYPE,
    body: 'x\n1\n2,3\n',
    status: 400,
    code: 'BAD_REQUEST',
    message: /CSV row 1 has 2 values but the header has 1 columns \(x\)/,
  },
  {
    name: 'CSV with a non-number in a double column',
    contentType: CSV_TYPE,
    body: 'x\n1\nabc\n',
    status: 400,
    code: 'BAD_REQUEST',
    message: /column 'x' expects double, row 1 has "abc"/,
  },
  {
    name: 'CSV with an unclosed quote',
    contentType: CSV_TYPE,
    body: 'x\n"1\n',
    status: 400,
    code: 'BAD_REQUEST',
    message: /^Failed to parse the CSV body: .*[Qq]uote/,
  },
  {
    name: 'an empty CSV body',
    contentType: CSV_TYPE,
    body: '',
    status: 400,
    code: 'BAD_REQUEST',
    message: /Request body is empty; expected CSV with a header row/,
  },
  {
    name: 'a __proto__ key (prototype poisoning)',
    body: '{"dataframe_records": [{"x": 1, "__proto__": {"polluted": true}}]}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /forbidden prototype property/,
  },
  {
    name: 'a __proto__ key written with escapes',
    body: '{"inputs": {"\\u005f_pro\\u0074o__": {"x": 1}}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /forbidden prototype property/,
  },
  {
    name: 'a __proto__ key at the end of a body parsed in pieces',
    body: `${rows(4000).slice(0, -2)},{"x": 1, "__proto__": {"polluted": true}}]}`,
    status: 400,
    code: 'BAD_REQUEST',
    message: /forbidden prototype property/,
  },
  {
    name: 'a dataframe_split column named __proto__',
    body: '{"dataframe_split": {"columns": ["__proto__"], "data": [[{"x": 1}]]}}',
    status: 400,
    code: 'BAD_REQUEST',
    message: /'dataframe_split.columns' has the column name '__proto__'/,
  },
  {
    name: 'a CSV column named __proto__',
    contentType: CSV_TYPE,
    body: 'x,__proto__\n1,2\n',
    status: 400,
    code: 'BAD_REQUEST',
    message: /CSV header has the column name '__proto__'/,
  },
];

describe('malformed scoring requests', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = createScoringServer(createFixtureModel(), { bodyLimitBytes: BODY_LIMIT, strict: true });
    base = await listen(app);
  });
  afterAll(() => app.close());

  it('covers at least 20 cases', () => expect(cases.length).toBeGreaterThanOrEqual(20));

  it.each(cases)('answers $name with $status $code and a message naming the problem', async (c) => {
    const contentType = c.contentType ?? JSON_TYPE;
    const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
    const res = await send(base, 'POST', '/invocations', headers, c.body);
    expect(res.status).toBe(c.status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(body.error_code).toBe(c.code);
    expect(body.message).toMatch(c.message);
    const ping = await send(base, 'GET', '/ping');
    expect(ping.status).toBe(200);
  });

  it('still scores correctly after all of them', async () => {
    const res = await send(
      base,
      'POST',
      '/invocations',
      { 'content-type': JSON_TYPE },
      '{"inputs": [{"x": 4}]}',
    );
    expect([res.status, res.text]).toEqual([200, '{"predictions":[{"y":8}]}']);
  });
});
