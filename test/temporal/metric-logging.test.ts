/**
 * A Temporal run logs an overwrite metric that only it writes at step 0 without reading the
 * metric's history first (one MLflow call instead of two, on the path of every trial of a sweep).
 */
import { randomUUID } from 'node:crypto';
import { startTraining } from '../../src/temporal/client.js';
import { lifecycleProject, mlflow } from '../support/lifecycle.js';
import { MlflowProxy } from '../support/mlflow-proxy.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

const proxy = new MlflowProxy();
const calls: string[] = [];
proxy.rule = ({ method, url }) => {
  calls.push(`${method} ${url.split('?')[0]!.replace('/api/2.0/mlflow/', '')}`);
  return 'forward';
};
const trackingUri = process.env.MLFLOW_TRACKING_URI;
let harness: TemporalHarness;

beforeAll(async () => {
  // Read when the worker opens its session: this file's worker tracks through the proxy.
  process.env.MLFLOW_TRACKING_URI = await proxy.start();
  harness = await startHarness({
    projectDir: lifecycleProject,
    taskQueue: `test-metric-logging-${randomUUID()}`,
  });
}, 120_000);
afterAll(async () => {
  await harness?.close();
  await proxy.stop();
  process.env.MLFLOW_TRACKING_URI = trackingUri;
});

describe('an overwrite metric of a Temporal run', () => {
  it('is logged at step 0 without reading its history', async () => {
    const training = await startTraining(harness.client, {
      pipeline: 'sleepy',
      params: { sleep_ms: 0, quality: 0.75 },
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    const result = await training.result();
    expect(calls).toContain('POST runs/log-metric');
    expect(calls.filter((call) => call.includes('get-history'))).toEqual([]);
    const history = await mlflow().runs.getMetricHistory(result.mlflowRunId!, 'score');
    expect(history.map((m) => [m.step, m.value])).toEqual([[0, 0.75]]);
  }, 120_000);
});
