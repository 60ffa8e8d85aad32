import { AbstractDataset } from '../datasets/abstract-dataset.js';
import type { IntermediateStore } from './intermediate-store.js';

/**
 * A dataset the catalog does not persist, kept for one Temporal run in its intermediate store,
 * so it survives between node activities (and worker restarts) without entering history.
 */
export class IntermediateDataset extends AbstractDataset<unknown> {
  readonly type = 'IntermediateDataset';
  readonly persisted = false;

  constructor(
    private readonly store: IntermediateStore,
    private readonly runId: string,
    private readonly dataset: string,
  ) {
    super({ name: dataset });
  }

  protected async doLoad(): Promise<unknown> {
    return this.store.load(this.runId, this.dataset);
  }

  protected async doSave(data: unknown): Promise<void> {
    await this.store.save(this.runId, this.dataset, data);
  }

  protected async doExists(): Promise<boolean> {
    return this.store.exists(this.runId, this.dataset);
  }

  protected doDescribe(): Record<string, unknown> {
    return { run: this.runId, store: this.store.describe() };
  }
}
