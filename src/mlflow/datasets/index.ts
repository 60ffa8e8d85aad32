/** The MLflow datasets (kedro-mlflow's `kedro_mlflow.io`): artifacts and metrics of a run. */
export { AbstractMlflowDataset } from './base.js';
export type { MlflowClientProvider, MlflowDatasetOptions, RunTarget } from './base.js';
export { MlflowArtifactDataset, mlflowArtifactDatasetFactory } from './artifact-dataset.js';
export type { MlflowArtifactDatasetOptions } from './artifact-dataset.js';
export { MlflowMetricDataset, mlflowMetricDatasetFactory } from './metric-dataset.js';
export type { MetricSaveMode, MetricValue, MlflowMetricDatasetOptions } from './metric-dataset.js';
export {
  MlflowMetricHistoryDataset,
  mlflowMetricHistoryDatasetFactory,
} from './metric-history-dataset.js';
export type {
  MetricHistory,
  MetricHistoryEntry,
  MetricHistoryMode,
  MlflowMetricHistoryDatasetOptions,
} from './metric-history-dataset.js';
export {
  MlflowMetricsHistoryDataset,
  mlflowMetricsHistoryDatasetFactory,
} from './metrics-history-dataset.js';
export type { MetricsDict, MlflowMetricsHistoryDatasetOptions } from './metrics-history-dataset.js';
export type { MetricPoint } from './metric-values.js';
export { MLFLOW_DATASET_TYPES, registerMlflowDatasets } from './register.js';
