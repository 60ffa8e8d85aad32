/**
 * Client-side checks run before anything is sent, so a bad key or value fails with a message
 * naming it instead of a server error (or, for over-long values, instead of the server silently
 * truncating them, which MLflow 3.17 does for params and tags).
 */
import { MlflowInvalidParameterError } from './errors.js';
import type { MetricInput, ParamInput } from './types.js';
import { describeValue } from '../utils/describe-value.js';

/** Server limits (MLflow 3.x). */
export const MLFLOW_LIMITS = {
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
  batchMetrics: 1000,
  batchParams: 100,
  batchTags: 100,
  batchTotal: 1000,
} as const;

/**
 * MLflow's key pattern `^[/\w.\- :]*$`. The server evaluates it with Python, whose `\w` includes
 * Unicode letters and digits, hence the `u` flag and the Unicode classes.
 */
const VALID_KEY = /^[/\p{L}\p{N}\p{Mn}_.\- :]*$/u;
const INVALID_KEY_CHAR = /[^/\p{L}\p{N}\p{Mn}_.\- :]/gu;

export type KeyKind = 'param' | 'metric' | 'tag';

/** Replaces every character MLflow refuses in a key with `_` (as kedro-mlflow does for param names). */
export function sanitizeKey(name: string): string {
  return name.replace(INVALID_KEY_CHAR, '_');
}

/** Whether MLflow accepts `key` as a param, metric or tag name. */
export function isValidKey(key: string): boolean {
  return key.length > 0 && key.length <= MLFLOW_LIMITS.maxKeyLength && VALID_KEY.test(key);
}

function invalid(message: string): MlflowInvalidParameterError {
  return new MlflowInvalidParameterError(message, { errorCode: 'INVALID_PARAMETER_VALUE' });
}

export function validateKey(kind: KeyKind, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw invalid(`Invalid ${kind} name ${JSON.stringify(key)}: expected a non-empty string.`);
  }
  if (key.length > MLFLOW_LIMITS.maxKeyLength) {
    throw invalid(
      `Invalid ${kind} name '${key.slice(0, 40)}…' (${key.length} characters): MLflow accepts at most ` +
        `${MLFLOW_LIMITS.maxKeyLength}. Use a shorter name.`,
    );
  }
  if (!VALID_KEY.test(key)) {
    const bad = [...new Set(key.match(INVALID_KEY_CHAR) ?? [])].map((c) => `'${c}'`).join(', ');
    throw invalid(
      `Invalid ${kind} name '${key}': ${bad} not allowed. Names may only contain letters, digits, ` +
        `underscores, dashes, periods, spaces, colons and slashes; sanitizeKey() gives '${sanitizeKey(key)}'.`,
    );
  }
}

/** Param values as MLflow stores them: strings. */
export function paramValueToString(value: ParamInput['value']): string {
  return typeof value === 'string' ? value : String(value);
}

export function validateParam(param: ParamInput): string {
  validateKey('param', param.key);
  const type = typeof param.value;
  if (type !== 'string' && type !== 'number' && type !== 'boolean') {
    throw invalid(
      `Invalid value for param '${param.key}': expected a string, number or boolean, received ${describeValue(param.value)}.`,
    );
  }
  const value = paramValueToString(param.value);
  if (value.length > MLFLOW_LIMITS.maxParamValueLength) {
    throw invalid(
      `Param '${param.key}' is ${value.length} characters long; MLflow accepts at most ` +
        `${MLFLOW_LIMITS.maxParamValueLength}. Truncate it or log it as a tag or an artifact.`,
    );
  }
  return value;
}

export function validateTag(key: string, value: unknown): string {
  validateKey('tag', key);
  if (typeof value !== 'string') {
    throw invalid(
      `Invalid value for tag '${key}': expected a string, received ${describeValue(value)}.`,
    );
  }
  if (value.length > MLFLOW_LIMITS.maxTagValueLength) {
    throw invalid(
      `Tag '${key}' is ${value.length} characters long; MLflow accepts at most ${MLFLOW_LIMITS.maxTagValueLength}. ` +
        `Log the value as an artifact instead.`,
    );
  }
  return value;
}

/** The wire form of a metric value: MLflow takes NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity". */
export type WireMetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

export interface WireMetric {
  key: string;
  value: WireMetricValue;
  timestamp: number;
  step: number;
  model_id?: string;
}

export function validateMetric(metric: MetricInput, now: number): WireMetric {
  validateKey('metric', metric.key);
  const { value } = metric;
  if (typeof value !== 'number') {
    throw invalid(
      `Invalid value for metric '${metric.key}': expected a number (NaN and ±Infinity allowed), received ${describeValue(value)}.`,
    );
  }
  const step = metric.step ?? 0;
  if (!Number.isSafeInteger(step)) {
    throw invalid(
      `Invalid step for metric '${metric.key}': expected an integer, received ${describeValue(step)}.`,
    );
  }
  const timestamp = metric.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp)) {
    throw invalid(
      `Invalid timestamp for metric '${metric.key}': expected integer milliseconds since the epoch, received ${describeValue(timestamp)}.`,
    );
  }
  return {
    key: metric.key,
    value: toWireNumber(value),
    timestamp,
    step,
    ...(metric.modelId ? { model_id: metric.modelId } : {}),
  };
}

export function toWireNumber(value: number): WireMetricValue {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** Reads a metric value from the server, which sends NaN as the string "NaN". */
export function fromWireNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return Number(value);
}

/** Aliases MLflow reserves for itself: `latest` and `v<digits>` (case-insensitive). */
export function validateAlias(alias: string): void {
  if (!alias || /^latest$/i.test(alias) || /^v\d+$/i.test(alias)) {
    throw invalid(
      `Alias '${alias}' is reserved by MLflow ('latest' and 'v<digits>' name versions already). Choose another alias, e.g. 'champion'.`,
    );
  }
}
