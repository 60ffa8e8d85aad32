/**
 * MLflow for temporal-mlflow: a typed client of the MLflow 3 REST API (tracking, artifacts through
 * the server's proxy, logged models, registry), mlflow.yml configuration as kedro-mlflow reads it,
 * and kedro-mlflow's parameter logging rules.
 *
 * @module
 */

// Client
export { MlflowClient, authFromEnv } from './client.js';
export type { MlflowClientOptions } from './client.js';
export type { MlflowAuth, RetryOptions as MlflowRetryOptions } from './http.js';
export { ExperimentsApi } from './experiments.js';
export type {
  CreateExperimentOptions,
  GetOrCreateExperimentOptions,
  SearchExperimentsOptions,
} from './experiments.js';
export { RunsApi } from './runs.js';
export type {
  CreateRunOptions,
  LogBatchOptions,
  SearchRunsOptions,
  UpdateRunOptions,
} from './runs.js';
export { ArtifactsApi, artifactProxyPath, resolveArtifactUri } from './artifacts.js';
export type { ArtifactTarget, TransferOptions } from './artifacts.js';
export { LoggedModelsApi } from './logged-models.js';
export type { CreateLoggedModelOptions, SearchLoggedModelsOptions } from './logged-models.js';
export { RegistryApi } from './registry.js';
export type {
  CreateModelVersionOptions,
  CreateRegisteredModelOptions,
  SearchModelVersionsOptions,
} from './registry.js';
export { tagsToRecord } from './util.js';
export type {
  KeyValue,
  LifecycleStage,
  RunStatus,
  ViewType,
  Experiment,
  Metric,
  RunInfo as MlflowRunInfo,
  Dataset as MlflowDataset,
  DatasetInput,
  ModelOutput,
  Run,
  ArtifactFile,
  LoggedModelStatus,
  LoggedModelInfo,
  LoggedModel,
  RegisteredModel,
  ModelVersion,
  Page,
  TagsInput,
  MetricInput,
  ParamInput,
  LogBatchInput,
  PageOptions,
} from './types.js';

// Validation
export { MLFLOW_LIMITS, isValidKey, sanitizeKey, validateAlias } from './validation.js';

// Errors
export {
  MlflowAuthError,
  MlflowConfigError,
  MlflowConnectionError,
  MlflowDeadlineExceededError,
  MlflowError,
  MlflowInvalidParameterError,
  MlflowParamTooLongError,
  MlflowResourceAlreadyExistsError,
  MlflowResourceNotFoundError,
  MlflowUnexpectedResponseError,
} from './errors.js';
export type { MlflowConfigIssue, MlflowErrorOptions } from './errors.js';

// mlflow.yml
export {
  isPipelineTracked,
  mlflowClientOptions,
  mlflowConfigSchema,
  parseMlflowConfig,
  resolveMlflowConfig,
  safeParseMlflowConfig,
} from './config.js';
export type {
  MlflowConfig,
  ResolvedMlflowConfig,
  ResolveMlflowConfigOptions,
  SafeParseMlflowConfigResult,
} from './config.js';
export {
  MLFLOW_YML_TEMPLATE,
  PROJECT_NAME_PLACEHOLDER,
  renderMlflowYmlTemplate,
} from './template.js';

// Params
export { flattenDict, prepareParams, stringifyParamValue } from './params.js';
export type { LongParamsStrategy, ParamsLoggingOptions, PreparedParams } from './params.js';

// Active run and tracking hook
export { activeRun, withActiveRun } from './active-run.js';
export type { ActiveRunSlot } from './active-run.js';
export {
  createMlflowTrackingHook,
  experimentUrl,
  modelUrl,
  nodeParams,
  runUrl,
} from './tracking-hook.js';
export type { MlflowTrackingHook, MlflowTrackingHookOptions } from './tracking-hook.js';

// Datasets
export * from './datasets/index.js';
