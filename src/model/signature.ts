/**
 * MLflow model signatures, as MLflow 3 writes them in MLmodel (`signature.inputs`, `outputs` and
 * `params` are JSON strings of arrays), plus inference from JS values and validation of records and
 * params against them. Validation collects every problem with its row and column before failing.
 */

/** MLflow's scalar data types (`mlflow.types.DataType`). */
export const SCALAR_TYPES = [
  'boolean',
  'integer',
  'long',
  'float',
  'double',
  'string',
  'binary',
  'datetime',
] as const;
export type ScalarTypeName = (typeof SCALAR_TYPES)[number];

/** A data type as MLflow serialises it: a scalar, `array` (items), `object` (properties), `map` (values) or `any`. */
export type DataType =
  | { type: ScalarTypeName }
  | { type: 'array'; items: DataType }
  | { type: 'object'; properties: Record<string, PropertySpec> }
  | { type: 'map'; values: DataType }
  | { type: 'any' };
export type PropertySpec = DataType & { required: boolean };
/** One input/output column: `{"type":"double","name":"x","required":true}`. */
export type ColSpec = DataType & { name?: string; required: boolean };
/** One inference parameter: `{"name","type","default","shape":null}` (`shape: [-1]` for a 1-D list). */
export interface ParamSpec {
  name: string;
  type: ScalarTypeName;
  default: unknown;
  shape: number[] | null;
}
export interface ModelSignature {
  inputs: ColSpec[];
  outputs?: ColSpec[];
  params?: ParamSpec[];
}
/** The `signature` mapping of an MLmodel file. */
export interface MlmodelSignature {
  inputs: string;
  outputs: string | null;
  params: string | null;
}

/** One problem found by validation; `row` is 0-based, `column`/`param` name what it is about. */
export interface SignatureIssue {
  code: 'missing_column' | 'null_value' | 'wrong_type' | 'unknown_param' | 'invalid_param';
  message: string;
  column?: string;
  row?: number;
  param?: string;
}

/** Input records or params that do not match the model signature; `issues` lists every problem. */
export class SignatureValidationError extends Error {
  override readonly name = 'SignatureValidationError';
  constructor(
    readonly target: 'input' | 'params',
    readonly issues: readonly SignatureIssue[],
    /** A line added after the issues (e.g. the model's input names). */
    readonly hint?: string,
  ) {
    super(formatIssues(target, issues) + (hint ? `\n${hint}` : ''));
  }
}

/** A signature that cannot be inferred or read (mixed types in a column, malformed MLmodel JSON). */
export class SignatureError extends Error {
  override readonly name = 'SignatureError';
}

const MAX_ISSUES = 1000;
const SHOWN_ISSUES = 10;

function formatIssues(target: 'input' | 'params', issues: readonly SignatureIssue[]): string {
  const what =
    target === 'input' ? 'Input does not match the model signature' : 'Invalid parameters';
  const n = issues.length >= MAX_ISSUES ? `${MAX_ISSUES}+` : String(issues.length);
  const lines = issues.slice(0, SHOWN_ISSUES).map((i) => `  ✖ ${i.message}`);
  if (issues.length > SHOWN_ISSUES) lines.push(`  … and ${issues.length - SHOWN_ISSUES} more`);
  return `${what} (${n} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------
// Inference
// ---------------------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Infers the MLflow data type of one non-null JS value. */
export function inferDataType(value: unknown, where = 'value'): DataType {
  if (typeof value === 'boolean') return { type: 'boolean' };
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'long' : 'double' };
  if (typeof value === 'bigint') return { type: 'long' };
  if (typeof value === 'string') return { type: 'string' };
  if (value instanceof Date) return { type: 'datetime' };
  if (value instanceof Uint8Array) return { type: 'binary' };
  if (Array.isArray(value)) {
    const items = mergeTypes(
      value.filter((v) => v != null).map((v, i) => inferDataType(v, `${where}[${i}]`)),
      where,
    );
    return { type: 'array', items: items ?? { type: 'any' } };
  }
  if (isPlainObject(value)) return inferObject([value], where);
  throw new SignatureError(
    `Cannot infer an MLflow type for ${where}: unsupported value ${describe(value)}`,
  );
}

function inferObject(objects: Record<string, unknown>[], where: string): DataType {
  const names = [...new Set(objects.flatMap((o) => Object.keys(o)))].sort();
  const properties: Record<string, PropertySpec> = {};
  for (const name of names) {
    const present = objects.map((o) => o[name]).filter((v) => v != null);
    const type = mergeTypes(
      present.map((v) => inferDataType(v, `${where}.${name}`)),
      `${where}.${name}`,
    );
    properties[name] = {
      ...(type ?? { type: 'any' }),
      required: present.length === objects.length,
    };
  }
  return { type: 'object', properties };
}

/** Merges the types seen in one column: long + double → double; objects merge their properties. */
function mergeTypes(types: DataType[], where: string): DataType | undefined {
  let out: DataType | undefined;
  for (const t of types) out = out === undefined ? t : mergeTwo(out, t, where);
  return out;
}

function mergeTwo(a: DataType, b: DataType, where: string): DataType {
  if (a.type === 'any') return b;
  if (b.type === 'any') return a;
  if (a.type === b.type) {
    if (a.type === 'array' && b.type === 'array')
      return { type: 'array', items: mergeTwo(a.items, b.items, where) };
    if (a.type === 'object' && b.type === 'object') {
      const properties: Record<string, PropertySpec> = {};
      for (const name of [
        ...new Set([...Object.keys(a.properties), ...Object.keys(b.properties)]),
      ].sort()) {
        const pa = a.properties[name];
        const pb = b.properties[name];
        const merged =
          pa && pb
            ? mergeTwo(stripRequired(pa), stripRequired(pb), where)
            : stripRequired((pa ?? pb)!);
        properties[name] = { ...merged, required: Boolean(pa?.required && pb?.required) };
      }
      return { type: 'object', properties };
    }
    return a;
  }
  const numeric = new Set(['integer', 'long', 'float', 'double']);
  if (numeric.has(a.type) && numeric.has(b.type)) return { type: 'double' };
  throw new SignatureError(
    `Cannot infer a single MLflow type for ${where}: found both ${a.type} and ${b.type}`,
  );
}

function stripRequired(p: PropertySpec): DataType {
  const { required: _required, ...rest } = p;
  return rest as DataType;
}

/**
 * Infers an input schema from records (one object per row). Integer-valued numbers → long, other
 * numbers → double, strings → string, booleans → boolean, Date → datetime, Uint8Array → binary,
 * arrays → array, plain objects → object. A column missing or null in some row is not required;
 * a column null in every row gets type `any`.
 */
export function inferSchema(records: readonly Record<string, unknown>[]): ColSpec[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    for (const k of Object.keys(r)) {
      if (seen.has(k)) continue;
      seen.add(k);
      names.push(k);
    }
  }
  return names.map((name) => {
    const values = records.map((r) => r[name]);
    const present = values.filter((v) => v != null);
    const where = `column '${name}'`;
    const type =
      present.length > 0 && present.every(isPlainObject)
        ? inferObject(present as Record<string, unknown>[], where)
        : mergeTypes(
            present.map((v) => inferDataType(v, where)),
            where,
          );
    return {
      ...(type ?? { type: 'any' }),
      name,
      required: present.length === records.length && records.length > 0,
    };
  });
}

/** Infers a params schema: each value's type (a 1-D list gets `shape: [-1]`), the value as default. */
export function inferParamsSchema(params: Record<string, unknown>): ParamSpec[] {
  return Object.entries(params).map(([name, value]) => {
    const where = `param '${name}'`;
    if (Array.isArray(value)) {
      const items = mergeTypes(
        value.filter((v) => v != null).map((v) => inferDataType(v, where)),
        where,
      );
      if (!items || !isScalarType(items.type))
        throw new SignatureError(`Cannot infer ${where}: lists must hold scalars`);
      return { name, type: items.type, default: value, shape: [-1] };
    }
    if (value == null)
      throw new SignatureError(`Cannot infer ${where}: its default is ${String(value)}`);
    const t = inferDataType(value, where);
    if (!isScalarType(t.type))
      throw new SignatureError(`Cannot infer ${where}: only scalars and 1-D lists are supported`);
    return {
      name,
      type: t.type,
      default: value instanceof Date ? value.toISOString() : value,
      shape: null,
    };
  });
}

function isScalarType(t: string): t is ScalarTypeName {
  return (SCALAR_TYPES as readonly string[]).includes(t);
}

// ---------------------------------------------------------------------------------------------
// MLmodel (de)serialisation
// ---------------------------------------------------------------------------------------------

/** Keys in MLflow's order: `{"type", ..., "name", "required"}` for columns, `{"name","default","shape","type"}` for params. */
function colToJson(c: ColSpec): Record<string, unknown> {
  const { name, required, ...type } = c;
  return { ...typeToJson(type as DataType), ...(name === undefined ? {} : { name }), required };
}

function typeToJson(t: DataType): Record<string, unknown> {
  switch (t.type) {
    case 'array':
      return { type: 'array', items: typeToJson(t.items) };
    case 'map':
      return { type: 'map', values: typeToJson(t.values) };
    case 'object':
      return {
        type: 'object',
        properties: Object.fromEntries(
          Object.entries(t.properties).map(([k, p]) => [
            k,
            { ...typeToJson(stripRequired(p)), required: p.required },
          ]),
        ),
      };
    default:
      return { type: t.type };
  }
}

/** The MLmodel `signature` mapping (JSON strings, as `ModelSignature.to_dict()` writes them). */
export function signatureToMlmodel(sig: ModelSignature): MlmodelSignature {
  return {
    inputs: JSON.stringify(sig.inputs.map(colToJson)),
    outputs: sig.outputs ? JSON.stringify(sig.outputs.map(colToJson)) : null,
    params: sig.params?.length
      ? JSON.stringify(
          sig.params.map((p) => ({
            name: p.name,
            default: p.default,
            shape: p.shape,
            type: p.type,
          })),
        )
      : null,
  };
}

function parseType(raw: unknown, where: string): DataType {
  if (!isPlainObject(raw) || typeof raw.type !== 'string')
    throw new SignatureError(`${where}: expected {"type": ...}, got ${describe(raw)}`);
  const t = raw.type;
  if (isScalarType(t) || t === 'any') return { type: t } as DataType;
  if (t === 'array') return { type: 'array', items: parseType(raw.items, `${where}.items`) };
  if (t === 'map') return { type: 'map', values: parseType(raw.values, `${where}.values`) };
  if (t === 'object' && isPlainObject(raw.properties)) {
    const properties: Record<string, PropertySpec> = {};
    for (const [k, p] of Object.entries(raw.properties)) {
      properties[k] = {
        ...parseType(p, `${where}.properties.${k}`),
        required: (p as { required?: unknown }).required !== false,
      };
    }
    return { type: 'object', properties };
  }
  throw new SignatureError(
    `${where}: unsupported MLflow type '${t}' (supported: ${[...SCALAR_TYPES, 'array', 'object', 'map', 'any'].join(', ')})`,
  );
}

function parseJsonArray(raw: unknown, key: string): unknown[] | undefined {
  if (raw == null) return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new SignatureError(`signature.${key} is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!Array.isArray(value))
    throw new SignatureError(`signature.${key} must be a JSON array, got ${describe(value)}`);
  return value;
}

/** Reads the MLmodel `signature` mapping (JSON strings, or already-parsed arrays). */
export function signatureFromMlmodel(obj: unknown): ModelSignature {
  if (!isPlainObject(obj))
    throw new SignatureError(`signature must be a mapping, got ${describe(obj)}`);
  const cols = (key: 'inputs' | 'outputs') =>
    parseJsonArray(obj[key], key)?.map((c, i): ColSpec => {
      const where = `signature.${key}[${i}]`;
      const col = c as { name?: unknown; required?: unknown };
      if (col.name !== undefined && typeof col.name !== 'string')
        throw new SignatureError(`${where}.name must be a string`);
      return {
        ...parseType(c, where),
        ...(col.name === undefined ? {} : { name: col.name }),
        required: col.required !== false,
      };
    });
  const inputs = cols('inputs');
  if (!inputs) throw new SignatureError('signature.inputs is missing');
  const outputs = cols('outputs');
  const params = parseJsonArray(obj.params, 'params')?.map((p, i): ParamSpec => {
    const where = `signature.params[${i}]`;
    if (
      !isPlainObject(p) ||
      typeof p.name !== 'string' ||
      typeof p.type !== 'string' ||
      !isScalarType(p.type)
    ) {
      throw new SignatureError(
        `${where}: expected {"name", "type", "default", "shape"} with a scalar type, got ${JSON.stringify(p)}`,
      );
    }
    return {
      name: p.name,
      type: p.type,
      default: p.default ?? null,
      shape: Array.isArray(p.shape) ? (p.shape as number[]) : null,
    };
  });
  return { inputs, ...(outputs ? { outputs } : {}), ...(params ? { params } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'Date';
  if (typeof v === 'string')
    return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `integer ${v}` : `number ${v}`;
  if (typeof v === 'object') return 'object';
  return typeof v;
}

const INT32 = 2 ** 31;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Whether `v` (non-null) is acceptable for `t`: ints for floats, ISO strings for datetime, base64 for binary. */
export function matchesType(v: unknown, t: DataType): boolean {
  switch (t.type) {
    case 'any':
      return true;
    case 'boolean':
      return typeof v === 'boolean';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) && v >= -INT32 && v < INT32;
    case 'long':
      return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
    case 'float':
    case 'double':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'datetime':
      return (
        v instanceof Date ||
        (typeof v === 'string' && ISO_DATE.test(v) && !Number.isNaN(Date.parse(v)))
      );
    case 'binary':
      return v instanceof Uint8Array || (typeof v === 'string' && BASE64.test(v));
    case 'array':
      return Array.isArray(v) && v.every((x) => x == null || matchesType(x, t.items));
    case 'map':
      return (
        isPlainObject(v) && Object.values(v).every((x) => x == null || matchesType(x, t.values))
      );
    case 'object':
      return (
        isPlainObject(v) &&
        Object.entries(t.properties).every(([k, p]) =>
          v[k] == null ? !p.required : matchesType(v[k], stripRequired(p)),
        )
      );
  }
}

export function typeLabel(t: DataType): string {
  if (t.type === 'array') return `array<${typeLabel(t.items)}>`;
  if (t.type === 'map') return `map<string, ${typeLabel(t.values)}>`;
  if (t.type === 'object')
    return `object{${Object.entries(t.properties)
      .map(([k, p]) => `${k}${p.required ? '' : '?'}: ${typeLabel(stripRequired(p))}`)
      .join(', ')}}`;
  return t.type;
}

export type ValidationResult<T> =
  { success: true; data: T } | { success: false; error: SignatureValidationError };

/**
 * Checks records against an input schema, collecting every problem (missing required column, null in
 * a required column, wrong type, each with its row and column). Columns not in the schema are
 * dropped, as MLflow ignores extra inputs; values are not converted. An unnamed (tensor-like)
 * schema is not checked.
 */
export function safeValidateRecords(
  records: readonly Record<string, unknown>[],
  schema: readonly ColSpec[],
): ValidationResult<Record<string, unknown>[]> {
  const issues: SignatureIssue[] = [];
  const cols = schema.filter((c): c is ColSpec & { name: string } => c.name !== undefined);
  if (cols.length === 0) return { success: true, data: records as Record<string, unknown>[] };
  const known = new Set(cols.map((c) => c.name));
  let extra = false;
  for (const c of cols) {
    let missingRows = 0;
    let firstMissing = -1;
    for (let row = 0; row < records.length && issues.length < MAX_ISSUES; row++) {
      const v = records[row]![c.name];
      if (v == null) {
        if (!c.required) continue;
        if (v === null) {
          issues.push({
            code: 'null_value',
            column: c.name,
            row,
            message: `column '${c.name}' is required but is null at row ${row}`,
          });
        } else {
          if (firstMissing < 0) firstMissing = row;
          missingRows++;
        }
      } else if (!matchesType(v, c)) {
        issues.push({
          code: 'wrong_type',
          column: c.name,
          row,
          message: `expected ${typeLabel(c)}, received ${describe(v)} → at row ${row}, column '${c.name}'`,
        });
      }
    }
    if (missingRows > 0) {
      const rows = missingRowsPhrase(missingRows, records.length, firstMissing);
      issues.push({
        code: 'missing_column',
        column: c.name,
        row: firstMissing,
        message: `missing required column '${c.name}' (${typeLabel(c)}) in ${rows}`,
      });
    }
  }
  for (let row = 0; row < records.length && !extra; row++)
    for (const k in records[row]) if (!known.has(k)) extra = true;
  if (issues.length > 0) {
    const names = cols
      .map((c) => `'${c.name}' (${typeLabel(c)}${c.required ? '' : ', optional'})`)
      .join(', ');
    const hint = `The model's inputs are ${names}${extra ? '; other columns are ignored' : ''}.`;
    return { success: false, error: new SignatureValidationError('input', issues, hint) };
  }
  if (!extra) return { success: true, data: records as Record<string, unknown>[] };
  return {
    success: true,
    data: records.map((r) =>
      Object.fromEntries(cols.filter((c) => c.name in r).map((c) => [c.name, r[c.name]])),
    ),
  };
}

/** {@link safeValidateRecords} that throws {@link SignatureValidationError}. */
export function validateRecords(
  records: readonly Record<string, unknown>[],
  schema: readonly ColSpec[],
): Record<string, unknown>[] {
  const result = safeValidateRecords(records, schema);
  if (!result.success) throw result.error;
  return result.data;
}

/**
 * Resolves inference params against the params schema: defaults for the ones not given, an error
 * naming each unknown param (with the known ones) and each value of the wrong type. As in MLflow,
 * integers are accepted for float/double, ISO strings for datetime, and an explicit null stays null.
 */
export function resolveParams(
  given: Record<string, unknown> | undefined | null,
  schema: readonly ParamSpec[] | undefined,
): Record<string, unknown> {
  const specs = schema ?? [];
  const issues: SignatureIssue[] = [];
  const out: Record<string, unknown> = {};
  const known = specs.map((p) => p.name).sort();
  if (given != null && !isPlainObject(given)) {
    throw new SignatureValidationError('params', [
      { code: 'invalid_param', message: `params must be an object, received ${describe(given)}` },
    ]);
  }
  for (const name of Object.keys(given ?? {}).sort()) {
    if (!specs.some((p) => p.name === name)) {
      const knownText = known.length
        ? `known params: ${known.map((k) => `'${k}'`).join(', ')}`
        : 'the model declares no params';
      issues.push({
        code: 'unknown_param',
        param: name,
        message: `unknown param '${name}' (${knownText})`,
      });
    }
  }
  for (const p of specs) {
    if (!given || !(p.name in given)) {
      out[p.name] = p.default;
      continue;
    }
    const v = given[p.name];
    const expected = p.shape ? `list of ${p.type}` : p.type;
    const ok =
      v === null ||
      (p.shape
        ? Array.isArray(v) && v.every((x) => x === null || matchesType(x, { type: p.type }))
        : matchesType(v, { type: p.type }));
    if (ok) out[p.name] = v;
    else
      issues.push({
        code: 'invalid_param',
        param: p.name,
        message: `param '${p.name}' expects ${expected}, received ${describe(v)}`,
      });
  }
  if (issues.length > 0) throw new SignatureValidationError('params', issues);
  return out;
}

/** Which rows lack a required column, for messages: "the row", "all 5 rows", "2 of 5 rows (first: row 3)". */
export function missingRowsPhrase(count: number, total: number, first: number): string {
  if (count < total) return `${count} of ${total} rows (first: row ${first})`;
  return total === 1 ? 'the row' : `all ${total} rows`;
}
