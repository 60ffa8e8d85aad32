import { ApplicationFailure } from '@temporalio/common';
import { CatalogConfigError } from '../src/catalog/errors.js';
import { DatasetConfigError } from '../src/datasets/errors.js';
import { MlflowConfigError } from '../src/mlflow/errors.js';
import { PipelineError } from '../src/pipeline/errors.js';
import { ProjectError } from '../src/project/errors.js';
import { MissingInputsError } from '../src/runner/errors.js';

/** Error families that mean "the project or its configuration is wrong": retrying cannot help. */
const CONFIGURATION_ERRORS = [
  PipelineError,
  CatalogConfigError,
  DatasetConfigError,
  ProjectError,
  MlflowConfigError,
  MissingInputsError,
];

/**
 * Turns configuration mistakes into non-retryable failures typed with the error's name; anything
 * else (network, a flaky node) is rethrown as is and stays retryable.
 */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof Error && CONFIGURATION_ERRORS.some((family) => error instanceof family)) {
    return ApplicationFailure.create({
      type: error.name,
      message: error.message,
      nonRetryable: true,
      cause: error,
    });
  }
  return error;
}

/** Runs an activity body, converting configuration errors to non-retryable failures. */
export async function classifyFailures<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toActivityFailure(error);
  }
}
