/**
 * Which logged value of a metric is a run's latest, in MLflow's order (its `latest_metrics`): the
 * highest step, then the latest timestamp, then the highest value. Pure: workflows merge the
 * values their nodes logged with it.
 */

/** One value of a metric as logged: `value` null when it was not a finite number. */
export interface LoggedMetric {
  value: number | null;
  step: number;
  timestamp: number;
}

/** True when `a` comes after `b` as a run's latest value of one key. */
export function isLaterMetric(a: LoggedMetric, b: LoggedMetric): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return a.value !== null && (b.value === null || a.value > b.value);
}

/** Keeps, in `into`, the latest value of each key of `values`. */
export function mergeLatestMetrics(
  into: Record<string, LoggedMetric>,
  values: Readonly<Record<string, LoggedMetric>>,
): void {
  for (const [key, value] of Object.entries(values)) {
    const known = into[key];
    if (!known || isLaterMetric(value, known)) into[key] = value;
  }
}
