/**
 * The "active run" (MLflow's `mlflow.active_run()`), scoped with `AsyncLocalStorage` so that runs
 * executing concurrently in one process (several local runs, or a worker's node activities) never
 * see each other's run. The caller opens a scope; the tracking hook fills `runId` when it starts
 * the run, and MLflow datasets read it when they log.
 *
 * - The local runner's caller wraps the whole run: `withActiveRun({ client }, () => runPipelineLocally(...))`.
 * - A Temporal node activity wraps one node: `withActiveRun({ client, runId }, () => runNode(...))`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MlflowClient } from './client.js';

/** The mutable slot of one scope: the client to log with and, once started, the run's id. */
export interface ActiveRunSlot {
  /**
   * The MLflow run of this scope: undefined until the tracking hook starts it (and when tracking is
   * disabled for the pipeline); kept after the run ends, so the caller can link to it.
   */
  runId?: string;
  /** The run's experiment, when known (set by the tracking hook; handy for `runUrl`). */
  experimentId?: string;
  client: MlflowClient;
  /**
   * Metric keys this run can only have logged at step 0 (see `stepZeroKeys`): an overwrite save
   * of one logs there without reading its history. Set by a Temporal node activity, whose run the
   * training created.
   */
  stepZeroKeys?: ReadonlySet<string>;
}

const storage = new AsyncLocalStorage<ActiveRunSlot>();

/**
 * Runs `fn` with `slot` as the active run of everything it awaits. The slot object itself is
 * stored (not a copy), so a hook setting `slot.runId` inside `fn` is seen by later code of the
 * same scope, including the caller holding `slot`.
 */
export function withActiveRun<T>(slot: ActiveRunSlot, fn: () => Promise<T>): Promise<T> {
  return storage.run(slot, fn);
}

/** The slot of the innermost `withActiveRun` scope, or undefined outside any. */
export function activeRun(): ActiveRunSlot | undefined {
  return storage.getStore();
}
