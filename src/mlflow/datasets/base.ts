/**
 * What the MLflow datasets share: the client (from the session, else the active run's), the run
 * they log to (`run_id`, else the active run), and the errors saying why there is none.
 */
import { AbstractDataset } from '../../datasets/abstract-dataset.js';
import type { BaseDatasetOptions } from '../../datasets/abstract-dataset.js';
import type { DatasetOperation } from '../../datasets/errors.js';
import { activeRun } from '../active-run.js';
import type { MlflowClient } from '../client.js';
import type { MetricInput } from '../types.js';

/** Gives the session's MLflow client, or undefined when tracking is not configured. */
export type MlflowClientProvider = () => MlflowClient | undefined;

export interface MlflowDatasetOptions extends BaseDatasetOptions {
  /** Log to / load from this run instead of the active one. */
  runId?: string | undefined;
  /** @default the active run's client */
  getClient?: MlflowClientProvider | undefined;
}

/** A client and the run to use. */
export interface RunTarget {
  client: MlflowClient;
  runId: string;
}

const NOT_CONFIGURED =
  'MLflow tracking is not configured: set server.mlflow_tracking_uri in conf/<env>/mlflow.yml ' +
  "(create one with 'temporal-mlflow init') or the MLFLOW_TRACKING_URI environment variable";

/** A dataset stored in an MLflow run. */
export abstract class AbstractMlflowDataset<T> extends AbstractDataset<T> {
  readonly persisted = true;
  readonly runId: string | undefined;
  readonly #getClient: MlflowClientProvider | undefined;

  protected constructor(options: MlflowDatasetOptions) {
    super(options);
    this.runId = options.runId;
    this.#getClient = options.getClient;
  }

  /** The run of `run_id`, else of the active run, else undefined. */
  protected currentRunId(): string | undefined {
    return this.runId ?? activeRun()?.runId;
  }

  protected client(operation: DatasetOperation): MlflowClient {
    const client = this.#getClient?.() ?? activeRun()?.client;
    if (!client) throw this.error(NOT_CONFIGURED, operation);
    return client;
  }

  /**
   * Where a save logs to. Undefined inside a run scope whose pipeline is not tracked
   * (`disable_tracking.pipelines`), or when no MLflow server is configured at all: the data is
   * then not logged, as in kedro-mlflow.
   */
  protected saveTarget(): RunTarget | undefined {
    const runId = this.currentRunId();
    if (!runId) {
      if (activeRun()) return undefined;
      // Tracking is off altogether (no server configured): nothing is tracked, as the run says
      // once; the pipeline still runs, as in an untracked run scope.
      if (!this.#getClient?.()) return undefined;
      throw this.noRun('save');
    }
    return { client: this.client('save'), runId };
  }

  /** Logs metrics to the save target (nothing inside an untracked run scope). */
  protected async logMetrics(metrics: MetricInput[]): Promise<void> {
    const target = this.saveTarget();
    if (target) await target.client.runs.logBatch(target.runId, { metrics });
  }

  /** True when the current run has a metric whose key matches (false without a run). */
  protected async runHasMetric(matches: (key: string) => boolean): Promise<boolean> {
    const runId = this.currentRunId();
    if (!runId) return false;
    const run = await this.client('exists').runs.get(runId);
    return (run.data.metrics ?? []).some((metric) => matches(metric.key));
  }

  /** Where a load reads from; throws when there is no run. */
  protected loadTarget(): RunTarget {
    const runId = this.currentRunId();
    if (!runId) throw this.noRun('load');
    return { client: this.client('load'), runId };
  }

  private noRun(operation: DatasetOperation): Error {
    if (!this.#getClient?.() && !activeRun()) return this.error(NOT_CONFIGURED, operation);
    return this.error(
      `there is no active MLflow run to ${operation === 'save' ? 'log to' : 'load from'}: use the dataset inside a ` +
        `tracked pipeline run, or set its run_id`,
      operation,
    );
  }

  /** The `run_id` key of `describe()`. */
  protected describeRun(): Record<string, unknown> {
    return this.runId ? { run_id: this.runId } : {};
  }
}

/** A readable form of a value for messages. */
