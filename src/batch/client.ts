import type { Client, WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { DEFAULT_CONFIG_ENV } from '../constants.js';
import { resolveRunTarget } from '../temporal/run-target.js';
import type { batchScoringWorkflow } from '../../workflows/batch.js';
import { workflowDefinitions } from '../temporal/lazy-definitions.js';
import type { BatchScoringInput, BatchScoringProgress, BatchScoringResult } from './types.js';

/** The workflow type `startBatchScoring` starts (the name the worker registers it under). */
const BATCH_WORKFLOW_TYPE = 'batchScoringWorkflow';

export interface StartBatchScoringOptions extends BatchScoringInput {
  /**
   * Starting again with the id of a failed run resumes it: chunks already scored are skipped.
   * @default `batch-<input>-<uuid>`
   */
  workflowId?: string;
  /**
   * The project's root: the run carries its identity (only its workers score it) and the task queue
   * defaults to the project's. Without it, `taskQueue` is required.
   */
  projectDir?: string;
  /** @default `temporal-mlflow/<project name>/<env>` */
  taskQueue?: string;
}

/** A started batch scoring workflow. */
export interface BatchScoringHandle {
  readonly workflowId: string;
  readonly handle: WorkflowHandle<typeof batchScoringWorkflow>;
  /** Rows and chunks done so far (the workflow's `progress` query). */
  progress(): Promise<BatchScoringProgress>;
  /** Waits for the workflow; rejects with a WorkflowFailedError whose message says what failed. */
  result(): Promise<BatchScoringResult>;
}

/** Starts `batchScoringWorkflow` on the task queue the workers poll. */
export async function startBatchScoring(
  client: Client,
  options: StartBatchScoringOptions,
): Promise<BatchScoringHandle> {
  const { workflowId: id, taskQueue: explicitQueue, projectDir, ...input } = options;
  const workflowId = id ?? `batch-${input.input}-${randomUUID()}`;
  const env = input.env ?? DEFAULT_CONFIG_ENV;
  const { taskQueue, identity } = await resolveRunTarget({
    projectDir,
    env,
    runtimeParams: input.runtimeParams ?? {},
    taskQueue: explicitQueue,
  });
  const handle = await client.workflow.start<typeof batchScoringWorkflow>(BATCH_WORKFLOW_TYPE, {
    taskQueue,
    workflowId,
    args: [{ ...input, env, ...(identity ? { identity } : {}) }],
    staticSummary: `Score '${input.input}' → '${input.output}' with ${input.modelUri}`,
  });
  return batchScoringHandle(handle);
}

/** A handle on an existing batch scoring workflow. */
export function batchScoringHandle(
  handle: WorkflowHandle<typeof batchScoringWorkflow>,
): BatchScoringHandle {
  return {
    workflowId: handle.workflowId,
    handle,
    progress: async () => handle.query((await workflowDefinitions()).batchProgressQuery),
    result: () => handle.result(),
  };
}
