/**
 * Reads scoring requests as MLflow 3's scoring server does (mlflow/pyfunc/scoring_server): a JSON
 * object with exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs` plus
 * optional `params`, or a `text/csv` body with a header row. Everything becomes records (one object
 * per row). Errors name the key, column and row at fault.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import type { ColSpec, DataType } from '../model/signature.js';
import { BadRequestError, InvalidParameterError, UnsupportedMediaTypeError } from './errors.js';
import type { ParsedRequest } from './types.js';

export const CONTENT_TYPE_JSON = 'application/json';
export const CONTENT_TYPE_CSV = 'text/csv';
export const SUPPORTED_CONTENT_TYPES = [CONTENT_TYPE_JSON, CONTENT_TYPE_CSV] as const;
export const INPUT_FORMATS = [
  'dataframe_split',
  'dataframe_records',
  'instances',
  'inputs',
] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];
export const PARAMS_KEY = 'params';

type Rec = Record<string, unknown>;
const FORMAT_LIST = INPUT_FORMATS.map((f) => `'${f}'`).join(', ');

function isObject(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Splits `application/json; charset=utf-8`; only UTF-8 and no other parameters, as MLflow (415 otherwise). */
export function parseContentType(
  header: string | undefined,
): (typeof SUPPORTED_CONTENT_TYPES)[number] {
  const supported = `supported content types: ${SUPPORTED_CONTENT_TYPES.join(', ')}`;
  if (!header)
    throw new UnsupportedMediaTypeError(`Missing Content-Type header; ${supported}`, header);
  const [mime = '', ...rest] = header.split(';').map((s) => s.trim());
  const type = mime.toLowerCase();
  if (type !== CONTENT_TYPE_JSON && type !== CONTENT_TYPE_CSV) {
    throw new UnsupportedMediaTypeError(
      `Unsupported Content-Type '${header}'; ${supported}`,
      header,
    );
  }
  for (const pair of rest) {
    const [key = '', value = ''] = pair.split('=').map((s) => s.trim());
    if (key.toLowerCase() !== 'charset') {
      throw new UnsupportedMediaTypeError(
        `Unrecognized content type parameter '${key}' in '${header}'; only 'charset' is accepted`,
        header,
      );
    }
    if (value.replace(/^"|"$/g, '').toLowerCase() !== 'utf-8') {
      throw new UnsupportedMediaTypeError(
        `The scoring server only supports UTF-8; got charset '${value}'`,
        header,
      );
    }
  }
  return type;
}

/** Parses a request body of the given Content-Type into records and params. */
export function parseScoringRequest(
  body: string | undefined,
  contentType: string | undefined,
  schema?: readonly ColSpec[],
): ParsedRequest {
  const type = parseContentType(contentType);
  if (body === undefined || body.length === 0) {
    throw new BadRequestError(
      type === CONTENT_TYPE_JSON
        ? `Request body is empty; expected a JSON object with exactly one of ${FORMAT_LIST}`
        : 'Request body is empty; expected CSV with a header row',
    );
  }
  return type === CONTENT_TYPE_JSON
    ? parseJsonRequest(body, schema)
    : parseCsvRequest(body, schema);
}

/** Parses a JSON scoring request body (see the module doc). */
export function parseJsonRequest(body: string, schema?: readonly ColSpec[]): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    throw new BadRequestError(`Invalid JSON in the request body: ${(e as Error).message}`);
  }
  if (!isObject(json)) {
    throw new BadRequestError(
      `The input must be a JSON object with exactly one of the input fields ${FORMAT_LIST}; received ${kind(json)}`,
    );
  }
  let format: InputFormat | undefined;
  const formats: string[] = [];
  const unknown: string[] = [];
  for (const key in json) {
    if ((INPUT_FORMATS as readonly string[]).includes(key))
      formats.push((format = key as InputFormat));
    else if (key !== PARAMS_KEY) unknown.push(key);
  }
  if (unknown.length > 0) {
    throw new BadRequestError(
      `Unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} in the request body; expected exactly one of ${FORMAT_LIST} and optionally '${PARAMS_KEY}'`,
    );
  }
  if (formats.length !== 1 || format === undefined) {
    const got = formats.length === 0 ? 'none' : formats.map((k) => `'${k}'`).join(' and ');
    throw new BadRequestError(
      `The input must be a JSON object with exactly one of the input fields ${FORMAT_LIST}; received ${got}`,
    );
  }
  const params = json[PARAMS_KEY];
  if (params !== undefined && params !== null && !isObject(params)) {
    throw new InvalidParameterError(
      `'${PARAMS_KEY}' must be an object of param name to value; received ${kind(params)}`,
    );
  }
  const data = json[format];
  const records =
    format === 'dataframe_split'
      ? fromSplit(data)
      : format === 'dataframe_records'
        ? fromRecordList(data, format)
        : fromTensorInput(data, format, schema);
  return params ? { records, params } : { records };
}

function fromRecordList(data: unknown, key: string): Rec[] {
  if (!Array.isArray(data)) {
    throw new BadRequestError(
      `'${key}' must be a list of records (one object per row); received ${kind(data)}`,
    );
  }
  for (let i = 0; i < data.length; i++) {
    if (!isObject(data[i]))
      throw new BadRequestError(
        `'${key}' must be a list of records; item ${i} is ${kind(data[i])}, not an object`,
      );
  }
  return data as Rec[];
}

function fromSplit(split: unknown): Rec[] {
  if (!isObject(split))
    throw new BadRequestError(
      `'dataframe_split' must be an object {"columns": [...], "data": [[...]]}; received ${kind(split)}`,
    );
  const extra = Object.keys(split).filter((k) => k !== 'columns' && k !== 'data' && k !== 'index');
  if (!('data' in split) || extra.length > 0) {
    const problem =
      extra.length > 0
        ? `unexpected key ${extra.map((k) => `'${k}'`).join(', ')}`
        : `no 'data' key`;
    throw new BadRequestError(
      `'dataframe_split' must have a 'data' key and optionally 'columns' and 'index'; found ${problem}`,
    );
  }
  const { data, columns, index } = split;
  if (!Array.isArray(data))
    throw new BadRequestError(
      `'dataframe_split.data' must be a list of rows; received ${kind(data)}`,
    );
  if (
    columns !== undefined &&
    (!Array.isArray(columns) ||
      !columns.every((c) => typeof c === 'string' || typeof c === 'number'))
  ) {
    throw new BadRequestError(`'dataframe_split.columns' must be a list of column names`);
  }
  if (
    index !== undefined &&
    index !== null &&
    (!Array.isArray(index) || index.length !== data.length)
  ) {
    throw new BadRequestError(
      `'dataframe_split.index' must be a list with one entry per row (${data.length}); received ${Array.isArray(index) ? `${index.length} entries` : kind(index)}`,
    );
  }
  const first = data[0];
  const names = (columns ?? (Array.isArray(first) ? first.map((_, i) => i) : [])).map(String);
  if (new Set(names).size !== names.length)
    throw new BadRequestError(`'dataframe_split.columns' has duplicate names`);
  const records: Rec[] = new Array(data.length);
  for (let r = 0; r < data.length; r++) {
    const row = data[r];
    if (!Array.isArray(row))
      throw new BadRequestError(
        `'dataframe_split.data' row ${r} must be a list of values; received ${kind(row)}`,
      );
    if (row.length !== names.length) {
      throw new BadRequestError(
        `'dataframe_split.data' row ${r} has ${row.length} values but there are ${names.length} columns (${names.map((n) => `'${n}'`).join(', ')})`,
      );
    }
    const rec: Rec = {};
    for (let c = 0; c < names.length; c++) rec[names[c]!] = row[c];
    records[r] = rec;
  }
  return records;
}

/** `instances` / `inputs`: a list of records, a list of values (single-input models), `{col: [values]}` or one record. */
function fromTensorInput(data: unknown, key: InputFormat, schema?: readonly ColSpec[]): Rec[] {
  const named = schema?.filter((c) => c.name !== undefined) ?? [];
  if (Array.isArray(data)) {
    if (data.length === 0 || isObject(data[0])) return fromRecordList(data, key);
    if (named.length === 1) {
      const name = named[0]!.name!;
      return data.map((v) => ({ [name]: v }));
    }
    throw new BadRequestError(
      `'${key}' is a list of ${kind(data[0]).replace(/^an? /, '')} values; use a list of records (one object per row) or {"column": [values]}${named.length > 1 ? ` (the model has ${named.length} input columns)` : ''}`,
    );
  }
  if (!isObject(data))
    throw new BadRequestError(
      `'${key}' must be a list of records or an object {"column": [values]}; received ${kind(data)}`,
    );
  const types = new Map(named.map((c) => [c.name!, c as DataType]));
  const entries = Object.entries(data);
  // A value is columnar when it is a list and the column is not itself list-typed (or is a list of lists).
  const columnar = (col: string, v: unknown) =>
    Array.isArray(v) &&
    (types.get(col)?.type !== 'array' || v.every((x) => x == null || Array.isArray(x)));
  const lists = entries.filter(([k, v]) => columnar(k, v));
  if (lists.length === 0) return [data];
  if (lists.length !== entries.length) {
    const scalar = entries.find(([k, v]) => !columnar(k, v))![0];
    throw new BadRequestError(
      `'${key}' mixes columns given as lists and single values (column '${scalar}'); give every column as a list of values`,
    );
  }
  const n = (lists[0]![1] as unknown[]).length;
  const bad = lists.find(([, v]) => (v as unknown[]).length !== n);
  if (bad) {
    throw new BadRequestError(
      `'${key}' columns must all have the same length: column '${lists[0]![0]}' has ${n} values, column '${bad[0]}' has ${(bad[1] as unknown[]).length}`,
    );
  }
  const records: Rec[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const rec: Rec = {};
    for (const [k, v] of lists) rec[k] = (v as unknown[])[r];
    records[r] = rec;
  }
  return records;
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

type Cell = (raw: string) => unknown;
const INT = /^[+-]?\d+$/;
const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BOOL: Record<string, boolean> = {
  true: true,
  false: false,
  True: true,
  False: false,
  TRUE: true,
  FALSE: false,
};
const FAIL = Symbol('fail');

function converterFor(t: DataType | undefined, cells: string[]): Cell {
  switch (t?.type) {
    case 'integer':
    case 'long':
      return (s) => (INT.test(s) ? Number(s) : FAIL);
    case 'float':
    case 'double':
      return (s) => (NUM.test(s) ? Number(s) : FAIL);
    case 'boolean':
      return (s) => (s in BOOL ? BOOL[s] : FAIL);
    case 'array':
    case 'object':
    case 'map':
      return (s) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          return FAIL;
        }
      };
    case undefined:
    case 'any': {
      // Without a type, a column is numeric or boolean when all its cells are, as pandas.read_csv infers.
      const present = cells.filter((s) => s !== '');
      if (present.length > 0 && present.every((s) => NUM.test(s))) return Number;
      if (present.length > 0 && present.every((s) => s in BOOL)) return (s) => BOOL[s];
      return (s) => s;
    }
    default:
      return (s) => s;
  }
}

/** Parses a `text/csv` body: a header row, then one row per record; cells typed per the schema when given. */
export function parseCsvRequest(body: string, schema?: readonly ColSpec[]): ParsedRequest {
  let rows: string[][];
  try {
    rows = parseCsv(body, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as string[][];
  } catch (e) {
    throw new BadRequestError(`Failed to parse the CSV body: ${(e as Error).message}`);
  }
  const header = rows[0];
  if (!header) throw new BadRequestError('CSV body has no header row');
  const names = header.map((h) => h.trim());
  const empty = names.indexOf('');
  if (empty >= 0)
    throw new BadRequestError(
      `CSV header has an empty column name at position ${empty} (header: ${JSON.stringify(header)})`,
    );
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new BadRequestError(`CSV header has the column '${dup}' twice`);
  const data = rows.slice(1);
  for (let r = 0; r < data.length; r++) {
    if (data[r]!.length !== names.length) {
      throw new BadRequestError(
        `CSV row ${r} has ${data[r]!.length} values but the header has ${names.length} columns (${names.join(', ')})`,
      );
    }
  }
  const types = new Map(
    schema?.filter((c) => c.name !== undefined).map((c) => [c.name!, c as DataType]),
  );
  const problems: string[] = [];
  const records: Rec[] = data.map(() => ({}));
  names.forEach((name, c) => {
    const t = types.get(name);
    const convert = converterFor(
      t,
      data.map((row) => row[c]!),
    );
    for (let r = 0; r < data.length; r++) {
      const raw = data[r]![c]!;
      const value = raw === '' ? null : convert(raw);
      if (value === FAIL) {
        if (problems.length < 10)
          problems.push(`column '${name}' expects ${t!.type}, row ${r} has ${JSON.stringify(raw)}`);
        continue;
      }
      records[r]![name] = value;
    }
  });
  if (problems.length > 0)
    throw new BadRequestError(
      `CSV values do not match the model signature:\n  ✖ ${problems.join('\n  ✖ ')}`,
    );
  return { records };
}
