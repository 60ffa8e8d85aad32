/**
 * Which metric keys of a run can only have been logged at step 0, so that an `overwrite` save
 * knows its step without reading the metric's history first.
 *
 * An `MlflowMetricDataset` in overwrite mode logs at the last step logged (0 when none). In a run
 * its training created, a key whose only writer is one such dataset (no `run_id`, no pinned step)
 * and that no history dataset logs was never logged at another step: every save of it, an earlier
 * attempt's too, landed at step 0. Node code logging that key itself at another step is not seen
 * here: pin `save_args.step` on the dataset then.
 */
import type { Dataset } from '../../datasets/types.js';
import { MlflowMetricDataset } from './metric-dataset.js';
import { MlflowMetricHistoryDataset } from './metric-history-dataset.js';
import { MlflowMetricsHistoryDataset } from './metrics-history-dataset.js';

/** The keys that `datasets` (those of one run's pipeline) can only log at step 0. */
export function stepZeroKeys(datasets: Iterable<Dataset | undefined>): Set<string> {
  const writers = new Map<string, number>();
  const candidates = new Set<string>();
  const otherKeys = new Set<string>();
  const prefixes: string[] = [];
  for (const dataset of datasets) {
    if (dataset instanceof MlflowMetricDataset) {
      writers.set(dataset.key, (writers.get(dataset.key) ?? 0) + 1);
      if (dataset.mode === 'overwrite' && dataset.saveStep === undefined && !dataset.runId)
        candidates.add(dataset.key);
      else otherKeys.add(dataset.key);
    } else if (dataset instanceof MlflowMetricHistoryDataset) {
      otherKeys.add(dataset.key);
    } else if (dataset instanceof MlflowMetricsHistoryDataset) {
      prefixes.push(dataset.prefix);
    }
  }
  const keys = new Set<string>();
  for (const key of candidates) {
    const prefixed = prefixes.some((prefix) => key === prefix || key.startsWith(`${prefix}.`));
    if (writers.get(key) === 1 && !otherKeys.has(key) && !prefixed) keys.add(key);
  }
  return keys;
}
