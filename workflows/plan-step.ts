import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { TrainingActivities } from '../activities/index.js';

/**
 * One local attempt: whatever fails it (this worker may serve another project, whose failures say
 * nothing about the run), the regular activity runs with its own retry policy.
 */
export const ONE_LOCAL_ATTEMPT = { maximumAttempts: 1 } as const;

const PLAN_OPTIONS = {
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
  summary: 'plan',
} as const;

/** Planning a run (training or sweep): the regular activity, which the right worker takes. */
export const { planPipeline } = proxyActivities<TrainingActivities>(PLAN_OPTIONS);
/** Planning as a local activity: one attempt, on the worker that took the workflow task. */
export const { planPipeline: planPipelineLocally } = proxyLocalActivities<TrainingActivities>({
  ...PLAN_OPTIONS,
  retry: ONE_LOCAL_ATTEMPT,
});
