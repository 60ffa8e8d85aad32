/**
 * `MlflowMetricDataset` (kedro-mlflow's): one metric of a run. Saving logs a value at a step
 * (`save_args.mode`: `overwrite` logs at the last step, `append` at the next one, both read from
 * the metric's history first; `save_args.step` or `{value, step}` pin it, with no read, as does a
 * Temporal run's key only ever logged at step 0, see `stepZeroKeys`); loading
 * returns the last value, or the last one at `load_args.step`.
 */
import * as z from 'zod';
import { parseDatasetConfig } from '../../datasets/config-schema.js';
import type { DatasetFactory } from '../../datasets/types.js';
import { activeRun } from '../active-run.js';
import { AbstractMlflowDataset } from './base.js';
import type { MlflowClientProvider, MlflowDatasetOptions } from './base.js';
import { metricPointProblem, nextTimestamp, sortHistory, toMetricPoint } from './metric-values.js';
import type { MetricPoint } from './metric-values.js';

export type MetricSaveMode = 'overwrite' | 'append';

export interface MlflowMetricDatasetOptions extends MlflowDatasetOptions {
  /** The metric's name. @default the catalog entry's name */
  key?: string | undefined;
  /** Load the last value logged at this step. @default the last value */
  loadStep?: number | undefined;
  /** @default 'overwrite' */
  mode?: MetricSaveMode | undefined;
  /** Log at this step (a `{value, step}` saved wins). @default per mode */
  saveStep?: number | undefined;
}

/** A metric value: a number, or `{value, step}`. */
export type MetricValue = number | MetricPoint;

export class MlflowMetricDataset extends AbstractMlflowDataset<MetricValue> {
  readonly type: string = 'mlflow.MlflowMetricDataset';
  readonly key: string;
  readonly loadStep: number | undefined;
  readonly mode: MetricSaveMode;
  readonly saveStep: number | undefined;
  #lastTimestamp = 0;

  constructor(options: MlflowMetricDatasetOptions) {
    super(options);
    this.key = options.key ?? this.name;
    this.loadStep = options.loadStep;
    this.mode = options.mode ?? 'overwrite';
    this.saveStep = options.saveStep;
  }

  /** Loads a number (the form saved with `{value, step}` is not kept). */
  protected async doLoad(): Promise<number> {
    const { client, runId } = this.loadTarget();
    const history = sortHistory(await client.runs.getMetricHistory(runId, this.key));
    const candidates =
      this.loadStep === undefined ? history : history.filter((m) => m.step === this.loadStep);
    const last = candidates.at(-1);
    if (!last) {
      const at = this.loadStep === undefined ? '' : ` at step ${this.loadStep}`;
      const steps = [...new Set(history.map((m) => m.step))].slice(0, 10);
      throw this.error(
        `metric '${this.key}' has no value${at} in MLflow run '${runId}'` +
          (history.length ? ` (steps logged: ${steps.join(', ')})` : ''),
        'load',
      );
    }
    return last.value;
  }

  protected async doSave(data: MetricValue): Promise<void> {
    const problem = metricPointProblem(data, false);
    if (problem) throw this.error(`invalid value for metric '${this.key}': ${problem}`, 'save');
    const point = toMetricPoint(data);
    const target = this.saveTarget();
    if (!target) return;
    const { client, runId } = target;
    const pinned = point.step ?? this.saveStep ?? this.knownOverwriteStep(runId);
    // Only the last step logged says where overwrite and append log: a known step needs no read.
    const history = pinned === undefined ? await client.runs.getMetricHistory(runId, this.key) : [];
    const lastStep = history.length ? Math.max(...history.map((m) => m.step)) : undefined;
    const step = pinned ?? (this.mode === 'append' ? (lastStep ?? -1) + 1 : (lastStep ?? 0));
    // After every value read, and after this dataset's previous save even within one millisecond:
    // the value saved last sorts last at its step.
    const timestamp = Math.max(nextTimestamp(history), this.#lastTimestamp + 1);
    this.#lastTimestamp = timestamp;
    await client.runs.logMetric(runId, this.key, point.value, { step, timestamp });
  }

  /** Step 0 when overwriting a key of the active run that was only ever logged there. */
  private knownOverwriteStep(runId: string): number | undefined {
    const run = activeRun();
    const known =
      this.mode === 'overwrite' && run?.runId === runId && run.stepZeroKeys?.has(this.key);
    return known ? 0 : undefined;
  }

  protected doExists(): Promise<boolean> {
    return this.runHasMetric((key) => key === this.key);
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      key: this.key,
      ...this.describeRun(),
      ...(this.loadStep !== undefined ? { load_args: { step: this.loadStep } } : {}),
      save_args: {
        mode: this.mode,
        ...(this.saveStep !== undefined ? { step: this.saveStep } : {}),
      },
    };
  }
}

const step = z.number().int();
const metricSchema = z.strictObject({
  key: z.string().min(1).optional(),
  run_id: z.string().min(1).optional(),
  load_args: z.strictObject({ step: step.optional() }).optional(),
  save_args: z
    .strictObject({ mode: z.enum(['overwrite', 'append']).optional(), step: step.optional() })
    .optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory of `MlflowMetricDataset`. */
export function mlflowMetricDatasetFactory(getClient: MlflowClientProvider): DatasetFactory {
  return (config, context) => {
    const parsed = parseDatasetConfig(metricSchema, config, {
      type: 'mlflow.MlflowMetricDataset',
      name: context.name,
    });
    return new MlflowMetricDataset({
      name: context.name,
      getClient,
      key: parsed.key,
      runId: parsed.run_id,
      loadStep: parsed.load_args?.step,
      mode: parsed.save_args?.mode,
      saveStep: parsed.save_args?.step,
    });
  };
}
