/**
 * Parameters as kedro-mlflow logs them: dicts optionally flattened (`flatten`, `recursive`,
 * `sep`), names sanitised to what MLflow accepts, values stringified, and values longer than
 * MLflow's 6000 characters handled by `long_params_strategy` (fail, truncate, or log as a tag).
 */
import { MlflowParamTooLongError } from './errors.js';
import type { KeyValue } from './types.js';
import { MLFLOW_LIMITS, sanitizeKey, validateKey, validateTag } from './validation.js';

export type LongParamsStrategy = 'fail' | 'truncate' | 'tag';

export interface ParamsLoggingOptions {
  /** Split dict values into one param per key. @default false */
  flatten?: boolean;
  /** Flatten nested dicts too (only with `flatten`). @default true */
  recursive?: boolean;
  /** Separator between the keys of flattened dicts. @default '.' */
  sep?: string;
  /** What to do with a value longer than 6000 characters. @default 'fail' */
  longParamsStrategy?: LongParamsStrategy;
}

export interface PreparedParams {
  params: KeyValue[];
  /** Params logged as tags (`long_params_strategy: tag`). */
  tags: KeyValue[];
}

type Dict = Record<string, unknown>;

const isDict = (value: unknown): value is Dict =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

/**
 * kedro-mlflow's `flatten_dict`: `{a: {b: 1, c: {d: 2}}}` → `{'a.b': 1, 'a.c.d': 2}`; without
 * `recursive`, only the first level is split (`{'a.b': 1, 'a.c': {d: 2}}`).
 */
export function flattenDict(dict: Dict, options: { recursive?: boolean; sep?: string } = {}): Dict {
  const recursive = options.recursive ?? true;
  const sep = options.sep ?? '.';
  const out: Dict = {};
  for (const [key, value] of Object.entries(dict)) {
    if (isDict(value)) {
      const inner = recursive ? flattenDict(value, options) : value;
      for (const [k, v] of Object.entries(inner)) out[`${key}${sep}${k}`] = v;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** How a parameter value is written to MLflow: strings as they are, null as `None` (as kedro-mlflow shows it), the rest as JSON. */
export function stringifyParamValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return 'None';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * Turns named parameter values (e.g. `{alpha: 0.1, model: {depth: 3}}`, or kedro's `params:`
 * inputs with the prefix removed) into `{params, tags}` ready for `runs.logBatch`.
 */
export function prepareParams(values: Dict, options: ParamsLoggingOptions = {}): PreparedParams {
  const strategy = options.longParamsStrategy ?? 'fail';
  const entries = options.flatten
    ? flattenDict(values, { recursive: options.recursive ?? true, sep: options.sep ?? '.' })
    : values;
  const params: KeyValue[] = [];
  const tags: KeyValue[] = [];
  const limit = MLFLOW_LIMITS.maxParamValueLength;
  for (const [name, raw] of Object.entries(entries)) {
    const key = sanitizeKey(name);
    validateKey('param', key);
    const value = stringifyParamValue(raw);
    if (value.length <= limit) {
      params.push({ key, value });
    } else if (strategy === 'truncate') {
      params.push({ key, value: value.slice(0, limit) });
    } else if (strategy === 'tag') {
      tags.push({ key, value: validateTag(key, value) });
    } else {
      throw new MlflowParamTooLongError(key, value.length, limit);
    }
  }
  return { params, tags };
}
