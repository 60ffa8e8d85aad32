/**
 * Entities as the MLflow 3 REST API returns them (snake_case, as on the wire), plus the camelCase
 * inputs the client methods take. Metric values are numbers here: the client turns the server's
 * `"NaN"` back into `NaN`.
 */

/** A `{key, value}` pair as MLflow stores tags and params. */
export interface KeyValue {
  key: string;
  value: string;
}

export type LifecycleStage = 'active' | 'deleted';
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
/** Which runs / experiments a search returns. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  /** JSON text describing where the data came from, e.g. `{"uri": "data/01_raw/x.csv"}`. */
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  dataset: Dataset;
  tags?: KeyValue[];
}

export interface ModelOutput {
  model_id: string;
  step: number;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: DatasetInput[]; model_inputs?: { model_id: string }[] };
  outputs?: { model_outputs?: ModelOutput[] };
}

/** One entry of an artifact listing; `path` is relative to the artifact root that was listed. */
export interface ArtifactFile {
  path: string;
  isDir: boolean;
  fileSize?: number;
}

export type LoggedModelStatus =
  'LOGGED_MODEL_PENDING' | 'LOGGED_MODEL_READY' | 'LOGGED_MODEL_UPLOAD_FAILED';

export interface LoggedModelInfo {
  /** `m-<hex>`. */
  model_id: string;
  experiment_id: string;
  name: string;
  /** Where the model's files go: `mlflow-artifacts:/<exp>/models/<model_id>/artifacts`. */
  artifact_uri: string;
  status: LoggedModelStatus;
  model_type?: string;
  source_run_id?: string;
  creation_timestamp_ms?: number;
  last_updated_timestamp_ms?: number;
  tags?: KeyValue[];
}

export interface LoggedModel {
  info: LoggedModelInfo;
  data?: { params?: KeyValue[]; metrics?: Metric[] };
}

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  tags?: KeyValue[];
  aliases?: { alias: string; version: string }[];
}

export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  model_id?: string;
  status?: 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  tags?: KeyValue[];
  aliases?: string[];
}

/** One page of a search, with the token for the next page when there is one. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/** Inputs ------------------------------------------------------------------------------------ */

/** Tags given as a record or as MLflow's `{key, value}` list. */
export type TagsInput = Record<string, string> | KeyValue[];

export interface MetricInput {
  key: string;
  /** Any number; NaN and ±Infinity are allowed (MLflow stores ±Infinity as ±1.797e308). */
  value: number;
  /** Integer step, default 0. */
  step?: number;
  /** Milliseconds since the epoch, default now. */
  timestamp?: number;
  /** MLflow 3: the LoggedModel the value belongs to (shown on the model's page). */
  modelId?: string;
}

export interface ParamInput {
  key: string;
  value: string | number | boolean;
}

export interface LogBatchInput {
  metrics?: MetricInput[];
  params?: ParamInput[];
  tags?: TagsInput;
}

/** Paging options shared by the searches. */
export interface PageOptions {
  maxResults?: number;
  pageToken?: string;
}
