/**
 * A model is code: what `loadModel`, the model runtime and the python_function shim check before
 * any of a model's code runs.
 *
 * - Paths: every path MLmodel names (the bundle, the manifest, the catalog's `filepath`s, the shim's
 *   folders, the input example) is relative and stays inside the model folder, symlinks resolved.
 *   An escaping path is refused by name, the outside file never read.
 * - Hashes: packaging writes `integrity.json` (referenced from MLmodel as
 *   `flavors.temporal_mlflow.integrity_manifest`): the SHA-256 of every file of the model folder,
 *   and of MLmodel's `flavors` and `signature` (canonical JSON, so rewriting MLmodel's run id or
 *   artifact path keeps it valid). Loading refuses a missing, changed or extra file.
 * - Signature: with a signing key (`TEMPORAL_MLFLOW_SIGNING_KEY`), packaging writes
 *   `integrity.sig`, an HMAC-SHA-256 of the manifest's bytes; with a key configured, loading
 *   refuses an unsigned or wrongly signed model.
 *
 * The python_function shim (`pyfunc/temporal_mlflow_loader.py`) checks the file hashes and the
 * signature in Python before it starts node; the bundled runtime then checks MLmodel's digest.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve, sep, win32 } from 'node:path';
import { parse } from 'yaml';
import {
  InvalidSigningKeyError,
  ModelIntegrityError,
  ModelSignatureError,
  UnsafeModelPathError,
} from './errors.js';

/** Env var holding the key models are signed with at packaging and checked against at loading. */
export const SIGNING_KEY_ENV_VAR = 'TEMPORAL_MLFLOW_SIGNING_KEY';
/** Shortest signing key accepted (characters): 32, e.g. `openssl rand -hex 32` gives 64. */
export const MIN_SIGNING_KEY_LENGTH = 32;
/** The hash manifest's file name in the model folder. */
export const INTEGRITY_MANIFEST_FILE = 'integrity.json';
/** The manifest's signature file name in the model folder. */
export const INTEGRITY_SIGNATURE_FILE = 'integrity.sig';
/** `format` of the manifest this version writes and reads. */
export const INTEGRITY_FORMAT = 'temporal-mlflow-integrity/1';
/** MLmodel's keys covered by the manifest's `mlmodel` digest. */
export const MLMODEL_DIGEST_KEYS = ['flavors', 'signature'] as const;
/** Folders where a file the manifest does not list is refused (the rest may gain MLflow's files). */
const SEALED_FOLDERS = ['code', 'artifacts', 'environment'];
/** Folders never hashed: Python writes its byte code there when MLflow imports the shim. */
const IGNORED_FOLDERS = new Set(['__pycache__']);
const MLMODEL = 'MLmodel';
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The hash manifest, `integrity.json`. */
export interface IntegrityManifest {
  format: typeof INTEGRITY_FORMAT;
  algorithm: 'sha256';
  /** SHA-256 of the canonical JSON of MLmodel's `flavors` and `signature`. */
  mlmodel: string;
  /** SHA-256 of every file, by path relative to the model folder (`/`-separated), sorted. */
  files: Record<string, string>;
}

/** The manifest's signature, `integrity.sig`. */
export interface IntegritySignature {
  algorithm: 'hmac-sha256';
  /** Hex HMAC-SHA-256 of the manifest file's bytes. */
  signature: string;
}

/** The signing key from options or `TEMPORAL_MLFLOW_SIGNING_KEY`; undefined when neither is set. */
export function resolveSigningKey(key?: string | null): string | undefined {
  const value = key === undefined ? process.env[SIGNING_KEY_ENV_VAR] : (key ?? undefined);
  if (value === undefined || value === '') return undefined;
  if (value.length < MIN_SIGNING_KEY_LENGTH)
    throw new InvalidSigningKeyError(SIGNING_KEY_ENV_VAR, value.length, MIN_SIGNING_KEY_LENGTH);
  return value;
}

/** JSON with object keys sorted at every depth: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(
          Object.keys(item as Record<string, unknown>)
            .sort()
            .map((key) => [key, (item as Record<string, unknown>)[key]]),
        )
      : item,
  );
}

/** The digest of MLmodel's `flavors` and `signature` the manifest records. */
export function mlmodelDigest(mlmodel: Record<string, unknown>): string {
  const covered = Object.fromEntries(
    MLMODEL_DIGEST_KEYS.filter((key) => mlmodel[key] !== undefined).map((key) => [
      key,
      mlmodel[key],
    ]),
  );
  return createHash('sha256').update(canonicalJson(covered)).digest('hex');
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function hmac(key: string, bytes: Buffer): string {
  return createHmac('sha256', key).update(bytes).digest('hex');
}

/** Every file of the model folder but MLmodel and the integrity files, `/`-separated, sorted. */
async function listModelFiles(modelDir: string): Promise<{ files: string[]; links: string[] }> {
  const files: string[] = [];
  const links: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!IGNORED_FOLDERS.has(entry.name)) await walk(join(dir, entry.name), path);
      } else if (entry.isSymbolicLink()) links.push(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk(modelDir, '');
  const own = new Set([MLMODEL, INTEGRITY_MANIFEST_FILE, INTEGRITY_SIGNATURE_FILE]);
  return { files: files.filter((file) => !own.has(file)).sort(), links: links.sort() };
}

/**
 * Writes `integrity.json` for a finished model folder (MLmodel written last, already naming the
 * manifest) and, with a signing key, `integrity.sig`. Returns the manifest.
 */
export async function writeIntegrityManifest(
  modelDir: string,
  options: {
    signingKey?: string | null;
    /**
     * SHA-256 of files the caller computed from the bytes it wrote (the bundle), by relative path:
     * not read again. An upload checks the manifest against the bytes it sent.
     */
    knownHashes?: Readonly<Record<string, string>>;
  } = {},
): Promise<IntegrityManifest> {
  const key = resolveSigningKey(options.signingKey);
  const { files, links } = await listModelFiles(modelDir);
  if (links.length > 0)
    throw new ModelIntegrityError(
      modelDir,
      links[0]!,
      'is a symbolic link: a model holds files only (copy the target instead).',
    );
  const mlmodel = await readMLmodelObject(modelDir);
  const manifest: IntegrityManifest = {
    format: INTEGRITY_FORMAT,
    algorithm: 'sha256',
    mlmodel: mlmodelDigest(mlmodel),
    files: {},
  };
  const hashes = await Promise.all(
    files.map((file) => options.knownHashes?.[file] ?? sha256File(join(modelDir, file))),
  );
  for (const [i, file] of files.entries()) manifest.files[file] = hashes[i]!;
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(join(modelDir, INTEGRITY_MANIFEST_FILE), bytes);
  if (key) {
    const signature: IntegritySignature = { algorithm: 'hmac-sha256', signature: hmac(key, bytes) };
    await writeFile(join(modelDir, INTEGRITY_SIGNATURE_FILE), JSON.stringify(signature) + '\n');
  }
  return manifest;
}

/** A model folder's MLmodel as a mapping; `ModelIntegrityError` when unreadable (its text never echoed). */
export async function readMLmodelObject(modelDir: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(join(modelDir, MLMODEL), 'utf8');
  } catch {
    throw new ModelIntegrityError(modelDir, MLMODEL, 'cannot be read.');
  }
  try {
    const value = parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // The YAML parser's message quotes the text: never echo it.
  }
  throw new ModelIntegrityError(modelDir, MLMODEL, 'is not a YAML mapping.');
}

/**
 * Resolves a path MLmodel names (`key` is where, e.g. `flavors.temporal_mlflow.bundle`) inside
 * the model folder, refusing anything that leaves it: absolute paths, `..` above the folder, and
 * symbolic links whose target is outside. Never reads the file.
 */
export async function containedPath(
  modelDir: string,
  key: string,
  value: unknown,
  file = MLMODEL,
): Promise<string> {
  if (typeof value !== 'string' || value === '' || value.includes('\0'))
    throw new UnsafeModelPathError(
      modelDir,
      file,
      key,
      value,
      'expected a non-empty relative path',
    );
  if (isAbsolute(value) || win32.isAbsolute(value) || /^[a-z][a-z0-9+.-]*:/i.test(value))
    throw new UnsafeModelPathError(
      modelDir,
      file,
      key,
      value,
      'an absolute path or URL leaves the model folder',
    );
  const normal = posix.normalize(value.replace(/\\/g, '/'));
  if (normal === '..' || normal.startsWith('../'))
    throw new UnsafeModelPathError(
      modelDir,
      file,
      key,
      value,
      "'..' leads out of the model folder",
    );
  const target = resolve(modelDir, normal);
  const real = await realpath(target).catch(() => undefined);
  if (real !== undefined) {
    const root = await realpath(modelDir);
    const rel = relative(root, real);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw new UnsafeModelPathError(
        modelDir,
        file,
        key,
        value,
        'a symbolic link leads out of the model folder',
      );
  }
  return target;
}

/** Path-valued keys of a catalog entry, at any depth (wrapped datasets nest theirs). */
const CATALOG_PATH_KEYS = new Set(['filepath', 'path']);

/** Every path MLmodel names, with its key: checked before anything is read or run. */
export function mlmodelPaths(mlmodel: Record<string, unknown>): [key: string, value: unknown][] {
  const paths: [string, unknown][] = [];
  const flavors = (mlmodel.flavors ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const ours = flavors.temporal_mlflow;
  if (ours) {
    for (const name of ['bundle', 'environment', 'integrity_manifest', 'integrity_signature'])
      if (ours[name] !== undefined) paths.push([`flavors.temporal_mlflow.${name}`, ours[name]]);
    const visit = (value: unknown, key: string): void => {
      if (!value || typeof value !== 'object') return;
      for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
        if (CATALOG_PATH_KEYS.has(name) && typeof item !== 'object')
          paths.push([`${key}.${name}`, item]);
        else visit(item, `${key}.${name}`);
      }
    };
    visit(ours.catalog, 'flavors.temporal_mlflow.catalog');
  }
  const pyfunc = flavors.python_function;
  if (pyfunc) {
    for (const name of ['code', 'data'])
      if (pyfunc[name] !== undefined) paths.push([`flavors.python_function.${name}`, pyfunc[name]]);
    const env = pyfunc.env;
    if (env && typeof env === 'object')
      for (const [name, value] of Object.entries(env))
        paths.push([`flavors.python_function.env.${name}`, value]);
    else if (typeof env === 'string') paths.push(['flavors.python_function.env', env]);
  }
  const example = mlmodel.saved_input_example_info as Record<string, unknown> | undefined;
  if (example && typeof example === 'object')
    for (const name of ['artifact_path', 'serving_input_path'])
      if (example[name] !== undefined)
        paths.push([`saved_input_example_info.${name}`, example[name]]);
  return paths;
}

/** Options of `verifyModel`. */
export interface VerifyModelOptions {
  /**
   * The key the manifest must be signed with; `null` checks no signature.
   * @default process.env.TEMPORAL_MLFLOW_SIGNING_KEY
   */
  signingKey?: string | null;
  /** The folder's MLmodel, when the caller has read it (`readMLmodelObject`): not read again. */
  mlmodel?: Record<string, unknown>;
}

/** What `verifyModel` checked. */
export interface VerifiedModel {
  mlmodel: Record<string, unknown>;
  manifest: IntegrityManifest;
  /** The bundle's absolute path, inside the folder. */
  bundlePath: string;
  signed: boolean;
}

/**
 * Checks a model folder before any of its code runs: paths contained, signature (when a key is
 * configured), MLmodel's digest and every file's hash. Throws `UnsafeModelPathError`,
 * `ModelSignatureError` or `ModelIntegrityError` naming the file (and the key for paths).
 */
export async function verifyModel(
  modelDir: string,
  options: VerifyModelOptions = {},
): Promise<VerifiedModel> {
  const key = resolveSigningKey(options.signingKey);
  const mlmodel = options.mlmodel ?? (await readMLmodelObject(modelDir));
  for (const [key, value] of mlmodelPaths(mlmodel)) await containedPath(modelDir, key, value);
  const flavor =
    (mlmodel.flavors as Record<string, Record<string, unknown>> | undefined)?.temporal_mlflow ?? {};
  if (typeof flavor.bundle !== 'string' || !posix.normalize(flavor.bundle).startsWith('code/'))
    throw new UnsafeModelPathError(
      modelDir,
      MLMODEL,
      'flavors.temporal_mlflow.bundle',
      flavor.bundle,
      'expected a file in code/',
    );
  const manifestName = flavor.integrity_manifest;
  if (manifestName === undefined)
    throw new ModelIntegrityError(
      modelDir,
      MLMODEL,
      'names no hash manifest (flavors.temporal_mlflow.integrity_manifest): the model was packaged before integrity checks, or the manifest was removed.',
      { hint: 'package the model again with this version of temporal-mlflow.' },
    );
  const manifestPath = await containedPath(
    modelDir,
    'flavors.temporal_mlflow.integrity_manifest',
    manifestName,
  );
  const manifestFile = posix.normalize(String(manifestName));
  const bytes = await readFile(manifestPath).catch(() => {
    throw new ModelIntegrityError(modelDir, manifestFile, 'is missing: it is named by MLmodel.');
  });

  let signed = false;
  const signatureName = flavor.integrity_signature;
  if (key) {
    if (signatureName === undefined)
      throw new ModelSignatureError(
        modelDir,
        manifestFile,
        `is not signed, and ${SIGNING_KEY_ENV_VAR} is set: only signed models are loaded.`,
      );
    const signatureFile = posix.normalize(String(signatureName));
    const signaturePath = await containedPath(
      modelDir,
      'flavors.temporal_mlflow.integrity_signature',
      signatureName,
    );
    const recorded = await readFile(signaturePath, 'utf8').then(
      (text) => {
        try {
          return JSON.parse(text) as Partial<IntegritySignature>;
        } catch {
          return undefined;
        }
      },
      () => undefined,
    );
    if (
      !recorded ||
      recorded.algorithm !== 'hmac-sha256' ||
      typeof recorded.signature !== 'string' ||
      !SHA256_HEX.test(recorded.signature)
    )
      throw new ModelSignatureError(
        modelDir,
        signatureFile,
        'is missing or malformed (expected {"algorithm": "hmac-sha256", "signature": "<hex>"}).',
      );
    const expected = Buffer.from(hmac(key, bytes), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(recorded.signature, 'hex')))
      throw new ModelSignatureError(
        modelDir,
        signatureFile,
        `does not match ${SIGNING_KEY_ENV_VAR}: the model was signed with another key, or its manifest was changed.`,
      );
    signed = true;
  }

  let manifest: IntegrityManifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as IntegrityManifest;
  } catch {
    throw new ModelIntegrityError(modelDir, manifestFile, 'is not valid JSON.');
  }
  if (
    manifest?.format !== INTEGRITY_FORMAT ||
    manifest.algorithm !== 'sha256' ||
    typeof manifest.mlmodel !== 'string' ||
    !manifest.files ||
    typeof manifest.files !== 'object'
  )
    throw new ModelIntegrityError(modelDir, manifestFile, `is not a ${INTEGRITY_FORMAT} manifest.`);
  if (mlmodelDigest(mlmodel) !== manifest.mlmodel)
    throw new ModelIntegrityError(
      modelDir,
      MLMODEL,
      `does not match its hash in ${manifestFile}: its flavors or signature were changed after packaging.`,
    );

  const { files, links } = await listModelFiles(modelDir);
  for (const link of links) {
    const sealed = SEALED_FOLDERS.some((folder) => link.startsWith(`${folder}/`));
    if (sealed || link in manifest.files)
      throw new ModelIntegrityError(
        modelDir,
        link,
        'is a symbolic link: a model holds files only.',
      );
  }
  for (const [file, hash] of Object.entries(manifest.files)) {
    await containedPath(modelDir, `files.${file}`, file, manifestFile);
    if (typeof hash !== 'string' || !SHA256_HEX.test(hash))
      throw new ModelIntegrityError(modelDir, manifestFile, `records no SHA-256 for '${file}'.`);
  }
  const present = new Set(files);
  for (const file of files) {
    const sealed = SEALED_FOLDERS.some((folder) => file.startsWith(`${folder}/`));
    if (sealed && !(file in manifest.files))
      throw new ModelIntegrityError(
        modelDir,
        file,
        `is not listed in ${manifestFile}: it was added after packaging.`,
      );
  }
  for (const [file, hash] of Object.entries(manifest.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!present.has(file))
      throw new ModelIntegrityError(modelDir, file, `is missing: ${manifestFile} lists it.`);
    if ((await sha256File(join(modelDir, file))) !== hash)
      throw new ModelIntegrityError(
        modelDir,
        file,
        `does not match its SHA-256 in ${manifestFile}: it was changed after packaging.`,
      );
  }
  const bundlePath = resolve(modelDir, posix.normalize(flavor.bundle));
  if (!(posix.normalize(flavor.bundle) in manifest.files))
    throw new ModelIntegrityError(
      modelDir,
      posix.normalize(flavor.bundle),
      `is not listed in ${manifestFile}.`,
    );
  return { mlmodel, manifest, bundlePath, signed };
}
