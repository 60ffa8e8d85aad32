import {
  isLaterMetric,
  mergeLatestMetrics,
  type LoggedMetric,
} from '../../src/mlflow/latest-metric.js';
import { recordingMetrics, recordLoggedMetrics } from '../../src/mlflow/metric-recorder.js';

const at = (value: number | null, step: number, timestamp: number): LoggedMetric => ({
  value,
  step,
  timestamp,
});

describe("a run's latest metric value, in MLflow's order", () => {
  it('goes by step, then timestamp, then value', () => {
    expect(isLaterMetric(at(1, 2, 10), at(9, 1, 99))).toBe(true);
    expect(isLaterMetric(at(1, 1, 11), at(9, 1, 10))).toBe(true);
    expect(isLaterMetric(at(2, 1, 10), at(1, 1, 10))).toBe(true);
    expect(isLaterMetric(at(1, 1, 10), at(2, 1, 10))).toBe(false);
    expect(isLaterMetric(at(1, 1, 10), at(1, 1, 10))).toBe(false);
  });

  it('merges values keeping the latest of each key', () => {
    const into = { loss: at(0.5, 3, 100) };
    mergeLatestMetrics(into, { loss: at(0.9, 2, 200), acc: at(0.7, 0, 1) });
    expect(into).toEqual({ loss: at(0.5, 3, 100), acc: at(0.7, 0, 1) });
  });
});

describe('recording the metrics a scope logs', () => {
  it('keeps the latest value per key of its own run only, NaN as null', async () => {
    const { result, logged } = await recordingMetrics('run-a', async () => {
      recordLoggedMetrics('run-a', [
        { key: 'score', value: 0.4, step: 0, timestamp: 1 },
        { key: 'loss', value: 'NaN', step: 0, timestamp: 1 },
      ]);
      await Promise.resolve();
      recordLoggedMetrics('run-a', [{ key: 'score', value: 0.6, step: 0, timestamp: 2 }]);
      recordLoggedMetrics('run-b', [{ key: 'other', value: 1, step: 0, timestamp: 3 }]);
      return 'done';
    });
    expect(result).toBe('done');
    expect(logged).toEqual({ score: at(0.6, 0, 2), loss: at(null, 0, 1) });
  });

  it('records nothing outside a scope', async () => {
    recordLoggedMetrics('run-a', [{ key: 'score', value: 1, step: 0, timestamp: 1 }]);
    const { logged } = await recordingMetrics('run-a', async () => undefined);
    expect(logged).toEqual({});
  });
});
