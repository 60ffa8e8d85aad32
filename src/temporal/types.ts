/**
 * Plain data exchanged between the training workflow, its activities and clients. Type-only for
 * workflow code: nothing here may carry dataset contents (they stay in the catalog or the
 * intermediate store).
 */

import type { RunIdentity } from './identity.js';

export type { RunIdentity } from './identity.js';

/** Where unpersisted (memory) datasets live between node activities. */
export type IntermediateStoreMode = 'local' | 'mlflow';

/** Input of `trainingWorkflow`, as `startTraining` sends it. */
export interface TrainingInput {
  /** Registered pipeline name (default `__default__`). */
  pipeline?: string;
  /** Configuration environment layered over `conf/base` (default `local`). */
  env?: string;
  /** Runtime parameter overrides, as `--params` gives them. */
  params?: Record<string, unknown>;
  /** Kedro-style filters applied to the registered pipeline before it runs. */
  filters?: PipelineFilters;
  /** The command line that started the run (recorded as an MLflow tag). */
  command?: string;
  /**
   * Who the run belongs to, as the client resolved it: a worker of another project, environment or
   * MLflow server hands the run back instead of running it. Unset fields are taken from the
   * worker that plans the run.
   */
  identity?: Partial<RunIdentity>;
}

export interface PipelineFilters {
  tags?: string[];
  fromNodes?: string[];
  toNodes?: string[];
  nodeNames?: string[];
  fromInputs?: string[];
  toOutputs?: string[];
}

/** Retry policy of one node activity, in milliseconds. */
export interface NodeRetryPlan {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
  nonRetryableErrorTypes?: string[];
}

/** One node as the workflow schedules it. */
export interface NodePlan {
  name: string;
  inputs: string[];
  outputs: string[];
  tags: string[];
  retry?: NodeRetryPlan;
  timeoutMs?: number;
  taskQueue?: string;
}

/** The resolved DAG of a pipeline run, returned by the plan activity. */
export interface PipelinePlan {
  pipeline: string;
  env: string;
  /** Hash of the nodes' code and wiring: a worker running other code is detected. */
  codeHash: string;
  /** The run's identity, completed by the planning worker; every later activity is checked against it. */
  identity: RunIdentity;
  /** Topologically sorted nodes. */
  nodes: NodePlan[];
  /** True when the pipeline is a PipelineML: a model is packaged when training succeeds. */
  isPipelineMl: boolean;
  /** False when the project has no MLflow server or the pipeline's tracking is disabled. */
  tracking: boolean;
  store: IntermediateStoreMode;
}

/** The MLflow run of a workflow, once found or created. */
export interface MlflowRunRef {
  runId: string;
  experimentId: string;
  runUrl: string;
}

/** What every node activity needs to rebuild its run context on any worker. */
export interface RunContext {
  workflowId: string;
  pipeline: string;
  env: string;
  params: Record<string, unknown>;
  /** The filters the plan applied: nodes hash and resolve the same selection. */
  filters?: PipelineFilters;
  identity: RunIdentity;
  codeHash: string;
  store: IntermediateStoreMode;
  mlflowRunId?: string;
  command?: string;
}

export interface RunNodeInput {
  context: RunContext;
  node: string;
}

export interface RunNodeResult {
  node: string;
  durationMs: number;
  /** Saved outputs and their sizes in bytes where known (never their contents). */
  outputs: string[];
}

export type NodeState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export type TrainingState =
  'planning' | 'running' | 'packaging' | 'closing' | 'completed' | 'failed' | 'cancelled';

/** Answer of the `progress` query. */
export interface TrainingProgress {
  pipeline: string;
  state: TrainingState;
  total: number;
  done: number;
  running: string[];
  nodes: Record<string, NodeState>;
  mlflowRunId?: string;
  modelUri?: string;
  failedNode?: string;
  error?: string;
}

/** A logged model, as the packaging activity reports it. */
export interface LoggedModelRef {
  modelId: string;
  modelUri: string;
  runModelUri: string;
  registeredModelName?: string;
  registeredModelVersion?: string;
  /** The registry alias of the version: moved when the run has closed successfully. */
  alias?: string;
}

/** Result of a successful training workflow. */
export interface TrainingResult {
  pipeline: string;
  mlflowRunId?: string;
  mlflowRunUrl?: string;
  model?: LoggedModelRef;
  nodes: number;
  durationMs: number;
}

/** Input of a chunk child workflow: a slice of a big plan, run as its own history. */
export interface ChunkInput {
  context: RunContext;
  nodes: NodePlan[];
  defaults: NodeActivityDefaults;
}

/** Activity options applied to nodes that set none. */
export interface NodeActivityDefaults {
  startToCloseTimeoutMs: number;
  heartbeatTimeoutMs: number;
  retry: NodeRetryPlan;
}
