/**
 * Reads scoring requests as MLflow 3's scoring server does (mlflow/pyfunc/scoring_server): a JSON
 * object with exactly one of `dataframe_split`, `dataframe_records`, `instances`, `inputs` plus
 * optional `params`, or a `text/csv` body with a header row. Everything becomes records (one object
 * per row). Errors name the key, column and row at fault.
 *
 * Written once as sliced work, linear in the body's length: {@link readScoringRequest} (the server)
 * pauses every few milliseconds so a large body never blocks the event loop, and stops as soon as a
 * limit on records or columns is passed; the `parse*` functions run the same code synchronously.
 */
import type { ColSpec, DataType } from '../model/signature.js';
import { CsvLimitError, CsvSyntaxError, readCsvRows } from './csv.js';
import {
  BadRequestError,
  InvalidParameterError,
  RequestLimitError,
  UnsupportedMediaTypeError,
} from './errors.js';
import { parseJsonSliced } from './json-sliced.js';
import { CHECKPOINT_EVERY, runSliced, runSync, type Sliced } from './slicing.js';
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
  // Clients send the same few headers: each accepted one is parsed once (rejected ones every time).
  const known = header === undefined ? undefined : acceptedTypes.get(header);
  if (known !== undefined) return known;
  const type = checkContentType(header);
  if (acceptedTypes.size >= 64) acceptedTypes.clear();
  acceptedTypes.set(header!, type);
  return type;
}

const acceptedTypes = new Map<string, (typeof SUPPORTED_CONTENT_TYPES)[number]>();

function checkContentType(header: string | undefined): (typeof SUPPORTED_CONTENT_TYPES)[number] {
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

/** How a request is read: MLflow's leniency or strict checks, and the per-request limits. */
export interface ReadRequestOptions {
  /** Unknown body keys and odd CSV headers are errors instead of warnings. @default false */
  strict?: boolean;
  /** @default Infinity */
  maxRecords?: number;
  /** @default Infinity */
  maxColumns?: number;
  /** CPU time between two pauses, for {@link readScoringRequest}. @default 4 */
  sliceMs?: number;
}

interface ReadContext {
  strict: boolean;
  maxRecords: number;
  maxColumns: number;
  warnings: string[];
}

function context(options: ReadRequestOptions): ReadContext {
  return {
    strict: options.strict ?? false,
    maxRecords: options.maxRecords ?? Infinity,
    maxColumns: options.maxColumns ?? Infinity,
    warnings: [],
  };
}

function* readRequest(
  body: string | undefined,
  contentType: string | undefined,
  schema: readonly ColSpec[] | undefined,
  ctx: ReadContext,
): Sliced<ParsedRequest> {
  const type = parseContentType(contentType);
  if (body === undefined || body.length === 0) {
    throw new BadRequestError(
      type === CONTENT_TYPE_JSON
        ? `Request body is empty; expected a JSON object with exactly one of ${FORMAT_LIST}`
        : 'Request body is empty; expected CSV with a header row',
    );
  }
  const parsed =
    type === CONTENT_TYPE_JSON
      ? yield* readJson(body, schema, ctx)
      : yield* readCsv(body, schema, ctx);
  return ctx.warnings.length > 0 ? { ...parsed, warnings: ctx.warnings } : parsed;
}

/**
 * Reading a request body as sliced work, for callers that run it themselves (`runSliced` on the
 * event loop, `runSync` in a worker thread).
 */
export function scoringRequestWork(
  body: string | undefined,
  contentType: string | undefined,
  schema: readonly ColSpec[] | undefined,
  options: ReadRequestOptions = {},
): Sliced<ParsedRequest> {
  return readRequest(body, contentType, schema, context(options));
}

/**
 * Reads a request body of the given Content-Type into records and params, pausing every `sliceMs`
 * so other requests are served meanwhile. MLflow's leniency unless `strict`.
 */
export function readScoringRequest(
  body: string | undefined,
  contentType: string | undefined,
  schema: readonly ColSpec[] | undefined,
  options: ReadRequestOptions = {},
): Promise<ParsedRequest> {
  return runSliced(readRequest(body, contentType, schema, context(options)), options.sliceMs ?? 4);
}

/** Parses a request body of the given Content-Type into records and params (strict, no limits). */
export function parseScoringRequest(
  body: string | undefined,
  contentType: string | undefined,
  schema?: readonly ColSpec[],
): ParsedRequest {
  return runSync(readRequest(body, contentType, schema, context({ strict: true })));
}

/** Parses a JSON scoring request body (see the module doc; strict, no limits). */
export function parseJsonRequest(body: string, schema?: readonly ColSpec[]): ParsedRequest {
  return runSync(readJson(body, schema, context({ strict: true })));
}

/** Parses a `text/csv` body: a header row, then one row per record; cells typed per the schema when given. */
export function parseCsvRequest(body: string, schema?: readonly ColSpec[]): ParsedRequest {
  return runSync(readCsv(body, schema, context({ strict: true })));
}

function* readJson(
  body: string,
  schema: readonly ColSpec[] | undefined,
  ctx: ReadContext,
): Sliced<ParsedRequest> {
  let json: unknown;
  try {
    json = yield* parseJsonSliced(body);
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
  for (const key of Object.keys(json)) {
    if ((INPUT_FORMATS as readonly string[]).includes(key))
      formats.push((format = key as InputFormat));
    else if (key !== PARAMS_KEY) unknown.push(key);
  }
  if (unknown.length > 0) {
    const keys = unknown
      .slice(0, 10)
      .map((k) => `'${k}'`)
      .join(', ');
    const text = `Unknown key${unknown.length > 1 ? 's' : ''} ${keys}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''} in the request body`;
    if (ctx.strict)
      throw new BadRequestError(
        `${text}; expected exactly one of ${FORMAT_LIST} and optionally '${PARAMS_KEY}'`,
      );
    ctx.warnings.push(`${text} ignored (as MLflow does)`);
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
  if (params && Object.keys(params).length > ctx.maxColumns)
    throw new RequestLimitError('params', ctx.maxColumns, Object.keys(params).length);
  const data = json[format];
  const { records, columns } =
    format === 'dataframe_split'
      ? yield* fromSplit(data, schema, ctx)
      : format === 'dataframe_records'
        ? { records: yield* fromRecordList(data, format, ctx), columns: undefined }
        : yield* fromTensorInput(data, format, schema, ctx);
  return {
    records,
    ...(columns ? { columns } : {}),
    ...(params ? { params } : {}),
  };
}

function checkRecordCount(n: number, ctx: ReadContext): void {
  if (n > ctx.maxRecords) throw new RequestLimitError('records', ctx.maxRecords, n);
}

function checkColumnCount(n: number, ctx: ReadContext): void {
  if (n > ctx.maxColumns) throw new RequestLimitError('columns', ctx.maxColumns, n);
}

function* fromRecordList(data: unknown, key: string, ctx: ReadContext): Sliced<Rec[]> {
  if (!Array.isArray(data)) {
    throw new BadRequestError(
      `'${key}' must be a list of records (one object per row); received ${kind(data)}`,
    );
  }
  checkRecordCount(data.length, ctx);
  let work = 0;
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    if (!isObject(item))
      throw new BadRequestError(
        `'${key}' must be a list of records; item ${i} is ${kind(item)}, not an object`,
      );
    let width = 0;
    for (const _ in item) width++;
    checkColumnCount(width, ctx);
    work += width + 1;
    if (work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  return data as Rec[];
}

/** Names unique in linear time; a duplicate is an error naming it. */
function checkUnique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new BadRequestError(`${what} has the column '${n}' twice`);
    seen.add(n);
  }
}

/** A column named `__proto__` would set the prototype of every record it is assigned to: refused, as such a JSON key is. */
function refuseProtoName(names: readonly string[], what: string): void {
  if (names.includes('__proto__'))
    throw new BadRequestError(`${what} has the column name '__proto__', which is not allowed`);
}

/** Indexes of the columns to keep: those the schema names (every column without a named schema). */
function keptColumns(names: readonly string[], schema: readonly ColSpec[] | undefined): number[] {
  const known = new Set(schema?.flatMap((c) => (c.name === undefined ? [] : [c.name])));
  const all = names.map((_, i) => i);
  return known.size === 0 ? all : all.filter((i) => known.has(names[i]!));
}

function* fromSplit(
  split: unknown,
  schema: readonly ColSpec[] | undefined,
  ctx: ReadContext,
): Sliced<{ records: Rec[]; columns: string[] }> {
  if (!isObject(split))
    throw new BadRequestError(
      `'dataframe_split' must be an object {"columns": [...], "data": [[...]]}; received ${kind(split)}`,
    );
  const extra = Object.keys(split).filter((k) => k !== 'columns' && k !== 'data' && k !== 'index');
  if (!('data' in split) || extra.length > 0) {
    const problem =
      extra.length > 0
        ? `unexpected key ${extra
            .slice(0, 10)
            .map((k) => `'${k}'`)
            .join(', ')}`
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
  checkRecordCount(data.length, ctx);
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
  const first: unknown = data[0];
  const names = (
    (columns as (string | number)[] | undefined) ??
    (Array.isArray(first) ? first.map((_, i) => i) : [])
  ).map(String);
  checkColumnCount(names.length, ctx);
  checkUnique(names, `'dataframe_split.columns'`);
  refuseProtoName(names, `'dataframe_split.columns'`);
  // Columns the model does not know are ignored: records hold only the others (all without a schema).
  const kept = keptColumns(names, schema);
  const records: Rec[] = new Array<Rec>(data.length);
  let work = 0;
  for (let r = 0; r < data.length; r++) {
    const row: unknown = data[r];
    if (!Array.isArray(row))
      throw new BadRequestError(
        `'dataframe_split.data' row ${r} must be a list of values; received ${kind(row)}`,
      );
    if (row.length !== names.length) {
      throw new BadRequestError(
        `'dataframe_split.data' row ${r} has ${row.length} values but there are ${names.length} columns (${listNames(names)})`,
      );
    }
    const rec: Rec = {};
    for (const c of kept) rec[names[c]!] = row[c];
    records[r] = rec;
    work += kept.length + 1;
    if (work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  return { records, columns: names };
}

/** At most 20 names, quoted. */
function listNames(names: readonly string[]): string {
  const shown = names
    .slice(0, 20)
    .map((n) => `'${n}'`)
    .join(', ');
  return names.length > 20 ? `${shown}, … ${names.length - 20} more` : shown;
}

/** `instances` / `inputs`: a list of records, a list of values (single-input models), `{col: [values]}` or one record. */
function* fromTensorInput(
  data: unknown,
  key: InputFormat,
  schema: readonly ColSpec[] | undefined,
  ctx: ReadContext,
): Sliced<{ records: Rec[]; columns: string[] | undefined }> {
  const named = schema?.filter((c) => c.name !== undefined) ?? [];
  if (Array.isArray(data)) {
    if (data.length === 0 || isObject(data[0]))
      return { records: yield* fromRecordList(data, key, ctx), columns: undefined };
    if (named.length === 1) {
      checkRecordCount(data.length, ctx);
      const name = named[0]!.name!;
      const records: Rec[] = new Array<Rec>(data.length);
      for (let r = 0; r < data.length; r++) {
        records[r] = { [name]: data[r] as unknown };
        if (r % CHECKPOINT_EVERY === 0) yield;
      }
      return { records, columns: [name] };
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
  checkColumnCount(entries.length, ctx);
  // A value is columnar when it is a list and the column is not itself list-typed (or is a list of lists).
  const columnar = (col: string, v: unknown) =>
    Array.isArray(v) &&
    (types.get(col)?.type !== 'array' || v.every((x) => x == null || Array.isArray(x)));
  const lists = entries.filter(([k, v]) => columnar(k, v));
  if (lists.length === 0) return { records: [data], columns: Object.keys(data) };
  if (lists.length !== entries.length) {
    const scalar = entries.find(([k, v]) => !columnar(k, v))![0];
    throw new BadRequestError(
      `'${key}' mixes columns given as lists and single values (column '${scalar}'); give every column as a list of values`,
    );
  }
  const n = (lists[0]![1] as unknown[]).length;
  checkRecordCount(n, ctx);
  const bad = lists.find(([, v]) => (v as unknown[]).length !== n);
  if (bad) {
    throw new BadRequestError(
      `'${key}' columns must all have the same length: column '${lists[0]![0]}' has ${n} values, column '${bad[0]}' has ${(bad[1] as unknown[]).length}`,
    );
  }
  const records: Rec[] = new Array<Rec>(n);
  let work = 0;
  for (let r = 0; r < n; r++) {
    const rec: Rec = {};
    for (const [k, v] of lists) rec[k] = (v as unknown[])[r];
    records[r] = rec;
    work += lists.length + 1;
    if (work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  return { records, columns: lists.map(([k]) => k) };
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

function converterFor(t: DataType | undefined, data: readonly string[][], c: number): Cell {
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
      let numeric = true;
      let bool = true;
      let any = false;
      for (let r = 0; r < data.length && (numeric || bool); r++) {
        const s = data[r]![c]!;
        if (s === '') continue;
        any = true;
        numeric &&= NUM.test(s);
        bool &&= s in BOOL;
      }
      if (any && numeric) return Number;
      if (any && bool) return (s) => BOOL[s];
      return (s) => s;
    }
    default:
      return (s) => s;
  }
}

/** Header names: trimmed; in MLflow's mode, empty ones named as pandas does and duplicates renamed `x.1`. */
function headerNames(header: readonly string[], ctx: ReadContext): string[] {
  const names = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (let i = 0; i < names.length; i++) {
    let name = names[i]!;
    if (name === '') {
      if (ctx.strict)
        throw new BadRequestError(
          `CSV header has an empty column name at position ${i} (header: ${JSON.stringify(header.slice(0, 20))})`,
        );
      name = `Unnamed: ${i}`;
    }
    if (seen.has(name)) {
      if (ctx.strict) throw new BadRequestError(`CSV header has the column '${name}' twice`);
      let k = 1;
      while (seen.has(`${name}.${k}`)) k++;
      name = `${name}.${k}`;
    }
    seen.add(name);
    names[i] = name;
  }
  if (!ctx.strict && names.some((n, i) => n !== header[i]!.trim()))
    ctx.warnings.push('CSV header names renamed as pandas does (empty or repeated names)');
  return names;
}

function* readCsv(
  body: string,
  schema: readonly ColSpec[] | undefined,
  ctx: ReadContext,
): Sliced<ParsedRequest> {
  let rows: string[][];
  try {
    rows = yield* readCsvRows(body, { maxColumns: ctx.maxColumns, maxRecords: ctx.maxRecords });
  } catch (e) {
    if (e instanceof CsvLimitError) throw new RequestLimitError(e.what, e.limit);
    if (e instanceof CsvSyntaxError)
      throw new BadRequestError(`Failed to parse the CSV body: ${e.message}`);
    throw e;
  }
  const header = rows[0];
  if (!header) throw new BadRequestError('CSV body has no header row');
  const names = headerNames(header, ctx);
  refuseProtoName(names, 'The CSV header');
  const data = rows.slice(1);
  for (let r = 0; r < data.length; r++) {
    if (data[r]!.length !== names.length) {
      throw new BadRequestError(
        `CSV row ${r} has ${data[r]!.length} values but the header has ${names.length} columns (${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''})`,
      );
    }
  }
  const types = new Map(
    schema?.filter((c) => c.name !== undefined).map((c) => [c.name!, c as DataType]),
  );
  const problems: string[] = [];
  const records: Rec[] = new Array<Rec>(data.length);
  for (let r = 0; r < data.length; r++) records[r] = {};
  let work = 0;
  for (const c of keptColumns(names, schema)) {
    const name = names[c]!;
    const t = types.get(name);
    const convert = converterFor(t, data, c);
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
    work += data.length + 1;
    if (work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  if (problems.length > 0)
    throw new BadRequestError(
      `CSV values do not match the model signature:\n  ✖ ${problems.join('\n  ✖ ')}`,
    );
  return { records, columns: names };
}
