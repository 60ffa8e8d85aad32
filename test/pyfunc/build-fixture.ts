/**
 * Builds the fixture MLflow model directory the way the packager lays it out: MLmodel, the
 * python_function loader in code/, and code/serve-stdio.mjs bundled with esbuild.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  PYFUNC_CODE_DIR,
  PYFUNC_LOADER_MODULE,
  PYFUNC_LOADER_SOURCE,
  STDIO_BUNDLE_FILE,
} from '../../src/model/pyfunc/index.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
export const REPO_ROOT = here('../../');
export const PYTHON = join(REPO_ROOT, '.venv/bin/python');
export const MLFLOW = join(REPO_ROOT, '.venv/bin/mlflow');

export async function buildFixtureModel(
  dir = mkdtempSync(join(tmpdir(), 'tm-pyfunc-')),
): Promise<string> {
  mkdirSync(join(dir, PYFUNC_CODE_DIR), { recursive: true });
  copyFileSync(here('./fixtures/model/MLmodel'), join(dir, 'MLmodel'));
  copyFileSync(PYFUNC_LOADER_SOURCE, join(dir, PYFUNC_CODE_DIR, `${PYFUNC_LOADER_MODULE}.py`));
  await build({
    entryPoints: [here('./fixtures/serve-stdio-entry.ts')],
    outfile: join(dir, PYFUNC_CODE_DIR, STDIO_BUNDLE_FILE),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  return dir;
}
