/**
 * temporal-mlflow: durable, TypeScript-native ML pipelines on Temporal whose inference pipeline is
 * packaged at training time and served from MLflow (Kedro + kedro-mlflow, in TypeScript).
 *
 * Workflow code lives in the workflow-safe subpath `temporal-mlflow/workflows`.
 */

// Pipelines (Kedro core)
export * from './pipeline/index.js';

// Data catalog, configuration and datasets
export * from './catalog/index.js';
export * from './datasets/index.js';

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
export { RunnerError, MissingInputsError, NodeRunError } from './runner/errors.js';

// MLflow client and tracking
export * from './mlflow/index.js';

// PipelineML, packaging and models
export * from './model/index.js';

// Temporal: worker, plugin and client API
export {
  createWorker,
  temporalMlflowPlugin,
  createProjectActivities,
  workflowsPath,
} from './temporal/worker.js';
export type { CreateWorkerOptions, TemporalMlflowPluginOptions } from './temporal/worker.js';
export { startTraining, trainingHandle } from './temporal/client.js';
export type { StartTrainingOptions, TrainingHandle } from './temporal/client.js';
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
export { createCodecServer, serveCodec } from './temporal/codec-server.js';
export type {
  CodecServerOptions,
  ServeCodecOptions,
  CodecServerHandle,
} from './temporal/codec-server.js';

// Serving
export * from './serving/index.js';

// Names shared with scripts and workflows
export * as constants from './constants.js';
