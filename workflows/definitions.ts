/**
 * What clients and workflows share: queries, updates and search attribute keys, defined once. Safe
 * to import from workflow code and from Node alike.
 */
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type QueryDefinition,
  type UpdateDefinition,
} from '@temporalio/common';
import {
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SEARCH_ATTRIBUTE_PENDING_APPROVAL,
  PROGRESS_QUERY_NAME,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
  SEARCH_ATTRIBUTE_SCHEDULED_BY_ID,
} from '../src/constants.js';
import type { BatchScoringProgress } from '../src/batch/types.js';
import type {
  ApprovalAnswer,
  ApprovalInput,
  SweepProgress,
  TrainingProgress,
} from '../src/temporal/types.js';

// The plain objects `defineQuery` / `defineUpdate` of `@temporalio/workflow` return: clients import
// this module, and loading the workflow package there would cost every CLI command ~0.2 s.
const defineQuery = <Ret>(name: string) =>
  ({ type: 'query', name }) as unknown as QueryDefinition<Ret>;
const defineUpdate = <Ret, Args extends unknown[]>(name: string) =>
  ({ type: 'update', name }) as unknown as UpdateDefinition<Ret, Args>;

/** The training workflow's `progress` query: the state of every node of the run. */
export const progressQuery = defineQuery<TrainingProgress>(PROGRESS_QUERY_NAME);

/** The batch workflow's `progress` query (same name as the training workflow's). */
export const batchProgressQuery = defineQuery<BatchScoringProgress>(PROGRESS_QUERY_NAME);

/** The sweep workflow's `progress` query: trials done, running and failed. */
export const sweepProgressQuery = defineQuery<SweepProgress>(PROGRESS_QUERY_NAME);

/**
 * Approves the promotion a training or sweep waits for: the alias moves. Refused (validator) when
 * no approval is pending.
 */
export const approveUpdate = defineUpdate<ApprovalAnswer, [ApprovalInput]>('approve');

/** Rejects the promotion a training or sweep waits for: the alias stays where it is. */
export const rejectUpdate = defineUpdate<ApprovalAnswer, [ApprovalInput]>('reject');

export const pipelineNameKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
  SearchAttributeType.KEYWORD,
);
export const mlflowRunIdKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SearchAttributeType.KEYWORD,
);
/** True while the workflow waits for `approve` / `reject`. */
export const pendingApprovalKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_PENDING_APPROVAL,
  SearchAttributeType.BOOL,
);
/** Set by Temporal on workflows started by a Schedule. */
export const scheduledByIdKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_SCHEDULED_BY_ID,
  SearchAttributeType.KEYWORD,
);
