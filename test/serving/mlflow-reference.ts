/**
 * `mlflow models serve --env-manager local` as the reference the drop-in tests compare our server
 * with: builds the drop-in fixture model folder (the pyfunc fixture's layout, see
 * test/pyfunc/build-fixture.ts, with the drop-in model's signature and bundle) and starts MLflow's
 * scoring server on it, in its own process group so that uvicorn is stopped with it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parse, stringify } from 'yaml';
import { writeIntegrityManifest } from '../../src/model/integrity.js';
import { PYFUNC_CODE_DIR, STDIO_BUNDLE_FILE } from '../../src/model/pyfunc/index.js';
import { buildFixtureModel, MLFLOW, PYTHON } from '../pyfunc/build-fixture.js';
import { DROPIN_MLMODEL_SIGNATURE } from './fixtures/dropin-model.js';
export { freePort } from '../support/ports.js';
import { freePort } from '../support/ports.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The environment MLflow needs: the venv's bin on PATH (it runs `uvicorn` by name), no telemetry. */
export const MLFLOW_ENV = {
  ...process.env,
  MLFLOW_DISABLE_TELEMETRY: 'true',
  PATH: `${dirname(PYTHON)}:${process.env.PATH ?? ''}`,
};

/** Builds the drop-in model folder: the pyfunc fixture with the drop-in signature and bundle. */
export async function buildDropInModel(): Promise<string> {
  const dir = await buildFixtureModel();
  const mlmodel = parse(readFileSync(join(dir, 'MLmodel'), 'utf8')) as Record<string, unknown>;
  mlmodel.signature = { ...DROPIN_MLMODEL_SIGNATURE };
  writeFileSync(join(dir, 'MLmodel'), stringify(mlmodel));
  await build({
    entryPoints: [here('./fixtures/dropin-stdio-entry.ts')],
    outfile: join(dir, PYFUNC_CODE_DIR, STDIO_BUNDLE_FILE),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  // The bundle and MLmodel changed: hash them again, as the packager does last.
  await writeIntegrityManifest(dir, { signingKey: null });
  return dir;
}

export interface MlflowServer {
  readonly url: string;
  /** The last 4000 characters of its stderr (its warnings, e.g. ignored params). */
  log(): string;
  /** SIGTERM to its process group; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Starts `mlflow models serve` on a model folder and waits (with a deadline) for `/ping`. */
export async function startMlflowServe(
  modelDir: string,
  timeoutMs = 90_000,
): Promise<MlflowServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    MLFLOW,
    [
      'models',
      'serve',
      '-m',
      modelDir,
      '--env-manager',
      'local',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
    ],
    { env: MLFLOW_ENV, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let log = '';
  child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString('utf8')).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    }
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`mlflow models serve exited with ${child.exitCode}\n${log}`);
    try {
      if ((await fetch(`${url}/ping`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mlflow models serve did not answer /ping within ${timeoutMs} ms\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, log: () => log, stop };
}
