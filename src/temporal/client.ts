import type { Client, WorkflowHandle } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_CONFIG_ENV,
  DEFAULT_PIPELINE_NAME,
  DEFAULT_TASK_QUEUE,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
} from '../constants.js';
import type {
  NodeActivityDefaults,
  PipelineFilters,
  TrainingProgress,
  TrainingResult,
} from './types.js';

const PROGRESS_QUERY = 'progress';
const TRAINING_WORKFLOW = 'trainingWorkflow';
const pipelineNameKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
  SearchAttributeType.KEYWORD,
);

export interface StartTrainingOptions {
  /** @default '__default__' */
  pipeline?: string;
  params?: Record<string, unknown>;
  /** @default 'local' */
  env?: string;
  /** @default `train-<pipeline>-<uuid>` */
  workflowId?: string;
  /** @default 'temporal-mlflow' */
  taskQueue?: string;
  filters?: PipelineFilters;
  /** Activity options for nodes that set none (timeouts, heartbeat, retry). */
  nodeDefaults?: Partial<NodeActivityDefaults>;
  /** The command line that started the run, recorded as an MLflow tag. */
  command?: string;
  /** Nodes per workflow history before the run is split into child workflows. @default 500 */
  nodesPerHistory?: number;
}

/** A started training workflow. */
export interface TrainingHandle {
  readonly workflowId: string;
  readonly handle: WorkflowHandle;
  /** The live state of every node (the workflow's `progress` query). */
  progress(): Promise<TrainingProgress>;
  /** The MLflow run id, as soon as the workflow has created the run (undefined if tracking is off). */
  mlflowRunId(options?: { timeoutMs?: number }): Promise<string | undefined>;
  /** Waits for the workflow; rejects with a WorkflowFailedError naming the failed node. */
  result(): Promise<TrainingResult>;
}

/** Starts the training workflow of a pipeline on the task queue the workers poll. */
export async function startTraining(
  client: Client,
  options: StartTrainingOptions = {},
): Promise<TrainingHandle> {
  const pipeline = options.pipeline ?? DEFAULT_PIPELINE_NAME;
  const env = options.env ?? DEFAULT_CONFIG_ENV;
  const workflowId = options.workflowId ?? `train-${pipeline}-${randomUUID()}`;
  const handle = await client.workflow.start(TRAINING_WORKFLOW, {
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId,
    args: [
      {
        pipeline,
        env,
        params: options.params ?? {},
        ...(options.filters ? { filters: options.filters } : {}),
        ...(options.nodeDefaults ? { nodeDefaults: options.nodeDefaults } : {}),
        ...(options.command ? { command: options.command } : {}),
        ...(options.nodesPerHistory ? { nodesPerHistory: options.nodesPerHistory } : {}),
      },
    ],
    staticSummary: `Train pipeline '${pipeline}' (env ${env})`,
    typedSearchAttributes: [{ key: pipelineNameKey, value: pipeline }],
  });
  return trainingHandle(handle);
}

/** A handle on an existing training workflow. */
export function trainingHandle(handle: WorkflowHandle): TrainingHandle {
  const progress = (): Promise<TrainingProgress> => handle.query<TrainingProgress>(PROGRESS_QUERY);
  return {
    workflowId: handle.workflowId,
    handle,
    progress,
    async mlflowRunId({ timeoutMs = 60_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = await progress();
        if (state.mlflowRunId || state.state !== 'planning') return state.mlflowRunId;
        if (Date.now() > deadline) return undefined;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    result: () => handle.result() as Promise<TrainingResult>,
  };
}
