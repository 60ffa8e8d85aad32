import { existsSync, statSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash, randomUUID } from 'node:crypto';
import { MODEL_FLAVOR, MODEL_FORMAT_VERSION, NODE_ENGINE, PYFUNC_FLAVOR } from '../constants.js';
import type { DataCatalog } from '../catalog/data-catalog.js';
import type { ProjectConfig } from '../catalog/config-loader.js';
import { extractPipelineArtifacts } from './artifacts.js';
import { bundleInferenceCode, type InferenceBundle } from './bundle.js';
import { bundleCacheDir, stampOf } from './bundle-cache.js';
import { ModelVerificationError } from './errors.js';
import {
  canonicalJson,
  INTEGRITY_MANIFEST_FILE,
  INTEGRITY_SIGNATURE_FILE,
  resolveSigningKey,
  writeIntegrityManifest,
  type IntegrityManifest,
} from './integrity.js';
import { listFiles } from './model-upload.js';
import { writeMLmodel, type MLmodel } from './mlmodel.js';
import type { PipelineML } from './pipeline-ml.js';
import { PYFUNC_CODE_DIR, PYFUNC_LOADER_MODULE } from './pyfunc/index.js';
import { writePyfuncFiles } from './pyfunc-files.js';
import type { LoadBundleOptions, PipelineModel } from './runtime.js';
import {
  inferParamsSchema,
  inferSchema,
  signatureToMlmodel,
  type ColSpec,
  type ModelSignature,
} from './signature.js';

/** Rows of the example kept in `input_example.json`. */
const INPUT_EXAMPLE_ROWS = 5;
/** Training rows the output schema is inferred from. */
const OUTPUT_SCHEMA_ROWS = 1_000;

/**
 * What packaging reads from a project session: its catalog (and the catalog's configuration, to
 * copy persisted inference inputs) and its project file (the bundle's entry). A `Session` is one.
 */
export interface PackagingSource {
  readonly catalog: DataCatalog;
  readonly config: Pick<ProjectConfig, 'catalog'>;
  readonly project: { readonly file: string };
}

export interface SavePipelineModelOptions {
  session: PackagingSource;
  /** Registered name of the PipelineML in the project. */
  pipelineName: string;
  pipelineMl: PipelineML;
  /** A new, empty folder. */
  modelDir: string;
  /**
   * The LoggedModel's id, written into `MLmodel`. A promise is awaited last, once the folder is
   * written and verified: packaging creates the LoggedModel meanwhile.
   */
  modelId?: string | PromiseLike<string>;
  runId?: string;
  /**
   * Signs the model's hash manifest with this key (HMAC-SHA-256); `null` never signs.
   * @default process.env.TEMPORAL_MLFLOW_SIGNING_KEY
   */
  signingKey?: string | null;
  /** Reports each stage's duration (bundle, artifacts, verify), for progress and benchmarks. */
  onStage?: (stage: 'artifacts' | 'bundle' | 'verify', durationMs: number) => void;
  /**
   * Called with files (relative, `/`-separated) as soon as they are final, before the folder is:
   * packaging uploads them while the model is verified. MLmodel and the integrity files are final
   * only when this function returns.
   */
  onFilesFinal?: (files: string[]) => void;
  /**
   * Keep an esbuild context for the project between packagings (`bundleInferenceCode`'s `warm`):
   * for long-lived processes, which call `disposeWarmBundlers()` before exiting. @default false
   */
  warmBundler?: boolean;
}

/** `writePipelineModel`'s options: `savePipelineModel`'s, and whether verification may be reused. */
export interface WritePipelineModelOptions extends SavePipelineModelOptions {
  /**
   * Skip loading and predicting when this process verified a folder with the same bytes (every
   * file but MLmodel and the integrity files), the same MLmodel flavors and signature inputs and
   * the same example and sample records; the output schema it inferred then is reused. Anything
   * different is verified again. @default false
   */
  reuseVerification?: boolean;
}

/** `savePipelineModel`'s result, without the loaded model when its verification was reused. */
export interface WrittenPipelineModel extends Omit<SavedPipelineModel, 'model'> {
  model?: PipelineModel;
  /** True when an earlier verification of the same folder was reused (nothing loaded). */
  verificationReused: boolean;
}

export interface SavedPipelineModel {
  mlmodel: MLmodel;
  /** The model loaded from its own folder, already run once on the input example. */
  model: PipelineModel;
  inputExample: unknown;
  /** The folder's hash manifest, as written to integrity.json. */
  manifest: IntegrityManifest;
}

/** Records for signature inference: arrays of plain objects as they are; Arrow tables as rows. */
function toRecords(value: unknown): Record<string, unknown>[] | undefined {
  if (Array.isArray(value))
    return value.every((row) => row && typeof row === 'object' && !Array.isArray(row))
      ? (value as Record<string, unknown>[])
      : undefined;
  const table = value as { toArray?: () => { toJSON(): Record<string, unknown> }[] } | null;
  if (table && typeof table.toArray === 'function')
    return table.toArray().map((row) => row.toJSON());
  return undefined;
}

/** The value at a dotted path of the parameters (`params:a.b`). */
function parameterAt(parameters: Readonly<Record<string, unknown>>, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (value, key) => (value as Record<string, unknown> | undefined)?.[key],
      parameters,
    );
}

/**
 * Writes the inference pipeline of a PipelineML as an MLflow Model folder (see DESIGN.md, "MLflow
 * model format"), then loads it from that folder and predicts the input example: a model that
 * cannot serve is never logged as ready.
 */
export async function savePipelineModel(
  options: SavePipelineModelOptions,
): Promise<SavedPipelineModel> {
  const { model, mlmodel, inputExample, manifest } = await writePipelineModel(options);
  return { mlmodel, model: model!, inputExample, manifest };
}

/**
 * Verifications this process made, by the digest of what they depend on (see
 * `WritePipelineModelOptions.reuseVerification`), with the output schema they inferred. A few
 * only: a worker packages a few projects.
 */
const verifications = new Map<string, { outputs: ColSpec[] | undefined }>();
const VERIFICATIONS_KEPT = 16;

/**
 * What a verification depends on: the hashes of the folder's files (MLmodel aside), MLmodel's
 * flavors and signature (not its ids and times), the records predicted, and the Node version.
 * Returns the files' hashes too: the integrity manifest does not read them again.
 */
async function verificationDigest(
  modelDir: string,
  mlmodel: MLmodel,
  known: Readonly<Record<string, string>>,
  predicted: string,
): Promise<{ digest: string; hashes: Record<string, string> }> {
  const files = (await listFiles(modelDir)).filter((file) => file !== 'MLmodel').sort();
  const hashes: Record<string, string> = {};
  await Promise.all(
    files.map(async (file) => {
      hashes[file] =
        known[file] ??
        createHash('sha256')
          .update(await readFile(join(modelDir, file)))
          .digest('hex');
    }),
  );
  const digest = createHash('sha256')
    .update(
      canonicalJson({
        files: hashes,
        flavors: mlmodel.flavors,
        signature: mlmodel.signature ?? null,
        node: process.version,
      }),
    )
    .update(predicted)
    .digest('hex');
  return { digest, hashes };
}

/** JSON of arrays of plain records (the same rows give the same text); undefined for anything else. */
function recordsJson(value: unknown[][]): string | undefined {
  const plain = (item: unknown): boolean =>
    item === null ||
    typeof item === 'string' ||
    typeof item === 'boolean' ||
    (typeof item === 'number' && Number.isFinite(item)) ||
    (Array.isArray(item) && item.every(plain)) ||
    (typeof item === 'object' &&
      Object.getPrototypeOf(item) === Object.prototype &&
      Object.values(item as object).every(plain));
  return value.every((rows) => rows.every(plain)) ? JSON.stringify(value) : undefined;
}

/**
 * `savePipelineModel`, with verification reused when asked (`reuseVerification`): packaging an
 * unchanged project again loads and runs nothing.
 */
export async function writePipelineModel(
  options: WritePipelineModelOptions,
): Promise<WrittenPipelineModel> {
  const { session, pipelineMl, modelDir } = options;
  const timed = async <T>(
    stage: 'artifacts' | 'bundle' | 'verify',
    body: () => Promise<T>,
  ): Promise<T> => {
    const started = performance.now();
    const result = await body();
    options.onStage?.(stage, performance.now() - started);
    return result;
  };
  // Checked before any work: a key too short fails now, not after the bundle is built.
  const signingKey = resolveSigningKey(options.signingKey);
  await mkdir(modelDir, { recursive: true });

  const { catalog: catalogEntries, parameters } = await timed('artifacts', async () => {
    const artifacts = extractPipelineArtifacts(pipelineMl, session.catalog, session.config.catalog);
    const entries: Record<string, Record<string, unknown>> = {};
    for (const artifact of artifacts) {
      const target = join('artifacts', artifact.name, basename(artifact.localPath));
      // Symbolic links are copied as their targets: a model folder holds files only.
      await cp(artifact.localPath, join(modelDir, target), { recursive: true, dereference: true });
      entries[artifact.name] = { ...artifact.entry, filepath: target };
    }
    const params: Record<string, unknown> = {};
    for (const input of pipelineMl.paramInputs()) {
      if (input === 'parameters') Object.assign(params, session.catalog.parameters);
      else
        setPath(
          params,
          input.slice('params:'.length),
          parameterAt(session.catalog.parameters, input.slice('params:'.length)),
        );
    }
    await mkdir(join(modelDir, 'artifacts'), { recursive: true });
    await writeFile(
      join(modelDir, 'artifacts', 'parameters.json'),
      JSON.stringify(params, null, 2),
    );
    return { catalog: entries, parameters: params };
  });

  const bundle = await timed('bundle', () =>
    bundleInferenceCode({
      projectFile: session.project.file,
      codeDir: join(modelDir, 'code'),
      ...(options.warmBundler ? { warm: true } : {}),
    }),
  );
  // The artifacts and the code are written: nothing changes them any more.
  if (options.onFilesFinal)
    options.onFilesFinal([
      ...(await listFiles(modelDir, 'artifacts')),
      ...(await listFiles(modelDir, 'code')),
    ]);
  await mkdir(join(modelDir, 'environment'), { recursive: true });
  await writeFile(
    join(modelDir, 'environment', 'package.json'),
    JSON.stringify(
      {
        name: 'temporal-mlflow-model',
        private: true,
        type: 'module',
        engines: { node: NODE_ENGINE },
        dependencies: bundle.externals,
      },
      null,
      2,
    ) + '\n',
  );

  const inputName = pipelineMl.inputName;
  const { signature: signatureOption, inputExample: exampleOption } = pipelineMl.logModel;
  const { value: trainingInput, known: knownInput } = await loadTrainingInput(session, inputName);
  const records = toRecords(trainingInput);
  // The example always verifies the model; it is saved with it unless inputExample is false.
  const inputExample = Array.isArray(exampleOption)
    ? exampleOption
    : records
      ? records.slice(0, INPUT_EXAMPLE_ROWS)
      : trainingInput;
  const paramDefaults = Object.fromEntries(
    pipelineMl
      .paramInputs()
      .filter((input) => input !== 'parameters')
      .map((input) => {
        const name = input.slice('params:'.length);
        return [name, parameterAt(parameters, name)];
      }),
  );
  const signature: ModelSignature | undefined =
    signatureOption === false
      ? undefined
      : signatureOption !== 'auto'
        ? signatureOption
        : records
          ? {
              inputs: knownInput
                ? structuredClone((knownInput.schema ??= inferSchema(knownInput.records)))
                : inferSchema(records),
              ...(Object.keys(paramDefaults).length
                ? { params: inferParamsSchema(paramDefaults) }
                : {}),
            }
          : undefined;
  const inferOutputs = signatureOption === 'auto';

  let mlmodel: MLmodel = {
    artifact_path: pipelineMl.logModel.name,
    flavors: {
      [PYFUNC_FLAVOR]: {
        loader_module: PYFUNC_LOADER_MODULE,
        code: PYFUNC_CODE_DIR,
        data: '.',
        env: { virtualenv: 'python_env.yaml', conda: 'conda.yaml' },
        python_version: '3.11',
      },
      [MODEL_FLAVOR]: {
        temporal_mlflow_version: MODEL_FORMAT_VERSION,
        bundle: `code/${bundle.fileName}`,
        bundle_sha256: bundle.sha256,
        pipeline: options.pipelineName,
        input_name: inputName,
        outputs: [...pipelineMl.inferenceOutputs()],
        catalog: catalogEntries,
        parameters,
        node_version: process.version,
        environment: 'environment/package.json',
        integrity_manifest: INTEGRITY_MANIFEST_FILE,
        ...(signingKey ? { integrity_signature: INTEGRITY_SIGNATURE_FILE } : {}),
      },
    },
    ...(options.runId ? { run_id: options.runId } : {}),
    utc_time_created: new Date().toISOString().replace('T', ' ').replace('Z', ''),
    model_uuid: randomUUID().replace(/-/g, ''),
    ...(signature ? { signature: { ...signatureToMlmodel(signature) } } : {}),
  } as MLmodel;
  const exampleRecords = toRecords(inputExample);
  if (exampleOption !== false && exampleRecords) {
    const columns = [...new Set(exampleRecords.flatMap((row) => Object.keys(row)))];
    const split = {
      columns,
      data: exampleRecords.map((row) => columns.map((column) => row[column] ?? null)),
    };
    await writeFile(join(modelDir, 'input_example.json'), JSON.stringify(split));
    await writeFile(
      join(modelDir, 'serving_input_example.json'),
      JSON.stringify(
        {
          dataframe_split: split,
          ...(Object.keys(paramDefaults).length ? { params: paramDefaults } : {}),
        },
        null,
        2,
      ),
    );
    mlmodel.saved_input_example_info = {
      artifact_path: 'input_example.json',
      type: 'dataframe',
      pandas_orient: 'split',
      serving_input_path: 'serving_input_example.json',
    };
  }
  await writePyfuncFiles(modelDir);
  await writeMLmodel(modelDir, mlmodel);
  // Everything but MLmodel (the model id and the output schema are still to come) is final.
  if (options.onFilesFinal)
    options.onFilesFinal((await listFiles(modelDir)).filter((file) => file !== 'MLmodel'));

  const sample = records ? records.slice(0, OUTPUT_SCHEMA_ROWS) : inputExample;
  const bundleHash = { [`code/${bundle.fileName}`]: bundle.sha256 };
  // Only records that JSON writes whole can key a verification (not an Arrow table, a Map, a
  // BigInt): other inputs are verified every time.
  const predicted =
    options.reuseVerification && Array.isArray(inputExample) && Array.isArray(sample)
      ? recordsJson([inputExample, sample])
      : undefined;
  const known =
    predicted === undefined
      ? undefined
      : await verificationDigest(modelDir, mlmodel, bundleHash, predicted);
  const reused = known && verifications.get(known.digest);
  if (reused) {
    if (signature && inferOutputs && reused.outputs)
      signature.outputs = structuredClone(reused.outputs);
  }
  const model = reused
    ? undefined
    : await timed('verify', async () => {
        try {
          // The folder was just written by this process: its hashes are recorded once it is final.
          const loaded = await loadVerifiedBundle(modelDir, bundle);
          await loaded.predict(inputExample);
          // Output types come from a larger sample than the example: 5 rows can make a double look like a long.
          const outputRecords = toRecords(await loaded.predict(sample));
          if (signature && inferOutputs && outputRecords)
            signature.outputs = inferSchema(outputRecords) as ColSpec[];
          return loaded;
        } catch (error) {
          throw new ModelVerificationError(modelDir, error);
        }
      });
  if (known && !reused) {
    verifications.delete(known.digest);
    verifications.set(known.digest, {
      outputs: signature?.outputs ? structuredClone(signature.outputs) : undefined,
    });
    if (verifications.size > VERIFICATIONS_KEPT)
      verifications.delete(verifications.keys().next().value!);
  }
  if (signature?.outputs && inferOutputs) mlmodel.signature = { ...signatureToMlmodel(signature) };
  const modelId = await options.modelId;
  if (modelId || (signature?.outputs && inferOutputs)) {
    const { artifact_path, flavors, ...rest } = mlmodel;
    // Key order as MLflow writes it: the id right after the flavors.
    mlmodel = { artifact_path, flavors, ...(modelId ? { model_id: modelId } : {}), ...rest };
    await writeMLmodel(modelDir, mlmodel);
  }
  // Last: the hashes of the final folder (MLmodel included), signed when a key is set.
  const manifest = await writeIntegrityManifest(modelDir, {
    signingKey: signingKey ?? null,
    // Hashed before verifying: reused only when no code ran meanwhile.
    knownHashes: reused ? known.hashes : bundleHash,
  });
  return {
    mlmodel,
    ...(model ? { model } : {}),
    inputExample,
    manifest,
    verificationReused: reused !== undefined,
  };
}

/**
 * Training inputs earlier packagings loaded from a file, by the dataset's description, with the
 * file's stamp: records are parsed once while the file is unchanged (the example's 600 tickets
 * cost ~30 ms of CSV parsing per packaging). Each packaging gets its own copy (a model's code may
 * change the records it is given). A few entries only: a worker packages a few projects.
 */
const trainingInputs = new Map<string, KnownTrainingInput>();
const TRAINING_INPUTS_KEPT = 4;

interface KnownTrainingInput {
  stamp: string;
  records: Record<string, unknown>[];
  /** The schema inferred from the records, once a packaging asked for it. */
  schema?: ColSpec[];
}

/** A copy of records: row by row when every value is a primitive (CSV rows), else a deep clone. */
function copyRecords(records: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const flat = records.every((row) =>
    Object.values(row).every((value) => value === null || typeof value !== 'object'),
  );
  return flat
    ? records.map((row) => ({ ...row }))
    : structuredClone(records as Record<string, unknown>[]);
}

/**
 * The training value of the model's input, from the catalog or, while its file is unchanged, from
 * memory (`known` is then the memo, to keep what is derived from the records).
 */
async function loadTrainingInput(
  session: PackagingSource,
  inputName: string,
): Promise<{ value: unknown; known?: KnownTrainingInput }> {
  const dataset = session.catalog.getDataset(inputName);
  const path = dataset?.persisted ? dataset.localPath?.() : undefined;
  const file = path && existsSync(path) && statSync(path).isFile() ? path : undefined;
  const key = file && `${file}\0${JSON.stringify(dataset!.describe())}`;
  const stamp = file && stampOf(file);
  const known = key ? trainingInputs.get(key) : undefined;
  if (known && known.stamp === stamp) return { value: copyRecords(known.records), known };
  const value = await session.catalog.load(inputName);
  const records = toRecords(value);
  if (key && stamp && Array.isArray(value) && records && stampOf(file) === stamp) {
    const memo = { stamp, records: copyRecords(records) };
    trainingInputs.delete(key);
    trainingInputs.set(key, memo);
    if (trainingInputs.size > TRAINING_INPUTS_KEPT)
      trainingInputs.delete(trainingInputs.keys().next().value!);
    return { value, known: memo };
  }
  return { value };
}

/** Bundle modules imported to verify new models, by content hash (see `loadVerifiedBundle`). */
const verificationModules = new Map<string, Promise<BundleModule>>();

interface BundleModule {
  load(dir: string, options?: LoadBundleOptions): Promise<PipelineModel>;
}

/**
 * Loads a folder this process just wrote with its own bundle, without verifying the folder again.
 * A bundle that needs no installed package (no externals) behaves the same wherever its file is:
 * its module is imported once per content hash, from a content-addressed copy in the bundle cache,
 * so verifying the next model of an unchanged project does not parse and evaluate the same ~1 MB
 * of code again (nor keep another copy of it in memory: ES modules are never unloaded). A bundle
 * with externals is imported from the folder, where its packages resolve as they will at serving.
 */
async function loadVerifiedBundle(
  modelDir: string,
  bundle: InferenceBundle,
): Promise<PipelineModel> {
  if (Object.keys(bundle.externals).length > 0)
    return loadBundledModel(modelDir, bundle.fileName, { skipVerification: true });
  let module = verificationModules.get(bundle.sha256);
  if (!module) {
    module = importCachedBundle(join(modelDir, 'code', bundle.fileName), bundle.sha256);
    verificationModules.set(bundle.sha256, module);
    module.catch(() => verificationModules.delete(bundle.sha256));
  }
  return (await module).load(modelDir, { skipVerification: true });
}

/** Imports a copy of `file` kept under its content hash in the bundle cache (written once). */
async function importCachedBundle(file: string, sha256: string): Promise<BundleModule> {
  const dir = join(bundleCacheDir(), 'modules');
  const target = join(dir, `pipeline-${sha256}.mjs`);
  // Checked once per process: a copy that is not what its name says is replaced.
  const intact =
    existsSync(target) &&
    createHash('sha256')
      .update(await readFile(target))
      .digest('hex') === sha256;
  if (!intact) {
    await mkdir(dir, { recursive: true });
    const temp = `${target}.${randomUUID()}.tmp`;
    await copyFile(file, temp);
    await rename(temp, target);
  }
  return (await import(pathToFileURL(target).href)) as BundleModule;
}

/**
 * Imports a model folder's bundle and loads the model with it. Runs the model's code: call it only
 * on a folder you wrote or one `verifyModel` accepted (`loadModel` does). Without
 * `skipVerification`, the bundled runtime verifies the folder again before loading artifacts.
 */
export async function loadBundledModel(
  modelDir: string,
  bundleFile: string,
  options: LoadBundleOptions = {},
): Promise<PipelineModel> {
  const module = (await import(pathToFileURL(join(modelDir, 'code', bundleFile)).href)) as {
    load(dir: string, options?: LoadBundleOptions): Promise<PipelineModel>;
  };
  return module.load(modelDir, options);
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys.at(-1)!] = value;
}
