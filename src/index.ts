/**
 * temporal-mlflow: durable, TypeScript-native ML pipelines on Temporal whose inference pipeline is
 * packaged at training time and served from MLflow (Kedro + kedro-mlflow, in TypeScript).
 *
 * Workflow code lives in the workflow-safe subpath `temporal-mlflow/workflows`.
 */

// Pipelines (Kedro core)
export {
  CircularDependencyError,
  DuplicateNodeNameError,
  DuplicateNodeOutputError,
  EmptyPipelineSelectionError,
  InvalidArgumentError,
  InvalidNameError,
  InvalidNodeDefinitionError,
  InvalidPipelineItemError,
  NamespaceError,
  Node,
  NodeInputMissingError,
  NodeInputOutputOverlapError,
  NodeOutputShapeError,
  OutputNotUniqueError,
  ParameterOutputError,
  Pipeline,
  PipelineError,
  UnknownDatasetError,
  UnknownNodeError,
  UnknownTagError,
  isParameter,
  node,
  parseDuration,
  pipeline,
  pipelineToMermaid,
} from './pipeline/index.js';
export type * from './pipeline/index.js';

// Data catalog, configuration and datasets
export {
  CatalogConfigError,
  ConfigParseError,
  CredentialsNotFoundError,
  DataCatalog,
  DuplicateConfigKeyError,
  InterpolationError,
  MAX_EXPANDED_SIZE,
  PARAMETERS,
  PARAMS_PREFIX,
  ParameterNotFoundError,
  RuntimeParamsError,
  loadProjectConfig,
  parseRuntimeParams,
} from './catalog/index.js';
export type * from './catalog/index.js';
export {
  AbstractDataset,
  AbstractFileDataset,
  CSVDataset,
  DatasetArgumentError,
  DatasetConfigError,
  DatasetError,
  DatasetNotFoundError,
  DatasetPathError,
  DatasetRegistry,
  IncrementalDataset,
  JSONDataset,
  MemoryDataset,
  ModelStateDataset,
  ParquetDataset,
  PartitionedDataset,
  SQLQueryDataset,
  SQLTableDataset,
  SqlConnectionError,
  TableExistsError,
  TextDataset,
  UnknownDatasetTypeError,
  VersionNotFoundError,
  confirmIncrementalDatasets,
  isArrowTable,
  withRunKey,
} from './datasets/index.js';
export type * from './datasets/index.js';

// Projects, sessions and hooks
export { defineProject, isProjectDefinition } from './project/define-project.js';
export type { ProjectDefinition, ProjectOptions } from './project/define-project.js';
export { loadProject, findProjectFile, getPipeline } from './project/load-project.js';
export type { LoadedProject } from './project/load-project.js';
export {
  ProjectError,
  ProjectNotFoundError,
  InvalidProjectError,
  PipelineNotFoundError,
} from './project/errors.js';
export { Session, openSession } from './session.js';
export type { SessionOptions } from './session.js';
export type { Hooks, RunInfo, NodeInfo, CatalogView } from './hooks/types.js';

// Local runner
export { runPipelineLocally } from './runner/local-runner.js';
export type { LocalRunOptions, LocalRunResult, RunProgress } from './runner/local-runner.js';
export {
  RunnerError,
  MissingInputsError,
  NodeRunError,
  NonErrorThrownError,
  UndefinedOutputError,
  UncloneableValueError,
  NodeThreadError,
} from './runner/errors.js';
export { inlineExecutor } from './runner/run-node.js';
export { NodeCache, CACHE_TAG, NO_CACHE_TAG } from './runner/node-cache.js';
export type { NodeCacheOptions, CachedNodes, CacheHit } from './runner/node-cache.js';
export { LocalCacheStore, MlflowCacheStore } from './runner/cache-store.js';
export type { CacheStore, CacheStoreMode } from './runner/cache-store.js';
export type { NodeExecutor, NodeCall } from './runner/run-node.js';
export {
  threadExecutor,
  NodeThreadPool,
  runNodeFunctionInThread,
  defaultNodeThreadPool,
} from './runner/node-thread.js';
export type { ThreadExecutorOptions, NodeThreadPoolOptions } from './runner/node-thread.js';

// MLflow client and tracking
export {
  AbstractMlflowDataset,
  MLFLOW_YML_TEMPLATE,
  MlflowArtifactDataset,
  MlflowAuthError,
  MlflowClient,
  MlflowConfigError,
  MlflowConnectionError,
  MlflowDeadlineExceededError,
  MlflowError,
  MlflowInvalidParameterError,
  MlflowMetricDataset,
  MlflowMetricHistoryDataset,
  MlflowMetricsHistoryDataset,
  MlflowParamTooLongError,
  MlflowResourceAlreadyExistsError,
  MlflowResourceNotFoundError,
  MlflowUnexpectedResponseError,
  activeRun,
  createMlflowTrackingHook,
  isPipelineTracked,
  modelUrl,
  parseMlflowConfig,
  renderMlflowYmlTemplate,
  resolveMlflowConfig,
  runUrl,
  withActiveRun,
} from './mlflow/index.js';
export type * from './mlflow/index.js';

// PipelineML, packaging and models
export {
  DEFAULT_APPROVAL_TIMEOUT,
  FreeInputsError,
  InvalidInputNameError,
  InvalidSigningKeyError,
  MlflowModelLocalFileSystemDataset,
  MlflowModelRegistryDataset,
  MlflowModelTrackingDataset,
  ModelIntegrityError,
  ModelLoadError,
  ModelSignatureError,
  ModelVerificationError,
  NoInferenceOutputError,
  NotAPipelineMLError,
  PipelineML,
  PipelineMLError,
  PipelineMLOptionError,
  PipelineModel,
  SIGNING_KEY_ENV_VAR,
  SignatureValidationError,
  UnpersistedArtifactError,
  UnsafeModelPathError,
  createModelLoggingHook,
  inferParamsSchema,
  inferSchema,
  isPipelineMl,
  isPipelineModel,
  loadModel,
  logPipelineModel,
  packageRunModel,
  parseModelUri,
  pipelineMl,
  pipelineMlFactory,
  registerLoggedModel,
  savePipelineModel,
  verifyModel,
  writeIntegrityManifest,
} from './model/index.js';
export type * from './model/index.js';

// Temporal: worker, plugin and client API
export {
  createWorker,
  temporalMlflowPlugin,
  createProjectActivities,
  workflowsPath,
} from './temporal/worker.js';
export type { CreateWorkerOptions, TemporalMlflowPluginOptions } from './temporal/worker.js';
export {
  startTraining,
  startCompiledTraining,
  compileTrainingOptions,
  trainingHandle,
} from './temporal/client.js';
export type {
  StartTrainingOptions,
  CompiledTrainingOptions,
  TrainingHandle,
} from './temporal/client.js';
export { TrainingOptionsError, WorkerOptionsError } from './temporal/errors.js';
export { projectTaskQueue, describeIdentity, redactUri } from './temporal/identity.js';
export { queuePollers } from './temporal/pollers.js';
export type { QueuePoller } from './temporal/pollers.js';

// The model lifecycle: schedules, promotion with approval, sweeps
export {
  createTrainingSchedule,
  compileTrainingSchedule,
  listTrainingSchedules,
  describeTrainingSchedule,
  applyProjectSchedules,
  projectScheduleId,
  ScheduleOptionError,
  DEFAULT_OVERLAP_POLICY,
  DEFAULT_CATCHUP_WINDOW,
} from './temporal/schedules.js';
export type {
  TrainingScheduleOptions,
  CompiledTrainingSchedule,
  TrainingScheduleSummary,
  ApplyResult,
  ApplyProjectSchedulesOptions,
  OverlapPolicy,
} from './temporal/schedules.js';
export {
  approvePromotion,
  rejectPromotion,
  listPendingApprovals,
  ApprovalRefusedError,
} from './temporal/approvals.js';
export type { PendingApproval } from './temporal/approvals.js';
export {
  startSweep,
  parseSweepSpec,
  loadSweepSpec,
  expandTrials,
  SweepSpecError,
} from './temporal/sweep-client.js';
export type {
  SweepSpec,
  ParamSpace,
  ParamRange,
  StartSweepOptions,
  SweepHandle,
} from './temporal/sweep-client.js';
export type { ScheduleDeclaration } from './project/define-project.js';
export type * from './temporal/types.js';
export { ensureSearchAttributes, SEARCH_ATTRIBUTES } from './temporal/search-attributes.js';

// Payload encryption
export {
  createEncryptionCodec,
  encryptionDataConverter,
  dataConverterFromEnv,
  generateCodecKey,
  CodecKeyError,
  CodecDecryptError,
} from './temporal/codec.js';
export type { EncryptionCodec, EncryptionCodecOptions } from './temporal/codec.js';
export { createCodecServer, serveCodec, CodecServerConfigError } from './temporal/codec-server.js';
export type {
  CodecServerOptions,
  ServeCodecOptions,
  CodecServerHandle,
} from './temporal/codec-server.js';

// Serving
export {
  BadRequestError,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_MAX_COLUMNS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_RECORDS,
  InvalidParameterError,
  PayloadTooLargeError,
  RequestLimitError,
  ServerBusyError,
  ServingError,
  ServingStartupError,
  UnsupportedMediaTypeError,
  compileScoringServerOptions,
  createScoringServer,
  parseByteSize,
  serveModel,
} from './serving/index.js';
export type * from './serving/index.js';

// Names shared with scripts and workflows
export * as constants from './constants.js';
