import { temporalCommon } from '../src/temporal/lazy-modules.js';
import { CatalogConfigError } from '../src/catalog/errors.js';
import { DatasetConfigError } from '../src/datasets/errors.js';
import { MlflowAuthError, MlflowConfigError } from '../src/mlflow/errors.js';
import { PipelineError } from '../src/pipeline/errors.js';
import { ProjectError } from '../src/project/errors.js';
import { MissingInputDataError, MissingInputsError } from '../src/runner/errors.js';
import { BatchInputError } from '../src/batch/dataset-chunks.js';
import { JsonInputError } from '../src/batch/json-chunks.js';
import { DatasetNotFoundError } from '../src/datasets/errors.js';
import { PipelineMLError } from '../src/model/errors.js';
import { SignatureError, SignatureValidationError } from '../src/model/signature.js';
import { ServingError } from '../src/serving/errors.js';

/**
 * Error families no retry can fix, for every activity (training and batch scoring): the project
 * or its configuration is wrong, a model is bad or refused, the input is one the model rejects.
 */
const PERMANENT_ERRORS = [
  PipelineError,
  CatalogConfigError,
  DatasetConfigError,
  ProjectError,
  MlflowConfigError,
  // Refused credentials (401/403) stay refused however often they are sent: fail fast, say why.
  MlflowAuthError,
  MissingInputsError,
  MissingInputDataError,
  PipelineMLError,
  DatasetNotFoundError,
  BatchInputError,
  JsonInputError,
  SignatureValidationError,
  SignatureError,
  ServingError,
];

/**
 * Turns permanent errors into non-retryable failures typed with the error's name; anything
 * else (network, a flaky node) is rethrown as is and stays retryable.
 */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof Error && PERMANENT_ERRORS.some((family) => error instanceof family)) {
    return temporalCommon().ApplicationFailure.create({
      type: error.name,
      message: error.message,
      nonRetryable: true,
      cause: error,
    });
  }
  return error;
}

/** Runs an activity body, converting permanent errors to non-retryable failures. */
export async function classifyFailures<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toActivityFailure(error);
  }
}
