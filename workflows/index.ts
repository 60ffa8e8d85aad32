/**
 * temporal-mlflow's workflows, safe to bundle into Temporal's deterministic sandbox. Re-export
 * them from your own workflows module (`export * from 'temporal-mlflow/workflows'`), or give the
 * worker `workflowsPath` from `temporal-mlflow` when you have none.
 */
export {
  trainingWorkflow,
  pipelineChunkWorkflow,
  progressQuery,
  pipelineNameKey,
  mlflowRunIdKey,
  NODES_PER_HISTORY,
} from './training.js';
export type { TrainingWorkflowInput } from './training.js';
export { batchScoringWorkflow, batchProgressQuery } from './batch.js';
export { sweepWorkflow, sweepProgressQuery, DEFAULT_MAX_PARALLEL } from './sweep.js';
export {
  approveUpdate,
  rejectUpdate,
  pendingApprovalKey,
  scheduledByIdKey,
} from './definitions.js';
