/**
 * What clients and workflows share: queries and search attribute keys, defined once. Safe to import
 * from workflow code and from Node alike (it imports only `@temporalio/workflow`'s definitions).
 */
import { defineQuery } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
} from '../src/constants.js';
import type { BatchScoringProgress } from '../src/batch/types.js';
import type { TrainingProgress } from '../src/temporal/types.js';

/** The training workflow's `progress` query: the state of every node of the run. */
export const progressQuery = defineQuery<TrainingProgress>('progress');

/** The batch workflow's `progress` query (same name as the training workflow's). */
export const batchProgressQuery = defineQuery<BatchScoringProgress>('progress');

export const pipelineNameKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
  SearchAttributeType.KEYWORD,
);
export const mlflowRunIdKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SearchAttributeType.KEYWORD,
);
