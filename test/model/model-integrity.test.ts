/**
 * A model is code: `loadModel` verifies a model folder before any of its code runs. Every path in
 * MLmodel stays inside the folder (refused naming the file and key, the outside file never read);
 * the bundle and every artifact match the hash manifest written at packaging; with
 * TEMPORAL_MLFLOW_SIGNING_KEY set, the manifest's signature is checked too. Each case tampers a
 * copy of the example's packaged model; evil code writes a marker file, which must never exist.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { MlflowClient } from '../../src/mlflow/client.js';
import { loadModel } from '../../src/model/load-model.js';
import { publishLoggedModel } from '../../src/model/log-model.js';
import { isPipelineMl } from '../../src/model/pipeline-ml.js';
import { savePipelineModel } from '../../src/model/save-model.js';
import { Session } from '../../src/session.js';
import { packageExampleModel } from '../support/example-model.js';
import { repoRoot, services } from '../support/services.js';

const KEY_VAR = 'TEMPORAL_MLFLOW_SIGNING_KEY';
const KEY = 'k'.repeat(40);
const OTHER_KEY = 'o'.repeat(40);
const SECRET = 'TOP-SECRET-CONTENT-4242';

let workDir: string;
let pristine: string;
let bundleFile: string;
let caseCount = 0;
const savedKey = process.env[KEY_VAR];

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** A fresh copy of the packaged model, two levels below workDir (`<workDir>/cases/<n>`). */
async function copyModel(source = pristine): Promise<{ dir: string; marker: string }> {
  caseCount += 1;
  const dir = join(workDir, 'cases', String(caseCount));
  await cp(source, dir, { recursive: true });
  return { dir, marker: join(workDir, `ran-${caseCount}`) };
}

/** A statement that proves it ran by writing `marker` (appended to a real bundle). */
const evilCode = (marker: string): string =>
  `\n;(await import('node:fs')).writeFileSync(${JSON.stringify(marker)}, 'ran');\n`;

/** A whole evil model module. */
const evilModule = (marker: string): string =>
  evilCode(marker) +
  'export async function load() { return { metadata: {}, predict: async () => "pwned" }; }\n';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test edits of arbitrary MLmodel keys
type AnyMLmodel = any;

async function editMLmodel(dir: string, edit: (mlmodel: AnyMLmodel) => void): Promise<void> {
  const mlmodel = parse(await readFile(join(dir, 'MLmodel'), 'utf8'));
  edit(mlmodel);
  await writeFile(join(dir, 'MLmodel'), stringify(mlmodel, { lineWidth: 0 }));
}

beforeAll(async () => {
  delete process.env[KEY_VAR];
  workDir = await mkdtemp(join(tmpdir(), 'tm-model-integrity-'));
  pristine = (await packageExampleModel(workDir)).modelDir;
  const mlmodel = parse(await readFile(join(pristine, 'MLmodel'), 'utf8'));
  bundleFile = mlmodel.flavors.temporal_mlflow.bundle;
  await writeFile(join(workDir, 'secret.txt'), SECRET);
}, 180_000);

afterEach(() => {
  if (savedKey === undefined) delete process.env[KEY_VAR];
  else process.env[KEY_VAR] = savedKey;
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('hashes recorded at packaging', () => {
  it('loads the untouched model and records a manifest referenced from MLmodel', async () => {
    const { dir } = await copyModel();
    const mlmodel = parse(await readFile(join(dir, 'MLmodel'), 'utf8'));
    const manifestFile = mlmodel.flavors.temporal_mlflow.integrity_manifest;
    expect(manifestFile).toBe('integrity.json');
    const manifest = JSON.parse(await readFile(join(dir, manifestFile), 'utf8'));
    expect(Object.keys(manifest.files)).toEqual(
      expect.arrayContaining([bundleFile, 'code/serve-stdio.mjs', 'artifacts/parameters.json']),
    );
    const model = await loadModel(dir);
    expect(model.metadata.pipeline).toBe('__default__');
  });

  it('refuses a tampered bundle with ModelIntegrityError naming it, before running it', async () => {
    const { dir, marker } = await copyModel();
    await appendFile(join(dir, bundleFile), evilCode(marker));
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('ModelIntegrityError');
    expect(error.file).toBe(bundleFile);
    expect(error.message).toContain(bundleFile);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a tampered stdio entry of the python_function shim', async () => {
    const { dir, marker } = await copyModel();
    await writeFile(join(dir, 'code', 'serve-stdio.mjs'), evilModule(marker));
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('ModelIntegrityError');
    expect(error.message).toContain('code/serve-stdio.mjs');
  });

  it('refuses a tampered artifact naming it, without echoing its content', async () => {
    const { dir } = await copyModel();
    await writeFile(join(dir, 'artifacts', 'parameters.json'), JSON.stringify({ x: SECRET }));
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('ModelIntegrityError');
    expect(error.file).toBe('artifacts/parameters.json');
    expect(error.message).not.toContain(SECRET);
  });

  it('refuses an extra file in code/ and a missing artifact', async () => {
    const extra = await copyModel();
    await writeFile(join(extra.dir, 'code', 'extra.mjs'), evilModule(extra.marker));
    const extraError = await rejection(loadModel(extra.dir));
    expect(extraError.name).toBe('ModelIntegrityError');
    expect(extraError.message).toContain('code/extra.mjs');

    const missing = await copyModel();
    await rm(join(missing.dir, 'artifacts', 'parameters.json'));
    const missingError = await rejection(loadModel(missing.dir));
    expect(missingError.name).toBe('ModelIntegrityError');
    expect(missingError.message).toContain('artifacts/parameters.json');
  });

  it('refuses a changed MLmodel flavor (parameters) and a model without a manifest', async () => {
    const changed = await copyModel();
    await editMLmodel(changed.dir, (mlmodel) => {
      mlmodel.flavors.temporal_mlflow.parameters = { min_confidence: 0 };
    });
    const changedError = await rejection(loadModel(changed.dir));
    expect(changedError.name).toBe('ModelIntegrityError');
    expect(changedError.file).toBe('MLmodel');

    const stripped = await copyModel();
    await appendFile(join(stripped.dir, bundleFile), evilCode(stripped.marker));
    await editMLmodel(stripped.dir, (mlmodel) => {
      delete mlmodel.flavors.temporal_mlflow.integrity_manifest;
    });
    await rm(join(stripped.dir, 'integrity.json'));
    const strippedError = await rejection(loadModel(stripped.dir));
    expect(strippedError.name).toBe('ModelIntegrityError');
    expect(strippedError.message).toContain('integrity_manifest');
    expect(existsSync(stripped.marker)).toBe(false);
  });

  it('refuses an artifact that is a symlink to a file outside the folder', async () => {
    const { dir } = await copyModel();
    await rm(join(dir, 'artifacts', 'parameters.json'));
    await symlink(join(workDir, 'secret.txt'), join(dir, 'artifacts', 'parameters.json'));
    const error = await rejection(loadModel(dir));
    expect(error.name).toMatch(/^(ModelIntegrityError|UnsafeModelPathError)$/);
    expect(error.message).toContain('artifacts/parameters.json');
    expect(error.message).not.toContain(SECRET);
  });
});

describe('paths in MLmodel stay inside the model folder', () => {
  it('refuses bundle: code/../../evil.mjs naming MLmodel and the key, without running it', async () => {
    const { dir, marker } = await copyModel();
    // <workDir>/cases/<n>/code/../../evil.mjs is <workDir>/cases/evil.mjs
    await writeFile(join(workDir, 'cases', 'evil.mjs'), evilModule(marker));
    await editMLmodel(dir, (mlmodel) => {
      mlmodel.flavors.temporal_mlflow.bundle = 'code/../../evil.mjs';
    });
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('UnsafeModelPathError');
    expect(error.file).toBe('MLmodel');
    expect(error.key).toBe('flavors.temporal_mlflow.bundle');
    expect(error.message).toContain('flavors.temporal_mlflow.bundle');
    expect(error.message).toContain('code/../../evil.mjs');
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['a relative path above the folder', '../../secret.txt'],
    ['/etc/hostname reached by ..', '../../../../../../../../../../etc/hostname'],
    ['an absolute path', '/etc/hostname'],
  ])('refuses a catalog filepath that is %s, never echoing the file', async (_what, filepath) => {
    const { dir } = await copyModel();
    await editMLmodel(dir, (mlmodel) => {
      mlmodel.flavors.temporal_mlflow.catalog.vocabulary.filepath = filepath;
    });
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('UnsafeModelPathError');
    expect(error.file).toBe('MLmodel');
    expect(error.key).toBe('flavors.temporal_mlflow.catalog.vocabulary.filepath');
    expect(error.message).not.toContain(SECRET);
    const hostname = readFileSync('/etc/hostname', 'utf8').trim();
    if (hostname) expect(error.message).not.toContain(hostname);
  });

  it('refuses other escaping paths: the manifest, the shim code folder, the input example', async () => {
    const cases: [string, (mlmodel: AnyMLmodel) => void][] = [
      [
        'flavors.temporal_mlflow.integrity_manifest',
        (m) => (m.flavors.temporal_mlflow.integrity_manifest = '../../secret.txt'),
      ],
      ['flavors.python_function.code', (m) => (m.flavors.python_function.code = '../..')],
      [
        'saved_input_example_info.artifact_path',
        (m) => (m.saved_input_example_info.artifact_path = '/etc/hostname'),
      ],
    ];
    for (const [key, edit] of cases) {
      const { dir } = await copyModel();
      await editMLmodel(dir, edit);
      const error = await rejection(loadModel(dir));
      expect(error.name).toBe('UnsafeModelPathError');
      expect(error.key).toBe(key);
    }
  });
});

describe('signing with TEMPORAL_MLFLOW_SIGNING_KEY', () => {
  let signed: string;

  beforeAll(async () => {
    const session = await Session.open({
      projectDir: join(repoRoot, 'test', 'fixtures', 'model-copy-mode'),
    });
    const registered = session.pipeline('assign');
    if (!isPipelineMl(registered)) throw new Error('assign should be a PipelineML');
    signed = join(workDir, 'signed');
    process.env[KEY_VAR] = KEY;
    try {
      await savePipelineModel({
        session,
        pipelineName: 'assign',
        pipelineMl: registered,
        modelDir: signed,
      });
    } finally {
      delete process.env[KEY_VAR];
    }
  }, 120_000);

  it('signs at packaging when the key is set; the model loads with the key and without it', async () => {
    expect(existsSync(join(signed, 'integrity.sig'))).toBe(true);
    process.env[KEY_VAR] = KEY;
    expect(await (await loadModel(signed)).predict([{ id: 'z', x: 10 }])).toEqual([
      { id: 'z', y: 13, same_object: true },
    ]);
    delete process.env[KEY_VAR];
    expect((await loadModel(signed)).metadata.pipeline).toBe('assign');
  });

  it('refuses a model signed with another key, naming the signature file', async () => {
    const { dir } = await copyModel(signed);
    process.env[KEY_VAR] = OTHER_KEY;
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('ModelSignatureError');
    expect(error.file).toBe('integrity.sig');
    expect(error.message).toContain('integrity.sig');
    expect(error.message).not.toContain(OTHER_KEY);
  });

  it('refuses an unsigned model when the key is set, naming the manifest', async () => {
    const { dir, marker } = await copyModel();
    await appendFile(join(dir, bundleFile), evilCode(marker));
    process.env[KEY_VAR] = KEY;
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('ModelSignatureError');
    expect(error.message).toContain('integrity.json');
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a signed model whose manifest was rewritten to match a tampered file', async () => {
    const { dir } = await copyModel(signed);
    const manifest = JSON.parse(await readFile(join(dir, 'integrity.json'), 'utf8'));
    manifest.files['artifacts/parameters.json'] = '0'.repeat(64);
    await writeFile(join(dir, 'integrity.json'), JSON.stringify(manifest));
    process.env[KEY_VAR] = KEY;
    const error = await rejection(loadModel(dir));
    expect(error.name).toBe('ModelSignatureError');
    expect(error.file).toBe('integrity.sig');
  });
});

describe('a logged model tampered in the MLflow artifact store', () => {
  it('is refused with ModelIntegrityError naming the bundle, and its code never runs', async () => {
    const client = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
    const experiment = await client.experiments.getOrCreate('temporal-mlflow-integration-tests');
    const run = await client.runs.create({
      experimentId: experiment.experiment_id,
      runName: 'tampered-model',
    });
    const created = await client.loggedModels.create({
      experimentId: experiment.experiment_id,
      name: 'model',
      sourceRunId: run.info.run_id,
      modelType: 'temporal_mlflow',
    });
    await publishLoggedModel({
      client,
      model: created,
      runId: run.info.run_id,
      modelDir: pristine,
    });
    await client.runs.end(run.info.run_id, 'FINISHED');
    const uri = `models:/${created.info.model_id}`;

    // An untouched download loads.
    expect(
      (await loadModel(uri, { client, cacheDir: join(workDir, 'cache-a') })).metadata.pipeline,
    ).toBe('__default__');

    // Anyone who can write the artifact store overwrites the bundle.
    const marker = join(workDir, 'ran-mlflow');
    const evilDir = join(workDir, 'evil-upload');
    await mkdir(evilDir, { recursive: true });
    const evilBundle = join(evilDir, bundleFile.replace(/^code\//, ''));
    await writeFile(
      evilBundle,
      (await readFile(join(pristine, bundleFile), 'utf8')) + evilCode(marker),
    );
    await client.artifacts.uploadFile(created.info.artifact_uri, evilBundle, 'code');

    const error = await rejection(loadModel(uri, { client, cacheDir: join(workDir, 'cache-b') }));
    expect(error.name).toBe('ModelIntegrityError');
    expect(error.message).toContain(bundleFile);
    expect(existsSync(marker)).toBe(false);
  }, 120_000);
});
