/** The model datasets (kedro-mlflow's `kedro_mlflow.io.models`): packaged pipeline models in the catalog. */
export { isPipelineModel, modelFolderOf } from './common.js';
export type { ModelDatasetInput } from './common.js';
export {
  MlflowModelLocalFileSystemDataset,
  mlflowModelLocalFileSystemDatasetFactory,
} from './local-filesystem-dataset.js';
export type { MlflowModelLocalFileSystemDatasetOptions } from './local-filesystem-dataset.js';
export {
  MlflowModelTrackingDataset,
  mlflowModelTrackingDatasetFactory,
} from './tracking-dataset.js';
export type { MlflowModelTrackingDatasetOptions, SavedModelInfo } from './tracking-dataset.js';
export {
  MlflowModelRegistryDataset,
  mlflowModelRegistryDatasetFactory,
} from './registry-dataset.js';
export type { MlflowModelRegistryDatasetOptions } from './registry-dataset.js';
export { MODEL_DATASET_TYPES, registerModelDatasets } from './register.js';
