/**
 * Keeps the latest value of each metric logged to one run by everything a scope awaits (through
 * `MlflowClient.runs`), so a Temporal node activity can report what its node logged and a sweep
 * ranks a trial without reading MLflow back.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mergeLatestMetrics, type LoggedMetric } from './latest-metric.js';
import type { WireMetric } from './validation.js';

interface Recorder {
  runId: string;
  logged: Record<string, LoggedMetric>;
}

const storage = new AsyncLocalStorage<Recorder>();

/** Runs `fn`, then returns its result with the metrics logged meanwhile to `runId` (latest each). */
export async function recordingMetrics<T>(
  runId: string,
  fn: () => Promise<T>,
): Promise<{ result: T; logged: Record<string, LoggedMetric> }> {
  const recorder: Recorder = { runId, logged: {} };
  const result = await storage.run(recorder, fn);
  return { result, logged: recorder.logged };
}

/** Notes metrics just logged to `runId`, when a scope records that run's metrics. */
export function recordLoggedMetrics(runId: string, metrics: readonly WireMetric[]): void {
  const recorder = storage.getStore();
  if (!recorder || recorder.runId !== runId) return;
  for (const { key, value, step, timestamp } of metrics) {
    // NaN and ±Infinity travel as strings: kept as null (a reader asks MLflow for those).
    const logged = { value: typeof value === 'number' ? value : null, step, timestamp };
    mergeLatestMetrics(recorder.logged, { [key]: logged });
  }
}
