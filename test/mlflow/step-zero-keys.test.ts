/** Which metric keys of a run's pipeline can only be logged at step 0 (pure: no server). */
import { JSONDataset } from '../../src/datasets/json-dataset.js';
import {
  MlflowMetricDataset,
  MlflowMetricHistoryDataset,
  MlflowMetricsHistoryDataset,
} from '../../src/mlflow/index.js';
import { stepZeroKeys } from '../../src/mlflow/datasets/step-zero-keys.js';

const metric = (
  name: string,
  options: Partial<ConstructorParameters<typeof MlflowMetricDataset>[0]> = {},
) => new MlflowMetricDataset({ name, ...options });

describe('stepZeroKeys', () => {
  it('names the keys whose only writer is one overwrite metric dataset without a step or run_id', () => {
    expect(
      stepZeroKeys([
        metric('accuracy'),
        metric('scores', { key: 'f1' }),
        undefined, // a parameter
        new JSONDataset({ name: 'report', filepath: 'report.json' }),
      ]),
    ).toEqual(new Set(['accuracy', 'f1']));
  });

  it('leaves out a key another dataset may log at another step', () => {
    expect(stepZeroKeys([metric('a'), metric('a2', { key: 'a', mode: 'append' })])).toEqual(
      new Set(),
    );
    expect(stepZeroKeys([metric('b'), metric('b2', { key: 'b' })])).toEqual(new Set());
    expect(stepZeroKeys([metric('c', { saveStep: 3 })])).toEqual(new Set());
    expect(stepZeroKeys([metric('d', { runId: 'elsewhere' })])).toEqual(new Set());
    expect(stepZeroKeys([metric('e'), new MlflowMetricHistoryDataset({ name: 'e' })])).toEqual(
      new Set(),
    );
    expect(
      stepZeroKeys([
        metric('m', { key: 'metrics.loss' }),
        metric('n', { key: 'other' }),
        new MlflowMetricsHistoryDataset({ name: 'metrics' }),
      ]),
    ).toEqual(new Set(['other']));
  });
});
