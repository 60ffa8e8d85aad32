/**
 * `MlflowMetricHistoryDataset` (kedro-mlflow's): the whole history of one metric, in one of three
 * forms (`save_args.mode`, `load_args.mode` defaulting to it):
 * - `list`: `[v0, v1, ...]`, logged at steps 0..n-1;
 * - `dict`: `{step: value}`;
 * - `history`: `[{step, value, timestamp?}]`.
 */
import * as z from 'zod';
import { parseDatasetConfig } from '../../datasets/config-schema.js';
import type { DatasetFactory } from '../../datasets/types.js';
import type { Metric, MetricInput } from '../types.js';
import { AbstractMlflowDataset } from './base.js';
import type { MlflowClientProvider, MlflowDatasetOptions } from './base.js';
import { metricPointProblem, sortHistory } from './metric-values.js';
import { describeValue } from '../../utils/describe-value.js';

export type MetricHistoryMode = 'list' | 'dict' | 'history';

/** One entry of the `history` form. */
export interface MetricHistoryEntry {
  step: number;
  value: number;
  timestamp?: number;
}

export type MetricHistory = number[] | Record<number, number> | MetricHistoryEntry[];

export interface MlflowMetricHistoryDatasetOptions extends MlflowDatasetOptions {
  /** The metric's name. @default the catalog entry's name */
  key?: string | undefined;
  /** The form saves take. @default 'list' */
  saveMode?: MetricHistoryMode | undefined;
  /** The form loads return. @default saveMode */
  loadMode?: MetricHistoryMode | undefined;
}

export class MlflowMetricHistoryDataset extends AbstractMlflowDataset<MetricHistory> {
  readonly type: string = 'mlflow.MlflowMetricHistoryDataset';
  readonly key: string;
  readonly saveMode: MetricHistoryMode;
  readonly loadMode: MetricHistoryMode;

  constructor(options: MlflowMetricHistoryDatasetOptions) {
    super(options);
    this.key = options.key ?? this.name;
    this.saveMode = options.saveMode ?? 'list';
    this.loadMode = options.loadMode ?? this.saveMode;
  }

  protected async doLoad(): Promise<MetricHistory> {
    const { client, runId } = this.loadTarget();
    const history = sortHistory(await client.runs.getMetricHistory(runId, this.key));
    if (history.length === 0)
      throw this.error(`metric '${this.key}' has no value in MLflow run '${runId}'`, 'load');
    return fromHistory(history, this.loadMode);
  }

  protected async doSave(data: MetricHistory): Promise<void> {
    await this.logMetrics(this.toMetrics(data));
  }

  protected doExists(): Promise<boolean> {
    return this.runHasMetric((key) => key === this.key);
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      key: this.key,
      ...this.describeRun(),
      load_args: { mode: this.loadMode },
      save_args: { mode: this.saveMode },
    };
  }

  /** Checks `data` against the save mode; every problem names the metric and the entry. */
  private toMetrics(data: unknown): MetricInput[] {
    const invalid = (where: string, problem: string): Error =>
      this.error(
        `invalid ${where} of metric '${this.key}' (save_args.mode ${this.saveMode}): ${problem}`,
        'save',
      );
    const now = Date.now();
    switch (this.saveMode) {
      case 'list': {
        if (!Array.isArray(data))
          throw invalid('history', `expected a list of numbers, received ${describeValue(data)}`);
        return data.map((value: unknown, step) => {
          if (typeof value !== 'number')
            throw invalid(
              `value at index ${step}`,
              `expected a number, received ${describeValue(value)}`,
            );
          return { key: this.key, value, step, timestamp: now };
        });
      }
      case 'dict': {
        if (data === null || typeof data !== 'object' || Array.isArray(data)) {
          throw invalid(
            'history',
            `expected a mapping {step: value}, received ${describeValue(data)}`,
          );
        }
        return Object.entries(data).map(([key, value]: [string, unknown]) => {
          const step = Number(key);
          if (!Number.isSafeInteger(step))
            throw invalid(`step '${key}'`, 'expected an integer step');
          if (typeof value !== 'number')
            throw invalid(
              `value at step ${key}`,
              `expected a number, received ${describeValue(value)}`,
            );
          return { key: this.key, value, step, timestamp: now };
        });
      }
      case 'history': {
        if (!Array.isArray(data))
          throw invalid(
            'history',
            `expected a list of {step, value, timestamp?}, received ${describeValue(data)}`,
          );
        return data.map((entry: unknown, index) => {
          const isEntry = entry !== null && typeof entry === 'object' && !Array.isArray(entry);
          const problem = !isEntry
            ? `expected {step, value, timestamp?}, received ${describeValue(entry)}`
            : (entry as { step?: unknown }).step === undefined
              ? 'missing step'
              : metricPointProblem(entry);
          if (problem) throw invalid(`entry ${index}`, problem);
          const { value, step, timestamp } = entry as MetricHistoryEntry;
          return { key: this.key, value, step, timestamp: timestamp ?? now };
        });
      }
    }
  }
}

function fromHistory(history: readonly Metric[], mode: MetricHistoryMode): MetricHistory {
  switch (mode) {
    case 'list':
      return history.map((m) => m.value);
    case 'dict':
      return Object.fromEntries(history.map((m) => [m.step, m.value]));
    case 'history':
      return history.map((m) => ({ step: m.step, value: m.value, timestamp: m.timestamp }));
  }
}

const mode = z.enum(['list', 'dict', 'history']);
const historySchema = z.strictObject({
  key: z.string().min(1).optional(),
  run_id: z.string().min(1).optional(),
  load_args: z.strictObject({ mode: mode.optional() }).optional(),
  save_args: z.strictObject({ mode: mode.optional() }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory of `MlflowMetricHistoryDataset`. */
export function mlflowMetricHistoryDatasetFactory(getClient: MlflowClientProvider): DatasetFactory {
  return (config, context) => {
    const parsed = parseDatasetConfig(historySchema, config, {
      type: 'mlflow.MlflowMetricHistoryDataset',
      name: context.name,
    });
    return new MlflowMetricHistoryDataset({
      name: context.name,
      getClient,
      key: parsed.key,
      runId: parsed.run_id,
      saveMode: parsed.save_args?.mode,
      loadMode: parsed.load_args?.mode,
    });
  };
}
