/**
 * Names shared by the library, the workflows and the scripts. This module imports nothing, so
 * workflow code may import it too. Never repeat one of these literals elsewhere.
 */

/** Node.js versions the library and packaged models run on (as package.json's engines). */
export const NODE_ENGINE = '>=20.3';

/** The package and CLI name. */
export const PACKAGE_NAME = 'temporal-mlflow';

/** Temporal frontend and namespace when neither flags nor TEMPORAL_* variables name one. */
export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/**
 * Failure type of an activity handed back by a worker that cannot serve its run (another project,
 * environment, MLflow server or pipeline code): retried until a worker that can serve it takes it.
 */
export const WRONG_WORKER_FAILURE_TYPE = 'WrongWorker';

/** Typed search attributes upserted by the training workflow (registered by scripts/services). */
export const SEARCH_ATTRIBUTE_PIPELINE_NAME = 'PipelineName';
export const SEARCH_ATTRIBUTE_MLFLOW_RUN_ID = 'MlflowRunId';

/** Pipeline used when none is named, as in Kedro. */
export const DEFAULT_PIPELINE_NAME = '__default__';

/** Configuration environment layered over `conf/base`, as in Kedro. */
export const DEFAULT_CONFIG_ENV = 'local';
export const BASE_CONFIG_ENV = 'base';

/** Project definition file names, looked up in this order at a project's root. */
export const PROJECT_FILE_NAMES = [
  'temporal-mlflow.config.ts',
  'temporal-mlflow.config.mts',
  'temporal-mlflow.config.js',
  'temporal-mlflow.config.mjs',
] as const;

/** MLflow model flavors written to MLmodel. */
export const MODEL_FLAVOR = 'temporal_mlflow';
export const PYFUNC_FLAVOR = 'python_function';

/** Version of the `temporal_mlflow` flavor's folder layout (bumped when the layout changes). */
export const MODEL_FORMAT_VERSION = '1';

/** The default artifact path / LoggedModel name, as in kedro-mlflow. */
export const DEFAULT_MODEL_NAME = 'model';

/** MLflow tag keys written by this library. */
export const TAG_WORKFLOW_ID = 'temporal_mlflow.workflow_id';
export const TAG_PIPELINE_NAME = 'temporal_mlflow.pipeline';
export const TAG_COMMAND = 'temporal_mlflow.command';
export const MLFLOW_RUN_NAME_TAG = 'mlflow.runName';
