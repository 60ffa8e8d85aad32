/**
 * What clients and workflows share: queries, updates and search attribute keys, defined once. Safe
 * to import from workflow code and from Node alike (it imports only `@temporalio/workflow`'s
 * definitions).
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SEARCH_ATTRIBUTE_PENDING_APPROVAL,
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

/** The training workflow's `progress` query: the state of every node of the run. */
export const progressQuery = defineQuery<TrainingProgress>('progress');

/** The batch workflow's `progress` query (same name as the training workflow's). */
export const batchProgressQuery = defineQuery<BatchScoringProgress>('progress');

/** The sweep workflow's `progress` query: trials done, running and failed. */
export const sweepProgressQuery = defineQuery<SweepProgress>('progress');

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
