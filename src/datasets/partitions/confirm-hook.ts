/**
 * Confirms `IncrementalDataset` checkpoints after the nodes that consume them succeed (Kedro's
 * node `confirms`), as a hook: it works the same under the local runner and on Temporal, where
 * `afterNodeRun` runs inside the node's activity.
 */
import type { Hooks } from '../../hooks/types.js';

/** A dataset with Kedro's `confirm()` (IncrementalDataset, or a user's own). */
export interface ConfirmableDataset {
  confirm(): Promise<void>;
  release(): Promise<void>;
}

const isConfirmable = (value: unknown): value is ConfirmableDataset =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<ConfirmableDataset>).confirm === 'function' &&
  typeof (value as Partial<ConfirmableDataset>).release === 'function';

export interface ConfirmHookOptions {
  /**
   * Node name → datasets that node confirms (Kedro's `node(..., confirms=...)`), for a checkpoint
   * confirmed downstream of the node that reads it. A dataset named here is confirmed only by
   * the nodes that name it.
   * @default {} (every node confirms the confirmable datasets among its inputs)
   */
  confirms?: Readonly<Record<string, string | readonly string[]>>;
}

/**
 * A hook whose `afterNodeRun` confirms, once the node's function has returned, every confirmable
 * dataset among its inputs (or those listed for it in `confirms`). Register it in
 * `defineProject({ hooks: [confirmIncrementalDatasets()] })`.
 */
export function confirmIncrementalDatasets(options: ConfirmHookOptions = {}): Hooks {
  const explicit = new Map<string, readonly string[]>(
    Object.entries(options.confirms ?? {}).map(([node, names]) => [
      node,
      typeof names === 'string' ? [names] : names,
    ]),
  );
  const confirmedElsewhere = new Set([...explicit.values()].flat());
  return {
    /**
     * A new run outside Temporal and outside `withRunKey` starts a new window: the datasets'
     * per-object run keys are renewed (as Kedro's `release()` clears its cache).
     */
    async beforePipelineRun({ pipeline, catalog }) {
      const inputs = (pipeline as { inputs?: () => readonly string[] }).inputs?.() ?? [];
      for (const name of inputs) {
        const dataset = catalog.has(name) ? catalog.getDataset(name) : undefined;
        if (isConfirmable(dataset)) await dataset.release();
      }
    },
    async afterNodeRun({ node, catalog }) {
      const names =
        explicit.get(node.name) ?? node.inputs.filter((name) => !confirmedElsewhere.has(name));
      for (const name of names) {
        const dataset = catalog.has(name) ? catalog.getDataset(name) : undefined;
        if (isConfirmable(dataset)) await dataset.confirm();
      }
    },
  };
}
