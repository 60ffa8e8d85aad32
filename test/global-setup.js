// Plain JS: Jest loads its global setup outside the TypeScript transform pipeline.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const services = fileURLToPath(new URL('../scripts/services', import.meta.url));
const servicesEnv = fileURLToPath(new URL('../.local/services.env', import.meta.url));

/**
 * Makes sure the real Temporal and MLflow servers answer before any test runs: explicit
 * TEMPORAL_ADDRESS / MLFLOW_TRACKING_URI win; otherwise `scripts/services start` starts or reuses
 * the local ones. A server that cannot be started fails the run (no test is skipped for it).
 */
export default function globalSetup() {
  // Private project copies made by earlier runs (test/support/example-model.ts and the CLI tests);
  // recent ones may belong to a test run going on beside this one, so only old ones go.
  const copies = fileURLToPath(new URL('../.local/tmp/', import.meta.url));
  const stale = Date.now() - 60 * 60_000;
  for (const entry of existsSync(copies) ? readdirSync(copies) : []) {
    const path = join(copies, entry);
    if (statSync(path).mtimeMs < stale) rmSync(path, { recursive: true, force: true });
  }
  if (process.env.TEMPORAL_ADDRESS && process.env.MLFLOW_TRACKING_URI) return;
  execFileSync('bash', [services, 'start'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const line of readFileSync(servicesEnv, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (match) process.env[match[1]] ??= match[2];
  }
}
