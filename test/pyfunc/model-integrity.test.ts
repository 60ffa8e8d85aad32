/**
 * The python_function shim verifies a model before node runs any of its code:
 * `mlflow.pyfunc.load_model` refuses a tampered bundle or stdio entry, an escaping catalog path,
 * and (with TEMPORAL_MLFLOW_SIGNING_KEY set) an unsigned or wrongly signed model; what Python
 * does not check (MLmodel's own digest) the verified bundle checks before loading artifacts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { INTEGRITY_SIGNATURE_FILE, writeIntegrityManifest } from '../../src/model/integrity.js';
import { packageExampleModel } from '../support/example-model.js';
import { PYTHON } from './build-fixture.js';

const run = promisify(execFile);
const KEY_VAR = 'TEMPORAL_MLFLOW_SIGNING_KEY';
const KEY = 'p'.repeat(40);
const OTHER_KEY = 'q'.repeat(40);

/** Loads each case's model with mlflow.pyfunc and predicts; one Python process for all cases. */
const LOAD_CASES = `
import json, os, sys
import mlflow.pyfunc, pandas as pd
out = []
for case in json.loads(sys.stdin.read()):
    if case.get("key"):
        os.environ["${KEY_VAR}"] = case["key"]
    else:
        os.environ.pop("${KEY_VAR}", None)
    model = None
    try:
        model = mlflow.pyfunc.load_model(case["dir"])
        model.predict(pd.DataFrame(case["records"]))
        out.append({"ok": True})
    except Exception as e:
        out.append({"ok": False, "type": type(e).__name__, "message": str(e)})
    finally:
        impl = getattr(model, "_model_impl", None)
        if impl is not None and hasattr(impl, "close"):
            impl.close()
print(json.dumps(out))
`;

interface Outcome {
  ok: boolean;
  type?: string;
  message?: string;
}

let workDir: string;
let pristine: string;
let bundleFile: string;
let records: Record<string, unknown>[];
let caseCount = 0;

async function copyModel(): Promise<{ dir: string; marker: string }> {
  caseCount += 1;
  const dir = join(workDir, 'cases', String(caseCount));
  await cp(pristine, dir, { recursive: true });
  return { dir, marker: join(workDir, `ran-${caseCount}`) };
}

const evilCode = (marker: string): string =>
  `\n;(await import('node:fs')).writeFileSync(${JSON.stringify(marker)}, 'ran');\n`;

async function editMLmodel(
  dir: string,
  edit: (flavor: Record<string, unknown>) => void,
): Promise<void> {
  const mlmodel = parse(await readFile(join(dir, 'MLmodel'), 'utf8')) as {
    flavors: { temporal_mlflow: Record<string, unknown> };
  };
  edit(mlmodel.flavors.temporal_mlflow);
  await writeFile(join(dir, 'MLmodel'), stringify(mlmodel, { lineWidth: 0 }));
}

async function loadWithPyfunc(
  cases: { dir: string; key?: string }[],
): Promise<{ outcomes: Outcome[]; stderr: string }> {
  const child = run(PYTHON, ['-c', LOAD_CASES], {
    env: {
      ...process.env,
      MLFLOW_DISABLE_TELEMETRY: 'true',
      PATH: `${dirname(PYTHON)}:${process.env.PATH ?? ''}`,
    },
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  child.child.stdin!.end(JSON.stringify(cases.map((c) => ({ ...c, records }))));
  const { stdout, stderr } = await child;
  return { outcomes: JSON.parse(stdout.trim().split('\n').pop()!) as Outcome[], stderr };
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tm-pyfunc-integrity-'));
  const example = await packageExampleModel(workDir);
  pristine = example.modelDir;
  records = (example.tickets as unknown as Record<string, unknown>[]).slice(0, 3);
  const mlmodel = parse(await readFile(join(pristine, 'MLmodel'), 'utf8')) as {
    flavors: { temporal_mlflow: { bundle: string } };
  };
  bundleFile = mlmodel.flavors.temporal_mlflow.bundle;
}, 180_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('mlflow.pyfunc.load_model on a tampered or unsigned model', () => {
  it('refuses each tampering before node runs the model, and loads the untouched and signed models', async () => {
    const untouched = await copyModel();

    const bundle = await copyModel();
    await appendFile(join(bundle.dir, bundleFile), evilCode(bundle.marker));

    const stdio = await copyModel();
    await writeFile(
      join(stdio.dir, 'code', 'serve-stdio.mjs'),
      evilCode(stdio.marker) + 'await new Promise(() => {});\n',
    );

    const escaping = await copyModel();
    await editMLmodel(escaping.dir, (flavor) => {
      (flavor.catalog as Record<string, Record<string, unknown>>).vocabulary!.filepath =
        '../../../../../../../../etc/hostname';
    });

    const flavorChanged = await copyModel();
    await editMLmodel(flavorChanged.dir, (flavor) => {
      flavor.parameters = { min_confidence: 0 };
    });

    const signed = await copyModel();
    await editMLmodel(signed.dir, (flavor) => {
      flavor.integrity_signature = INTEGRITY_SIGNATURE_FILE;
    });
    await writeIntegrityManifest(signed.dir, { signingKey: KEY });

    const { outcomes, stderr } = await loadWithPyfunc([
      { dir: untouched.dir },
      { dir: bundle.dir },
      { dir: stdio.dir },
      { dir: escaping.dir },
      { dir: flavorChanged.dir },
      { dir: untouched.dir, key: KEY },
      { dir: signed.dir, key: KEY },
      { dir: signed.dir, key: OTHER_KEY },
    ]);
    const [ok, tamperedBundle, tamperedStdio, escape, changed, unsigned, goodSig, badSig] =
      outcomes;

    expect(ok).toEqual({ ok: true });
    expect(tamperedBundle).toMatchObject({ ok: false, type: 'ModelIntegrityError' });
    expect(tamperedBundle!.message).toContain(bundleFile);
    expect(existsSync(bundle.marker)).toBe(false);
    expect(tamperedStdio).toMatchObject({ ok: false, type: 'ModelIntegrityError' });
    expect(tamperedStdio!.message).toContain('code/serve-stdio.mjs');
    expect(existsSync(stdio.marker)).toBe(false);
    expect(escape).toMatchObject({ ok: false, type: 'UnsafeModelPathError' });
    expect(escape!.message).toContain('flavors.temporal_mlflow.catalog.vocabulary.filepath');
    // Python does not check MLmodel's digest: the verified bundle refuses before loading anything.
    expect(changed).toMatchObject({ ok: false });
    expect(stderr).toContain('ModelIntegrityError');
    expect(stderr).toContain('MLmodel does not match its hash');
    expect(unsigned).toMatchObject({ ok: false, type: 'ModelSignatureError' });
    expect(unsigned!.message).toContain('integrity.json');
    expect(goodSig).toEqual({ ok: true });
    expect(badSig).toMatchObject({ ok: false, type: 'ModelSignatureError' });
    expect(badSig!.message).toContain('integrity.sig');
    expect(`${JSON.stringify(outcomes)}${stderr}`).not.toContain(OTHER_KEY);
  }, 240_000);
});
