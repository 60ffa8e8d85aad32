/** PipelineML, model packaging, logging and loading. */
export { PipelineML, pipelineMl, pipelineMlFactory, isPipelineMl } from './pipeline-ml.js';
export type {
  PipelineMLOptions,
  PipelineMLBinding,
  LogModelOptions,
  KpmOptions,
} from './pipeline-ml.js';
export { extractPipelineArtifacts } from './artifacts.js';
export type { PipelineArtifact } from './artifacts.js';
export { savePipelineModel } from './save-model.js';
export type { SavePipelineModelOptions, SavedPipelineModel } from './save-model.js';
export { logPipelineModel, publishLoggedModel, registerLoggedModel } from './log-model.js';
export type { LogPipelineModelOptions, PackagingStage } from './log-model.js';
export { packageRunModel, createModelLoggingHook } from './package-run.js';
export { loadModel, parseModelUri, resolveModelDir } from './load-model.js';
export {
  MlflowModelTrackingDataset,
  MlflowModelLocalFileSystemDataset,
  MlflowModelRegistryDataset,
  MODEL_DATASET_TYPES,
  registerModelDatasets,
  isPipelineModel,
} from './datasets/index.js';
export type {
  MlflowModelTrackingDatasetOptions,
  MlflowModelLocalFileSystemDatasetOptions,
  MlflowModelRegistryDatasetOptions,
  ModelDatasetInput,
  SavedModelInfo,
} from './datasets/index.js';
export type { LoadModelOptions, ModelUri } from './load-model.js';
export { PipelineModel } from './runtime.js';
export type { PipelineModelMetadata } from './runtime.js';
export { inferSchema, inferParamsSchema, SignatureValidationError } from './signature.js';
export type { ModelSignature, ColSpec, ParamSpec } from './signature.js';
export {
  PipelineMLError,
  InvalidInputNameError,
  FreeInputsError,
  NoInferenceOutputError,
  UnpersistedArtifactError,
  PipelineMLOptionError,
  NotAPipelineMLError,
  ModelVerificationError,
  ModelLoadError,
  ModelIntegrityError,
  UnsafeModelPathError,
  ModelSignatureError,
  InvalidSigningKeyError,
} from './errors.js';
export { verifyModel, writeIntegrityManifest, SIGNING_KEY_ENV_VAR } from './integrity.js';
export type { VerifyModelOptions, VerifiedModel, IntegrityManifest } from './integrity.js';
export { DEFAULT_APPROVAL_TIMEOUT } from './pipeline-ml.js';
export type { PromoteOptions, ResolvedPromoteOptions } from './pipeline-ml.js';
