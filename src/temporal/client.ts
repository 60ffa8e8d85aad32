import type { Client, WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { trainingWorkflow, TrainingWorkflowInput } from '../../workflows/training.js';
import { workflowDefinitions } from './lazy-definitions.js';
import {
  DEFAULT_CONFIG_ENV,
  DEFAULT_PIPELINE_NAME,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
} from '../constants.js';
import type { HttpStartOptions, HttpWorkflowStart, TemporalHttpApi } from './http-api.js';
import type { RunIdentity } from './identity.js';
import { resolveRunTarget } from './run-target.js';
import type {
  NodeActivityDefaults,
  PipelineFilters,
  TrainingProgress,
  TrainingResult,
} from './types.js';

/** The workflow type `startTraining` starts (the name the worker registers it under). */
const TRAINING_WORKFLOW_TYPE = 'trainingWorkflow';

export interface StartTrainingOptions {
  /**
   * The project's root. When given, the pipeline and filters are checked there before anything
   * starts, the run carries the project's identity (name, environment, MLflow server and
   * experiment) so that only its workers run it, and the task queue defaults to the project's.
   * Without it, `taskQueue` is required and the run adopts the identity of the worker that plans it.
   */
  projectDir?: string;
  /** @default '__default__' */
  pipeline?: string;
  params?: Record<string, unknown>;
  /** @default 'local' */
  env?: string;
  /** @default `train-<pipeline>-<uuid>` */
  workflowId?: string;
  /** @default `temporal-mlflow/<project name>/<env>` (the queue `temporal-mlflow worker` polls) */
  taskQueue?: string;
  filters?: PipelineFilters;
  /** Activity options for nodes that set none (timeouts, heartbeat, retry). */
  nodeDefaults?: Partial<NodeActivityDefaults>;
  /** The command line that started the run, recorded as an MLflow tag. */
  command?: string;
  /** Nodes per workflow history before the run is split into child workflows. @default 500 */
  nodesPerHistory?: number;
}

/** `StartTrainingOptions` with defaults applied and the project resolved, ready to start. */
export interface CompiledTrainingOptions {
  workflowId: string;
  taskQueue: string;
  pipeline: string;
  env: string;
  /** The project's identity, when `projectDir` was given. */
  identity?: RunIdentity;
  input: TrainingWorkflowInput;
}

/**
 * Applies the defaults of every run input once (pipeline, environment, workflow id, task queue)
 * and resolves the project when named — the one place the CLI, the library client and the main
 * job get them from (Temporal's options → defaults → compiled pattern).
 */
export async function compileTrainingOptions(
  options: StartTrainingOptions,
): Promise<CompiledTrainingOptions> {
  const pipeline = options.pipeline ?? DEFAULT_PIPELINE_NAME;
  const env = options.env ?? DEFAULT_CONFIG_ENV;
  const params = options.params ?? {};
  const filters = hasFilters(options.filters) ? options.filters : undefined;
  const { taskQueue, identity, session } = await resolveRunTarget({
    projectDir: options.projectDir,
    env,
    runtimeParams: params,
    taskQueue: options.taskQueue,
  });
  // Fails here, with the registered names, rather than on a worker.
  session?.pipeline(pipeline, filters);
  const user = startedBy();
  return {
    workflowId: options.workflowId ?? `train-${pipeline}-${randomUUID()}`,
    taskQueue,
    pipeline,
    env,
    ...(identity ? { identity } : {}),
    input: {
      pipeline,
      env,
      params,
      ...(identity ? { identity } : {}),
      ...(filters ? { filters } : {}),
      ...(options.nodeDefaults ? { nodeDefaults: options.nodeDefaults } : {}),
      ...(options.command ? { command: options.command } : {}),
      ...(user ? { startedBy: user } : {}),
      ...(options.nodesPerHistory ? { nodesPerHistory: options.nodesPerHistory } : {}),
    },
  };
}

/** The user starting a run, for the MLflow run's user (undefined where the OS has no name for it). */
function startedBy(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function hasFilters(filters: PipelineFilters | undefined): filters is PipelineFilters {
  return Object.values(filters ?? {}).some((value) => Array.isArray(value) && value.length > 0);
}

/** A started training workflow. */
export interface TrainingHandle {
  readonly workflowId: string;
  /** The task queue the run was started on (its workers poll it). */
  readonly taskQueue: string;
  readonly handle: WorkflowHandle<typeof trainingWorkflow>;
  /** The live state of every node (the workflow's `progress` query). */
  progress(): Promise<TrainingProgress>;
  /** The MLflow run id, as soon as the workflow has created the run (undefined if tracking is off). */
  mlflowRunId(options?: { timeoutMs?: number }): Promise<string | undefined>;
  /** The MLflow run and its experiment, as soon as the workflow has created the run. */
  mlflowRun(options?: {
    timeoutMs?: number;
  }): Promise<{ runId: string; experimentId?: string } | undefined>;
  /** Waits for the workflow; rejects with a WorkflowFailedError naming the failed node. */
  result(): Promise<TrainingResult>;
}

/** Starts the training workflow of a pipeline on the task queue the project's workers poll. */
export async function startTraining(
  client: Client,
  options: StartTrainingOptions = {},
): Promise<TrainingHandle> {
  const compiled = await compileTrainingOptions(options);
  return startCompiledTraining(client, compiled);
}

/** Starts a training from options compiled by `compileTrainingOptions`. */
export async function startCompiledTraining(
  client: Client,
  compiled: CompiledTrainingOptions,
): Promise<TrainingHandle> {
  const { pipelineNameKey } = await workflowDefinitions();
  const start = trainingStart(compiled);
  const handle = await client.workflow.start<typeof trainingWorkflow>(start.workflowType, {
    taskQueue: start.taskQueue,
    workflowId: start.workflowId,
    args: [compiled.input],
    staticSummary: start.staticSummary,
    staticDetails: start.staticDetails,
    typedSearchAttributes: [{ key: pipelineNameKey, value: compiled.pipeline }],
  });
  return trainingHandle(handle, compiled.taskQueue);
}

/**
 * Starts a training through Temporal's HTTP API (see `TemporalHttpApi`), without loading the
 * client: the request `startCompiledTraining` makes.
 */
export async function startCompiledTrainingOverHttp(
  api: TemporalHttpApi,
  compiled: CompiledTrainingOptions,
  options?: HttpStartOptions,
): Promise<{ workflowId: string; runId: string }> {
  const { runId } = await api.startWorkflow(
    {
      ...trainingStart(compiled),
      args: [compiled.input],
      keywordSearchAttributes: { [SEARCH_ATTRIBUTE_PIPELINE_NAME]: compiled.pipeline },
    },
    options,
  );
  return { workflowId: compiled.workflowId, runId };
}

/** What starting a training sends, whichever way it is sent. */
function trainingStart(compiled: CompiledTrainingOptions): Omit<
  HttpWorkflowStart,
  'args' | 'namespace'
> & {
  staticSummary: string;
  staticDetails: string;
} {
  return {
    workflowType: TRAINING_WORKFLOW_TYPE,
    workflowId: compiled.workflowId,
    taskQueue: compiled.taskQueue,
    staticSummary: `Train pipeline ${markdownCode(compiled.pipeline)} (env ${markdownCode(compiled.env)}${compiled.identity ? `, project ${markdownCode(compiled.identity.project)}` : ''})`,
    staticDetails: startDetails(compiled),
  };
}

/**
 * What the run was started with, for the Temporal UI's static details (markdown): pipeline,
 * environment, project, queue, filters, parameter overrides, who and how. Values only from the
 * command line and the project's identity: no configuration, so no credentials.
 */
function startDetails(compiled: CompiledTrainingOptions): string {
  const { input } = compiled;
  const lines = [
    `**Pipeline** ${markdownCode(compiled.pipeline)} · **env** ${markdownCode(compiled.env)}`,
    `**Task queue** ${markdownCode(compiled.taskQueue)}`,
  ];
  if (compiled.identity) lines.push(`**Project** ${markdownCode(compiled.identity.project)}`);
  const filters = Object.entries(input.filters ?? {}).filter(
    ([, value]) => Array.isArray(value) && value.length > 0,
  );
  if (filters.length > 0)
    lines.push(
      `**Filters** ${filters.map(([k, v]) => `${k}: ${markdownCode(String(v))}`).join(', ')}`,
    );
  const params = Object.entries(input.params ?? {});
  if (params.length > 0)
    lines.push(
      `**Parameters** ${params.map(([k, v]) => `${markdownCode(k)} = ${markdownCode(JSON.stringify(v))}`).join(', ')}`,
    );
  if (input.startedBy) lines.push(`**Started by** ${markdownCode(input.startedBy)}`);
  if (input.command) lines.push(`**Command** ${markdownCode(input.command)}`);
  return lines.join('\n\n');
}

/** A name as inline code in the Temporal UI's markdown (`__default__` stays as it is). */
function markdownCode(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/** A handle on an existing training workflow. */
export function trainingHandle(
  handle: WorkflowHandle<typeof trainingWorkflow>,
  taskQueue = '',
): TrainingHandle {
  const progress = async (): Promise<TrainingProgress> =>
    handle.query((await workflowDefinitions()).progressQuery);
  const mlflowRun: TrainingHandle['mlflowRun'] = async ({ timeoutMs = 60_000 } = {}) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await progress();
      if (state.mlflowRunId)
        return {
          runId: state.mlflowRunId,
          ...(state.mlflowExperimentId ? { experimentId: state.mlflowExperimentId } : {}),
        };
      if (state.state !== 'planning' || Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  return {
    workflowId: handle.workflowId,
    taskQueue,
    handle,
    progress,
    mlflowRun,
    mlflowRunId: async (options) => (await mlflowRun(options))?.runId,
    result: () => handle.result(),
  };
}
