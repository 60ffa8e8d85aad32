/** Checking metric values before they are logged, and reading metric histories back in order. */
import type { Metric } from '../types.js';
import { describeValue } from '../../utils/describe-value.js';

/** One metric value with its step (and optionally its timestamp, ms since the epoch). */
export interface MetricPoint {
  value: number;
  step?: number;
  timestamp?: number;
}

/** Why `data` is not a metric value (`number` or `{value, step?, timestamp?}`), or undefined when it is one. */
export function metricPointProblem(data: unknown, allowTimestamp = true): string | undefined {
  if (typeof data === 'number') return undefined;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return `expected a number or {value, step}, received ${describeValue(data)}`;
  }
  const { value, step, timestamp, ...rest } = data as Record<string, unknown>;
  const extra = Object.keys(rest).sort();
  if (extra.length)
    return `unexpected keys [${extra.join(', ')}] (expected value, step${allowTimestamp ? ', timestamp' : ''})`;
  if (typeof value !== 'number')
    return `expected a number as value, received ${describeValue(value)}`;
  if (step !== undefined && !Number.isSafeInteger(step))
    return `expected an integer step, received ${describeValue(step)}`;
  if (timestamp !== undefined && (!allowTimestamp || !Number.isSafeInteger(timestamp))) {
    return allowTimestamp
      ? `expected integer milliseconds as timestamp, received ${describeValue(timestamp)}`
      : 'unexpected key timestamp';
  }
  return undefined;
}

/** A checked metric value as a point. */
export function toMetricPoint(data: number | MetricPoint): MetricPoint {
  return typeof data === 'number' ? { value: data } : data;
}

/** The history ordered by step, then timestamp (the server's order breaks ties). */
export function sortHistory(history: readonly Metric[]): Metric[] {
  return history
    .map((metric, index) => ({ metric, index }))
    .sort(
      (a, b) =>
        a.metric.step - b.metric.step ||
        a.metric.timestamp - b.metric.timestamp ||
        a.index - b.index,
    )
    .map(({ metric }) => metric);
}

/** A timestamp after every value of `history`, so the value logged now sorts last. */
export function nextTimestamp(history: readonly Metric[]): number {
  return Math.max(Date.now(), ...history.map((metric) => metric.timestamp + 1));
}
