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
/** The Temporal Web UI when TEMPORAL_UI_URL names none (the dev server's). */
export const DEFAULT_TEMPORAL_UI_URL = 'http://localhost:8233';

/**
 * Failure type of an activity handed back by a worker that cannot serve its run (another project,
 * environment, MLflow server or pipeline code): retried until a worker that can serve it takes it.
 */
export const WRONG_WORKER_FAILURE_TYPE = 'WrongWorker';

/** Typed search attributes upserted by the training workflow (registered by scripts/services). */
export const SEARCH_ATTRIBUTE_PIPELINE_NAME = 'PipelineName';
export const SEARCH_ATTRIBUTE_MLFLOW_RUN_ID = 'MlflowRunId';
/** Bool: true while a training or sweep waits for a person to approve or reject a promotion. */
export const SEARCH_ATTRIBUTE_PENDING_APPROVAL = 'PendingApproval';
/** Set by Temporal on workflows a Schedule starts: the schedule's id (Keyword). */
export const SEARCH_ATTRIBUTE_SCHEDULED_BY_ID = 'TemporalScheduledById';

/** Temporal's HTTP API, where `train` starts and follows trainings (`scripts/services` writes it). */
export const TEMPORAL_HTTP_ADDRESS_ENV = 'TEMPORAL_HTTP_ADDRESS';
/** The name of the training, batch and sweep workflows' `progress` query. */
export const PROGRESS_QUERY_NAME = 'progress';

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

/** MLflow 3's experiment kind: this value opens an experiment on its training-runs view. */
export const TAG_EXPERIMENT_KIND = 'mlflow.experimentKind';
export const EXPERIMENT_KIND_TRAINING = 'custom_model_development';

/** MLflow tag keys written by this library. */
export const TAG_WORKFLOW_ID = 'temporal_mlflow.workflow_id';
export const TAG_PIPELINE_NAME = 'temporal_mlflow.pipeline';
export const TAG_COMMAND = 'temporal_mlflow.command';
/** Why a run failed, and at which node (set when the run is ended FAILED). */
export const TAG_FAILED_NODE = 'temporal_mlflow.failed_node';
export const TAG_FAILURE = 'temporal_mlflow.failure';
/** MLflow's own tags: the run's description (markdown), its source and its user. */
export const MLFLOW_NOTE_TAG = 'mlflow.note.content';
export const MLFLOW_SOURCE_NAME_TAG = 'mlflow.source.name';
export const MLFLOW_SOURCE_TYPE_TAG = 'mlflow.source.type';
export const MLFLOW_USER_TAG = 'mlflow.user';
/** MLflow's own tag naming the parent of a nested run. */
export const MLFLOW_PARENT_RUN_ID_TAG = 'mlflow.parentRunId';
/** How a run was started (`schedule`, `sweep`) and by which schedule or sweep. */
export const TAG_TRIGGER = 'temporal_mlflow.trigger';
export const TAG_SCHEDULE_ID = 'temporal_mlflow.schedule_id';
export const TAG_SWEEP_ID = 'temporal_mlflow.sweep_id';
export const TAG_SWEEP_TRIAL = 'temporal_mlflow.sweep_trial';
/** Sweep parent run tags naming the best trial. */
export const TAG_SWEEP_BEST_RUN_ID = 'temporal_mlflow.sweep.best_run_id';
export const TAG_SWEEP_BEST_TRIAL = 'temporal_mlflow.sweep.best_trial';
/** Model version tags written by the promotion gate (`decision`: promoted, kept, rejected, timed_out). */
export const TAG_PROMOTION_DECISION = 'temporal_mlflow.promotion.decision';
export const TAG_PROMOTION_REASON = 'temporal_mlflow.promotion.reason';
export const TAG_PROMOTION_APPROVER = 'temporal_mlflow.promotion.approver';
export const TAG_PROMOTION_COMMENT = 'temporal_mlflow.promotion.comment';
export const TAG_PROMOTION_WORKFLOW_ID = 'temporal_mlflow.promotion.workflow_id';

/** Memo keys of schedules created by temporal-mlflow (to find and compare them). */
export const SCHEDULE_MEMO_PROJECT = 'temporalMlflowProject';
export const SCHEDULE_MEMO_SPEC_HASH = 'temporalMlflowSpecHash';
