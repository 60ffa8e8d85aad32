/**
 * `MlflowMetricsHistoryDataset` (kedro-mlflow's): several metrics at once, as
 * `{name: {value, step}}` or `{name: [{value, step}, ...]}`. Names are logged under `prefix`
 * (`<prefix>.<name>`, the prefix defaulting to the catalog entry's name); a load returns every
 * metric of the run under the prefix, with its full name (as kedro-mlflow does): one
 * `{value, step}` per metric, or a list of them when it has several values.
 */
import * as z from 'zod';
import { parseDatasetConfig } from '../../datasets/config-schema.js';
import type { DatasetFactory } from '../../datasets/types.js';
import type { MetricInput } from '../types.js';
import { AbstractMlflowDataset } from './base.js';
import type { MlflowClientProvider, MlflowDatasetOptions } from './base.js';
import { metricPointProblem, sortHistory } from './metric-values.js';
import type { MetricPoint } from './metric-values.js';
import { describeValue } from '../../utils/describe-value.js';

/** Metrics by name: one value with its step, or several. */
export type MetricsDict = Record<string, MetricPoint | MetricPoint[]>;

export interface MlflowMetricsHistoryDatasetOptions extends MlflowDatasetOptions {
  /** Names are logged as `<prefix>.<name>`. @default the catalog entry's name */
  prefix?: string | undefined;
}

export class MlflowMetricsHistoryDataset extends AbstractMlflowDataset<MetricsDict> {
  readonly type: string = 'mlflow.MlflowMetricsHistoryDataset';
  readonly prefix: string;

  constructor(options: MlflowMetricsHistoryDatasetOptions) {
    super(options);
    this.prefix = options.prefix ?? this.name;
  }

  /** The logged name of `name`: prefixed unless it already is. */
  metricKey(name: string): string {
    return this.isOwnKey(name) ? name : `${this.prefix}.${name}`;
  }

  private isOwnKey(key: string): boolean {
    return key === this.prefix || key.startsWith(`${this.prefix}.`);
  }

  protected async doLoad(): Promise<MetricsDict> {
    const { client, runId } = this.loadTarget();
    const run = await client.runs.get(runId);
    const keys = [
      ...new Set((run.data.metrics ?? []).map((m) => m.key).filter((key) => this.isOwnKey(key))),
    ].sort();
    if (keys.length === 0)
      throw this.error(`MLflow run '${runId}' has no metric named '${this.prefix}.*'`, 'load');
    const result: MetricsDict = {};
    await Promise.all(
      keys.map(async (key) => {
        const points = sortHistory(await client.runs.getMetricHistory(runId, key)).map((m) => ({
          value: m.value,
          step: m.step,
        }));
        result[key] = points.length === 1 ? points[0]! : points;
      }),
    );
    return Object.fromEntries(keys.map((key) => [key, result[key]!]));
  }

  protected async doSave(data: MetricsDict): Promise<void> {
    await this.logMetrics(this.toMetrics(data));
  }

  protected doExists(): Promise<boolean> {
    return this.runHasMetric((key) => this.isOwnKey(key));
  }

  protected doDescribe(): Record<string, unknown> {
    return { prefix: this.prefix, ...this.describeRun() };
  }

  private toMetrics(data: unknown): MetricInput[] {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw this.error(
        `expected a mapping {name: {value, step}} or {name: [{value, step}]}, received ${describeValue(data)}`,
        'save',
      );
    }
    const now = Date.now();
    const metrics: MetricInput[] = [];
    for (const [name, entry] of Object.entries(data)) {
      const points: unknown[] = Array.isArray(entry) ? entry : [entry];
      points.forEach((point, index) => {
        const problem =
          typeof point === 'number'
            ? `expected {value, step}, received ${describeValue(point)}`
            : metricPointProblem(point);
        if (problem) {
          const where = Array.isArray(entry) ? ` (entry ${index})` : '';
          throw this.error(`invalid value for metric '${name}'${where}: ${problem}`, 'save');
        }
        const { value, step, timestamp } = point as MetricPoint;
        metrics.push({
          key: this.metricKey(name),
          value,
          step: step ?? 0,
          timestamp: timestamp ?? now,
        });
      });
    }
    return metrics;
  }
}

const metricsSchema = z.strictObject({
  prefix: z.string().min(1).optional(),
  run_id: z.string().min(1).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory of `MlflowMetricsHistoryDataset`. */
export function mlflowMetricsHistoryDatasetFactory(
  getClient: MlflowClientProvider,
): DatasetFactory {
  return (config, context) => {
    const parsed = parseDatasetConfig(metricsSchema, config, {
      type: 'mlflow.MlflowMetricsHistoryDataset',
      name: context.name,
    });
    return new MlflowMetricsHistoryDataset({
      name: context.name,
      getClient,
      prefix: parsed.prefix,
      runId: parsed.run_id,
    });
  };
}
