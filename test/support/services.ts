import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in test/support/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const servicesEnvFile = join(repoRoot, '.local', 'services.env');

export interface ServicesEnv {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_UI_URL: string;
  MLFLOW_TRACKING_URI: string;
  /** Temporal's HTTP API (recorded by `scripts/services` since it starts the server with one). */
  TEMPORAL_HTTP_ADDRESS?: string;
}

/** Parses `.local/services.env` written by `scripts/services start`. */
export function readServicesEnv(file = servicesEnvFile): Partial<ServicesEnv> {
  if (!existsSync(file)) return {};
  const entries = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1).trim()] as const;
    });
  return Object.fromEntries(entries);
}

/**
 * The real servers the integration tests use: the addresses in the environment when set, else
 * those recorded by `scripts/services`. Throws when neither names them (never skips).
 */
export function services(): ServicesEnv {
  return {
    TEMPORAL_ADDRESS: serviceAddress('TEMPORAL_ADDRESS'),
    TEMPORAL_UI_URL: serviceAddress('TEMPORAL_UI_URL'),
    MLFLOW_TRACKING_URI: serviceAddress('MLFLOW_TRACKING_URI'),
  };
}

/** One server address: the environment's when set, else the one `scripts/services` recorded. */
export function serviceAddress(key: keyof ServicesEnv): string {
  const value = process.env[key] ?? readServicesEnv()[key];
  if (!value) {
    throw new Error(
      `${key} is not set and ${servicesEnvFile} does not name it: run 'npm run services start'.`,
    );
  }
  return value;
}

/** Starts (or reuses) the local servers through scripts/services; throws with its output on failure. */
export function startServices(): ServicesEnv {
  execFileSync('bash', [join(repoRoot, 'scripts', 'services'), 'start'], { stdio: 'inherit' });
  return services();
}

/** The Temporal CLI installed by scripts/setup. */
export const temporalCli = join(repoRoot, '.venv', 'bin', 'temporal');
