import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lifecycleProject } from './lifecycle.js';
import type { ProxiedRequest } from './mlflow-proxy.js';
import { repoRoot } from './services.js';

/**
 * A copy of the lifecycle fixture whose `local` environment tracks to `trackingUri` (an
 * `MlflowProxy` in front of the real server) in `experiment`; under .local/tmp/<prefix>-*.
 */
export function lifecycleProjectThroughProxy(
  trackingUri: string,
  experiment: string,
  prefix: string,
): string {
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.local', 'tmp', `${prefix}-`));
  cpSync(lifecycleProject, dir, { recursive: true });
  mkdirSync(join(dir, 'conf', 'local'), { recursive: true });
  writeFileSync(
    join(dir, 'conf', 'local', 'mlflow.yml'),
    `server:\n  mlflow_tracking_uri: ${trackingUri}\ntracking:\n  experiment:\n    name: ${experiment}\n`,
  );
  return dir;
}

/** `POST runs/create`: a proxied request's method and MLflow endpoint. */
export const endpointOf = (request: ProxiedRequest): string =>
  `${request.method} ${request.url.split('?')[0]!.replace('/api/2.0/mlflow/', '')}`;
