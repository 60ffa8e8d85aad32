/**
 * Inference bundles by the contents of their inputs: packaging a project whose code and packages
 * did not change reuses the bundle esbuild made last time (a hit costs reading and hashing the
 * inputs, ~0.1 s for the example the first time in a process; after that, a stat of each input
 * and of the entry, ~2 ms, instead of a build of ~1 s).
 */
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where bundles are kept. @default `~/.cache/temporal-mlflow/bundles` (TEMPORAL_MLFLOW_BUNDLE_CACHE) */
export function bundleCacheDir(): string {
  return (
    process.env.TEMPORAL_MLFLOW_BUNDLE_CACHE ??
    join(homedir(), '.cache', 'temporal-mlflow', 'bundles')
  );
}

/** What a build left to reuse: the files it read, their key, and what it produced. */
export interface CachedBundleEntry<T> {
  /** Absolute paths of every file esbuild read. */
  inputs: string[];
  key: string;
  result: T;
}

const entryFile = (dir: string, id: string): string =>
  join(dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);

/**
 * Content hashes of the files this process has read, with the file's identity and times when it
 * was read: while those are unchanged the file is not read again (a hit of the example's ~700
 * inputs is then ~700 stats instead of reading and hashing ~10 MB). Any write changes a file's
 * ctime, so a changed file is always read again.
 */
const fileHashes = new Map<string, { stamp: string; hash: string }>();

/**
 * A file's identity and times, or undefined if it is gone. Synchronous: ~2 µs per file from the
 * kernel's cache, where ~700 asynchronous stats queue on libuv's four threads (tens of ms on a
 * loaded machine); times in fractional ms (µs precision), cheaper to make than bigint stats.
 */
export function stampOf(file: string): string | undefined {
  const stats = statSync(file, { throwIfNoEntry: false });
  return stats
    ? `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`
    : undefined;
}

/** The sha256 of a file's contents, or undefined if it is gone. */
async function fileHash(file: string, stamp: string | undefined): Promise<string | undefined> {
  if (stamp === undefined) return undefined;
  const known = fileHashes.get(file);
  if (known?.stamp === stamp) return known.hash;
  try {
    const hash = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    fileHashes.set(file, { stamp, hash });
    return hash;
  } catch {
    return undefined;
  }
}

/** The key of `inputs` as they are now (their contents, with `salt`), or undefined if one is gone. */
export async function inputsKey(
  inputs: readonly string[],
  salt: string,
): Promise<string | undefined> {
  const stamps = inputs.map(stampOf);
  // The same inputs with the same stamps as last time give the same key.
  const stamped = `${salt}\0${stamps.join('\0')}`;
  const known = keysByInputs.get(inputs);
  if (known?.stamped === stamped) return known.key;
  const key = await hashInputs(inputs, salt, stamps);
  if (key !== undefined) keysByInputs.set(inputs, { stamped, key });
  return key;
}

/** The last key of each inputs list (cache entries are reused while unchanged, and so are lists). */
const keysByInputs = new WeakMap<readonly string[], { stamped: string; key: string }>();

async function hashInputs(
  inputs: readonly string[],
  salt: string,
  stamps: readonly (string | undefined)[],
): Promise<string | undefined> {
  const hashes = await Promise.all(inputs.map((file, i) => fileHash(file, stamps[i])));
  const hash = createHash('sha256').update(salt);
  for (const [i, file] of inputs.entries()) {
    const content = hashes[i];
    if (content === undefined) return undefined;
    hash.update(file).update('\0').update(content).update('\0');
  }
  return hash.digest('hex');
}

/**
 * Entries this process has read, by file, with the file's stamp when read: while the entry file is
 * unchanged, the same object is returned (callers may memoise what they derive from it).
 */
const entries = new Map<string, { stamp: string; entry: CachedBundleEntry<unknown> }>();

/** The entry for `id` when its inputs are unchanged since it was written. */
export async function lookupBundle<T>(
  id: string,
  salt: string,
  dir = bundleCacheDir(),
): Promise<CachedBundleEntry<T> | undefined> {
  const file = entryFile(dir, id);
  const stamp = stampOf(file);
  if (stamp === undefined) return undefined;
  let entry = entries.get(file)?.stamp === stamp ? entries.get(file)!.entry : undefined;
  if (!entry) {
    try {
      entry = JSON.parse(await readFile(file, 'utf8')) as CachedBundleEntry<unknown>;
    } catch {
      return undefined;
    }
    entries.set(file, { stamp, entry });
  }
  return (await inputsKey(entry.inputs, salt)) === entry.key
    ? (entry as CachedBundleEntry<T>)
    : undefined;
}

/** Records a build's inputs and result (written whole, then renamed: readers never see half). */
export async function storeBundle<T>(
  id: string,
  salt: string,
  inputs: string[],
  result: T,
  dir = bundleCacheDir(),
): Promise<void> {
  const key = await inputsKey(inputs, salt);
  if (!key) return;
  await mkdir(dir, { recursive: true });
  const target = entryFile(dir, id);
  const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, JSON.stringify({ inputs, key, result } satisfies CachedBundleEntry<T>));
  await rename(temp, target);
}
