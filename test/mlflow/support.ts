/** Helpers of the MLflow tests: the real server's URL, unique names, a client. */
import { randomBytes } from 'node:crypto';
import { readServicesEnv } from '../support/services.js';
import { MlflowClient } from '../../src/mlflow/index.js';
import type { MlflowClientOptions } from '../../src/mlflow/index.js';

/** MLFLOW_TRACKING_URI from the environment, else from .local/services.env; throws when neither has it. */
export function trackingUri(): string {
  const uri = process.env.MLFLOW_TRACKING_URI ?? readServicesEnv().MLFLOW_TRACKING_URI;
  if (!uri)
    throw new Error(
      "MLFLOW_TRACKING_URI is not set and .local/services.env does not name it: run 'npm run services start'.",
    );
  return uri;
}

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now()}-${randomBytes(4).toString('hex')}`;
}

export function realClient(options: Partial<MlflowClientOptions> = {}): MlflowClient {
  return new MlflowClient({ trackingUri: trackingUri(), ...options });
}
