import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This package's root: a checkout of its repository, or `node_modules/temporal-mlflow`. */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** True when this package runs installed in a project, false in a checkout of its repository. */
export const installedPackage = packageRoot.split(sep).includes('node_modules');

/**
 * The command that starts the local Temporal and MLflow servers where the user is: `npm run
 * services start` in this repository, `npx temporal-mlflow services start` in a project that
 * installed the package (which has no such npm script).
 */
export function localServicesCommand(action: 'start' | 'stop' | 'status' = 'start'): string {
  return installedPackage ? `npx temporal-mlflow services ${action}` : `npm run services ${action}`;
}
