/**
 * Checks a request's records and params against the model signature, as sliced work. Two modes:
 *
 * - MLflow's (default), as `mlflow models serve` enforces a schema: null is accepted in any column,
 *   numbers are given to string columns as strings (`42` → `"42"`), numeric strings to numeric
 *   columns as numbers, non-integers to integer columns truncated (as pandas' `astype`), unknown
 *   params are ignored; a required column absent from the request (e.g. an empty record list) is
 *   an error.
 * - strict: no conversion; a required column must be present and non-null in every row, every
 *   value must have the column's type and every param must be declared (messages as
 *   `validateRecords` / `resolveParams`).
 *
 * Both collect every problem with its row and column (up to 1000) and drop columns the signature
 * does not know.
 */
import {
  matchesType,
  missingRowsPhrase,
  resolveParams,
  SignatureValidationError,
  typeLabel,
} from '../model/signature.js';
import type { ColSpec, ParamSpec, SignatureIssue } from '../model/signature.js';
import { CHECKPOINT_EVERY, type Sliced } from './slicing.js';

type Rec = Record<string, unknown>;
type NamedCol = ColSpec & { name: string };

const MAX_ISSUES = 1000;
const NUMERIC = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const INT32 = 2 ** 31;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string')
    return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  if (typeof v === 'object') return 'object';
  return typeof v;
}

const FAIL = Symbol('fail');

/** MLflow's conversion of one non-null value for a column, or FAIL. */
function convert(v: unknown, col: ColSpec): unknown {
  switch (col.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
        return String(v);
      return FAIL;
    case 'double':
    case 'float':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
      return FAIL;
    case 'long':
    case 'integer': {
      let n: number | undefined;
      if (typeof v === 'number' && Number.isFinite(v)) n = Math.trunc(v);
      else if (typeof v === 'string' && NUMERIC.test(v)) n = Math.trunc(Number(v));
      else if (typeof v === 'bigint') return v;
      if (n === undefined || !Number.isSafeInteger(n)) return FAIL;
      if (col.type === 'integer' && (n < -INT32 || n >= INT32)) return FAIL;
      return n;
    }
    default:
      return matchesType(v, col) ? v : FAIL;
  }
}

function inputNames(cols: readonly NamedCol[]): string {
  return cols
    .map((c) => `'${c.name}' (${typeLabel(c)}${c.required ? '' : ', optional'})`)
    .join(', ');
}

/** The named columns of a schema and their names, worked out once per schema. */
const namedOf = new WeakMap<readonly ColSpec[], { cols: NamedCol[]; known: Set<string> }>();

function namedColumns(schema: readonly ColSpec[]): { cols: NamedCol[]; known: Set<string> } {
  let named = namedOf.get(schema);
  if (!named) {
    const cols = schema.filter((c): c is NamedCol => c.name !== undefined);
    named = { cols, known: new Set(cols.map((c) => c.name)) };
    namedOf.set(schema, named);
  }
  return named;
}

/**
 * Checks (and in MLflow's mode converts) records against the input schema; returns the records the
 * model is given. `columns` is the request's column set when it has one (dataframe_split, CSV);
 * otherwise the keys seen in the records are.
 */
export function* enforceInputs(
  records: Rec[],
  schema: readonly ColSpec[] | undefined,
  strict: boolean,
  columns?: readonly string[],
): Sliced<Rec[]> {
  if (!schema) return records;
  const { cols, known } = namedColumns(schema);
  if (cols.length === 0) return records;
  const present = new Set<string>(columns?.filter((c) => known.has(c)));
  const issues: SignatureIssue[] = [];
  const missingRows = new Map<string, { count: number; first: number }>();
  let extra = columns ? columns.some((c) => !known.has(c)) : false;
  let work = 0;
  for (let row = 0; row < records.length; row++) {
    const rec = records[row]!;
    if (!columns) {
      if (!extra) for (const k in rec) if (!known.has(k)) extra = true;
    }
    for (const c of cols) {
      const v = rec[c.name];
      if (!columns && v !== undefined) present.add(c.name);
      if (v == null) {
        if (!strict || !c.required) continue;
        if (v === null) {
          if (issues.length < MAX_ISSUES)
            issues.push({
              code: 'null_value',
              column: c.name,
              row,
              message: `column '${c.name}' is required but is null at row ${row}`,
            });
        } else {
          const m = missingRows.get(c.name);
          if (m) m.count++;
          else missingRows.set(c.name, { count: 1, first: row });
        }
        continue;
      }
      const out = strict ? (matchesType(v, c) ? v : FAIL) : convert(v, c);
      if (out === FAIL) {
        if (issues.length < MAX_ISSUES)
          issues.push({
            code: 'wrong_type',
            column: c.name,
            row,
            message: `expected ${typeLabel(c)}, received ${describe(v)} → at row ${row}, column '${c.name}'`,
          });
      } else if (out !== v) rec[c.name] = out;
    }
    work += cols.length + 1;
    if (work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  for (const [name, { count, first }] of missingRows) {
    const c = cols.find((x) => x.name === name)!;
    const rows = missingRowsPhrase(count, records.length, first);
    issues.push({
      code: 'missing_column',
      column: name,
      row: first,
      message: `missing required column '${name}' (${typeLabel(c)}) in ${rows}`,
    });
  }
  // A required column absent from the request altogether (MLflow: "Model is missing inputs"),
  // e.g. an empty record list.
  for (const c of cols) {
    if (!c.required || present.has(c.name) || (strict && missingRows.has(c.name))) continue;
    issues.push({
      code: 'missing_column',
      column: c.name,
      message: `missing required column '${c.name}' (${typeLabel(c)}): the request has ${records.length === 0 && !columns ? 'no records' : 'no such column'}`,
    });
  }
  if (issues.length > 0) {
    const hint = `The model's inputs are ${inputNames(cols)}${extra ? '; other columns are ignored' : ''}.`;
    throw new SignatureValidationError('input', issues, hint);
  }
  if (!extra) return records;
  const out: Rec[] = new Array<Rec>(records.length);
  for (let row = 0; row < records.length; row++) {
    const rec = records[row]!;
    const kept: Rec = {};
    for (const c of cols) if (c.name in rec) kept[c.name] = rec[c.name];
    out[row] = kept;
    work += cols.length;
    if (work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  return out;
}

/**
 * Resolves params against the params schema; in MLflow's mode params the schema does not declare
 * are dropped and returned in `ignored` (MLflow logs a warning), in strict mode they are an error.
 */
export function enforceParams(
  given: Rec | undefined,
  schema: readonly ParamSpec[] | undefined,
  strict: boolean,
): { params: Rec | undefined; ignored: string[] } {
  if (!schema && !given) return { params: undefined, ignored: [] };
  if (strict || !given) return { params: resolveParams(given, schema), ignored: [] };
  const declared = new Set((schema ?? []).map((p) => p.name));
  const ignored = Object.keys(given).filter((k) => !declared.has(k));
  const known: Rec = {};
  for (const k of Object.keys(given)) if (declared.has(k)) known[k] = given[k];
  return { params: resolveParams(known, schema), ignored: ignored.sort() };
}
