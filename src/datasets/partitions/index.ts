/**
 * Partitioned folders: `PartitionedDataset`, `IncrementalDataset`, the hook that confirms
 * incremental checkpoints after their node succeeds, and the run scope they key runs by.
 *
 * @module
 */
export { PartitionedDataset } from './partitioned-dataset.js';
export type {
  PartitionData,
  PartitionFactory,
  PartitionLoaders,
  PartitionedDatasetOptions,
} from './partitioned-dataset.js';
export { IncrementalDataset, CHECKPOINT_FILENAME, COMPARISONS } from './incremental-dataset.js';
export type { ComparisonName, IncrementalDatasetOptions } from './incremental-dataset.js';
export { confirmIncrementalDatasets } from './confirm-hook.js';
export type { ConfirmableDataset, ConfirmHookOptions } from './confirm-hook.js';
export { currentRunKey, withRunKey } from './run-scope.js';
export { incrementalDatasetFactory, partitionedDatasetFactory } from './factories.js';
