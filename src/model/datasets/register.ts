/** Registers the model datasets under kedro-mlflow's type names and short `mlflow.*` ones. */
import type { DatasetRegistry } from '../../datasets/registry.js';
import type { DatasetFactory } from '../../datasets/types.js';
import type { MlflowClientProvider } from '../../mlflow/datasets/base.js';
import { mlflowModelLocalFileSystemDatasetFactory } from './local-filesystem-dataset.js';
import { mlflowModelRegistryDatasetFactory } from './registry-dataset.js';
import { mlflowModelTrackingDatasetFactory } from './tracking-dataset.js';

/** The `type:` strings of each model dataset: kedro-mlflow's full name first, then the short one. */
export const MODEL_DATASET_TYPES = {
  tracking: [
    'kedro_mlflow.io.models.MlflowModelTrackingDataset',
    'mlflow.MlflowModelTrackingDataset',
  ],
  localFileSystem: [
    'kedro_mlflow.io.models.MlflowModelLocalFileSystemDataset',
    'mlflow.MlflowModelLocalFileSystemDataset',
  ],
  registry: [
    'kedro_mlflow.io.models.MlflowModelRegistryDataset',
    'mlflow.MlflowModelRegistryDataset',
  ],
} as const;

/**
 * Adds the model datasets to `registry`. `getClient` gives the session's MLflow client, or
 * undefined when tracking is not configured (the tracking and registry datasets then fail with an
 * error saying how to configure it when they are used).
 */
export function registerModelDatasets(
  registry: DatasetRegistry,
  getClient: MlflowClientProvider,
): DatasetRegistry {
  const factories: Record<keyof typeof MODEL_DATASET_TYPES, DatasetFactory> = {
    tracking: mlflowModelTrackingDatasetFactory(getClient),
    localFileSystem: mlflowModelLocalFileSystemDatasetFactory,
    registry: mlflowModelRegistryDatasetFactory(getClient),
  };
  for (const [kind, types] of Object.entries(MODEL_DATASET_TYPES)) {
    for (const type of types)
      registry.register(type, factories[kind as keyof typeof MODEL_DATASET_TYPES]);
  }
  return registry;
}
