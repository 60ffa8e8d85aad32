/**
 * Temporal activities of temporal-mlflow: the only place a Temporal run does I/O. Built by
 * factories that receive their dependencies; workflows import the types only.
 */
export { createTrainingActivities } from './training-activities.js';
export type { TrainingActivities, TrainingActivityDeps } from './training-activities.js';
export { SessionCache } from './session-cache.js';
export { classifyFailures, toActivityFailure } from './failures.js';
export { createBatchActivities, MAX_CHUNKS } from './batch-activities.js';
export type { BatchActivities, BatchActivityDeps } from './batch-activities.js';
export { createLifecycleActivities } from './lifecycle-activities.js';
export type { LifecycleActivities, LifecycleActivityDeps } from './lifecycle-activities.js';
export { createSweepActivities } from './sweep-activities.js';
export type { SweepActivities, SweepActivityDeps } from './sweep-activities.js';
