/**
 * Builds the fixture MLflow model directory the way the packager lays it out: MLmodel, the
 * python_function loader in code/, and code/serve-stdio.mjs bundled with esbuild.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parse } from 'yaml';
import {
  INTEGRITY_MANIFEST_FILE,
  INTEGRITY_SIGNATURE_FILE,
  writeIntegrityManifest,
} from '../../src/model/integrity.js';
import { writeMLmodel, type MLmodel } from '../../src/model/mlmodel.js';
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
  options: { signingKey?: string | null } = { signingKey: null },
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
  // As the packager does last: the hash manifest the python_function shim verifies before node runs.
  const mlmodel = parse(readFileSync(join(dir, 'MLmodel'), 'utf8')) as MLmodel;
  mlmodel.flavors.temporal_mlflow.integrity_manifest = INTEGRITY_MANIFEST_FILE;
  if (options.signingKey)
    mlmodel.flavors.temporal_mlflow.integrity_signature = INTEGRITY_SIGNATURE_FILE;
  await writeMLmodel(dir, mlmodel);
  await writeIntegrityManifest(dir, options);
  return dir;
}
