/**
 * Plain data exchanged between the training workflow, its activities and clients. Type-only for
 * workflow code: nothing here may carry dataset contents (they stay in the catalog or the
 * intermediate store).
 */

import type { LoggedMetric } from '../mlflow/latest-metric.js';
import type { PipelineFilterOptions } from '../pipeline/selection.js';
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
  /** Who started the run (the client's user name), recorded as the MLflow run's user. */
  startedBy?: string;
  /**
   * Who the run belongs to, as the client resolved it: a worker of another project, environment or
   * MLflow server hands the run back instead of running it. Unset fields are taken from the
   * worker that plans the run.
   */
  identity?: Partial<RunIdentity>;
  /** The MLflow run this run nests under (`mlflow.parentRunId`), e.g. a sweep's parent run. */
  parentRunId?: string;
  /** The sweep and trial this run is part of. */
  sweep?: { id: string; trial: number };
  /**
   * Register the packaged model and pass it through the promotion gate. Sweep trials set `false`:
   * only the best trial's model is registered, by the sweep. @default true
   */
  registerModel?: boolean;
  /** Run every node, neither reading nor writing the node cache (`train --no-cache`). */
  noCache?: boolean;
}

/** Kedro-style filters of a run, as the pipeline's `filter` takes them (plain data: they travel in payloads). */
export type PipelineFilters = PipelineFilterOptions;

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
  /** Run as a local activity, in the worker that runs the workflow (node option `local`). */
  local?: boolean;
  /** The planning worker's node cache applies to the node: the run may restore it at once. */
  cacheable?: boolean;
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
  /** The PipelineML's promotion gate, when it declares one. */
  promotion?: PromotionPolicy;
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
  startedBy?: string;
  /** The Temporal Schedule that started the run (tagged on the MLflow run). */
  scheduleId?: string;
  /** Parent MLflow run (`mlflow.parentRunId`). */
  parentRunId?: string;
  /** The sweep this run belongs to; `trial` is unset on the sweep's own (parent) run. */
  sweep?: { id: string; trial?: number };
  /** `false`: package the model without registering it (sweep trials). */
  registerModel?: boolean;
  /** Run every node, neither reading nor writing the node cache. */
  noCache?: boolean;
  /**
   * Set (to startMlflowRun only) when the workflow is the first execution of its id (not reset,
   * not continued as new): no earlier run can have created its MLflow run, so a first attempt
   * creates it without looking for it first.
   */
  firstExecution?: boolean;
}

export interface RunNodeInput {
  context: RunContext;
  node: string;
}

/**
 * A linear run of `local: true` nodes run in order in one local activity (see `runNodes`): each
 * with its own start-to-close timeout; the first with the local activity's retry policy.
 */
export interface RunNodesInput {
  context: RunContext;
  nodes: { node: string; timeoutMs: number }[];
  /**
   * No node after the first starts once the group has run this long: the completed part is
   * returned (and recorded), the workflow runs the rest as a new group. Bounds what a worker crash
   * makes run again, as per-node markers would.
   */
  budgetMs?: number;
}

/**
 * The nodes of a group that completed, in order; when a node after the first failed, its failure
 * (it took one attempt; the nodes after it did not run).
 */
export interface RunNodesResult {
  completed: RunNodeResult[];
  failure?: { node: string; message: string; type: string; nonRetryable: boolean };
}

export interface RunNodeResult {
  node: string;
  durationMs: number;
  /** Saved outputs and their sizes in bytes where known (never their contents). */
  outputs: string[];
  /** True when the outputs were restored from the node cache (the function did not run). */
  cached?: boolean;
  /** The run the cached outputs came from: its MLflow run id, else its run (workflow) id. */
  cachedFrom?: string;
  /** The latest value of each metric the node logged to the run (its datasets or its own code). */
  metrics?: Record<string, LoggedMetric>;
  /** True when the node logged more metrics than a result carries (none are in `metrics`). */
  metricsOmitted?: boolean;
}

/** A node restored from the node cache before the node activities start. */
export interface RestoredNode {
  node: string;
  /** The run the outputs came from: its MLflow run id, else its run (workflow) id. */
  cachedFrom: string;
  /** Since the restoring activity started. */
  durationMs: number;
}

export type NodeState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export type TrainingState =
  | 'planning'
  | 'running'
  | 'packaging'
  | 'closing'
  | 'promoting'
  | 'awaiting-approval'
  | 'completed'
  | 'failed'
  | 'cancelled';

/** Answer of the `progress` query. */
export interface TrainingProgress {
  pipeline: string;
  state: TrainingState;
  total: number;
  done: number;
  running: string[];
  nodes: Record<string, NodeState>;
  mlflowRunId?: string;
  /** The experiment of the run: with the caller's own tracking URI, the run's UI page. */
  mlflowExperimentId?: string;
  /** The MLflow UI page of the run (with the worker's tracking URI). */
  mlflowRunUrl?: string;
  modelUri?: string;
  failedNode?: string;
  error?: string;
  /** The promotion gate's decision, once taken (or the pending one while awaiting approval). */
  promotion?: PromotionDecision;
  /** Nodes completed from the node cache (their functions did not run). */
  cached?: string[];
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
  mlflowExperimentId?: string;
  mlflowRunUrl?: string;
  model?: LoggedModelRef;
  /** What the promotion gate decided about the model's alias. */
  promotion?: PromotionDecision;
  nodes: number;
  /** Nodes restored from the node cache, of `nodes`. */
  cachedNodes?: number;
  /**
   * The run's latest value of each metric its nodes logged (finite values only), when the run's
   * nodes all ran in this workflow (none restored before they ran, no child histories): what a
   * sweep ranks its trials by. A metric missing here is read from MLflow.
   */
  metrics?: Record<string, number>;
  durationMs: number;
}

/** A PipelineML's promotion gate, compiled (see `PromoteOptions`). */
export interface PromotionPolicy {
  alias: string;
  metric: string;
  greaterIsBetter: boolean;
  minImprovement: number;
  requireApproval: boolean;
  approvalTimeoutMs: number;
}

/**
 * Outcome of the promotion gate. `promoted`: the alias moved; `kept`: the holder stays (the new
 * model is not better, or has no metric); `rejected`: a person said no; `timed_out`: nobody
 * answered in time; `cancelled`: the workflow was cancelled while waiting.
 */
export type PromotionOutcome = 'promoted' | 'kept' | 'rejected' | 'timed_out' | 'cancelled';

/** What the gate decided and why: recorded as model version tags and returned by the workflow. */
export interface PromotionDecision {
  decision: PromotionOutcome;
  reason: string;
  alias: string;
  registeredModelName: string;
  version: string;
  metric?: string;
  /** The new model's metric value. */
  candidateValue?: number;
  /** The alias holder before the gate, and its metric value. */
  championVersion?: string;
  championValue?: number;
  approver?: string;
  comment?: string;
}

/** The comparison of a new model with the alias holder, before any approval. */
export interface PromotionEvaluation {
  /** True when the new model should take the alias (better, or nobody holds it). */
  better: boolean;
  reason: string;
  candidateValue?: number;
  championVersion?: string;
  championValue?: number;
}

/** Argument of the `approve` and `reject` Updates. */
export interface ApprovalInput {
  /** Who decided (recorded on the model version). @default 'unknown' */
  approver?: string;
  comment?: string;
}

/** Answer of the `approve` / `reject` Updates. */
export interface ApprovalAnswer {
  accepted: true;
  decision: 'approved' | 'rejected';
  registeredModelName: string;
  version: string;
  alias: string;
}

/** One trial of a sweep: the values it tries (dotted names) and the full runtime params. */
export interface SweepTrial {
  /** The swept values, e.g. `{ 'model.smoothing': 0.5 }`. */
  values: Record<string, unknown>;
  /** The runtime params of the trial's training (base params with the values merged in). */
  params: Record<string, unknown>;
}

/** One trial of a sweep as the sweep workflow reports it. */
export interface TrialOutcome {
  trial: number;
  values: Record<string, unknown>;
  state: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
  workflowId: string;
  mlflowRunId?: string;
  modelId?: string;
  metric?: number;
  error?: string;
}

/** Input of `sweepWorkflow`: explicit trials (the client expands grids and samples). */
export interface SweepInput {
  pipeline?: string;
  env?: string;
  /** Parameters shared by every trial (the parent run's). */
  params?: Record<string, unknown>;
  trials: SweepTrial[];
  /** @default 4 */
  maxParallel?: number;
  /** The metric that ranks trials. @default the pipeline's promotion metric */
  metric?: string;
  /** @default 'maximize' (or the promotion gate's direction) */
  goal?: 'maximize' | 'minimize';
  identity?: Partial<RunIdentity>;
  command?: string;
  /** Activity options of the trials' nodes. */
  nodeDefaults?: Partial<NodeActivityDefaults>;
  /** Task queue of the trial workflows. @default the sweep's own */
  taskQueue?: string;
}

/** Answer of the sweep's `progress` query. */
export interface SweepProgress {
  pipeline: string;
  state: 'planning' | 'running' | 'registering' | TrainingState;
  total: number;
  done: number;
  running: number;
  failed: number;
  trials: TrialOutcome[];
  mlflowRunId?: string;
  best?: { trial: number; metric: number; mlflowRunId: string };
  promotion?: PromotionDecision;
}

/** Result of a sweep. */
export interface SweepResult {
  pipeline: string;
  mlflowRunId?: string;
  metric?: string;
  best?: TrialOutcome;
  trials: TrialOutcome[];
  model?: LoggedModelRef;
  promotion?: PromotionDecision;
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
