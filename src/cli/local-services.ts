import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadServicesEnv } from './common.js';

/** The installed package's root, which holds scripts/ and (after `npm run setup`) .venv/. */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
const servicesScript = join(packageRoot, 'scripts', 'services');
export const servicesEnvFile = join(packageRoot, '.local', 'services.env');

/**
 * Makes sure Temporal and MLflow answer: with TEMPORAL_ADDRESS and MLFLOW_TRACKING_URI set, those
 * servers are used as they are; otherwise the local dev servers are started (or reused) by
 * `scripts/services start` and their addresses exported to this process.
 */
export function ensureServices(
  log: (line: string) => void = (line) => console.error(line),
): 'configured' | 'local' {
  if (process.env.TEMPORAL_ADDRESS && process.env.MLFLOW_TRACKING_URI) return 'configured';
  if (!existsSync(join(packageRoot, '.venv', 'bin', 'temporal'))) {
    throw new Error(
      "The local servers are not installed: run 'npm run setup' first (or set TEMPORAL_ADDRESS and MLFLOW_TRACKING_URI).",
    );
  }
  log('starting local Temporal and MLflow servers (reused when already running)...');
  execFileSync('bash', [servicesScript, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  loadServicesEnv(servicesEnvFile);
  return 'local';
}
