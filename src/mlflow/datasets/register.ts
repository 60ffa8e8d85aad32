/** Registers the MLflow datasets under kedro-mlflow's type names and short `mlflow.*` ones. */
import type { DatasetRegistry } from '../../datasets/registry.js';
import type { DatasetFactory } from '../../datasets/types.js';
import { mlflowArtifactDatasetFactory } from './artifact-dataset.js';
import type { MlflowClientProvider } from './base.js';
import { mlflowMetricDatasetFactory } from './metric-dataset.js';
import { mlflowMetricHistoryDatasetFactory } from './metric-history-dataset.js';
import { mlflowMetricsHistoryDatasetFactory } from './metrics-history-dataset.js';

/** The `type:` strings of each MLflow dataset: kedro-mlflow's full name first, then the short one. */
export const MLFLOW_DATASET_TYPES = {
  artifact: ['kedro_mlflow.io.artifacts.MlflowArtifactDataset', 'mlflow.MlflowArtifactDataset'],
  metric: ['kedro_mlflow.io.metrics.MlflowMetricDataset', 'mlflow.MlflowMetricDataset'],
  metricHistory: [
    'kedro_mlflow.io.metrics.MlflowMetricHistoryDataset',
    'mlflow.MlflowMetricHistoryDataset',
  ],
  metricsHistory: [
    'kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset',
    'mlflow.MlflowMetricsHistoryDataset',
  ],
} as const;

/**
 * Adds the MLflow datasets to `registry`. `getClient` gives the session's client, or undefined
 * when tracking is not configured (the datasets then fail with an error saying how to configure
 * it when they are used, not when the catalog is built).
 */
export function registerMlflowDatasets(
  registry: DatasetRegistry,
  getClient: MlflowClientProvider,
): DatasetRegistry {
  const factories: Record<keyof typeof MLFLOW_DATASET_TYPES, DatasetFactory> = {
    artifact: mlflowArtifactDatasetFactory(getClient),
    metric: mlflowMetricDatasetFactory(getClient),
    metricHistory: mlflowMetricHistoryDatasetFactory(getClient),
    metricsHistory: mlflowMetricsHistoryDatasetFactory(getClient),
  };
  for (const [kind, types] of Object.entries(MLFLOW_DATASET_TYPES)) {
    for (const type of types)
      registry.register(type, factories[kind as keyof typeof MLFLOW_DATASET_TYPES]);
  }
  return registry;
}
