/**
 * Inference bundles by the contents of their inputs: packaging a project whose code and packages
 * did not change reuses the bundle esbuild made last time (a hit costs reading and hashing the
 * inputs, ~0.1 s for the example the first time in a process and a few ms after, instead of a
 * build of ~1 s).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
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

/** The sha256 of a file's contents, or undefined if it is gone. */
async function fileHash(file: string): Promise<string | undefined> {
  try {
    const stats = await stat(file, { bigint: true });
    const stamp = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
    const known = fileHashes.get(file);
    if (known?.stamp === stamp) return known.hash;
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
  const hashes = await Promise.all(inputs.map(fileHash));
  const hash = createHash('sha256').update(salt);
  for (const [i, file] of inputs.entries()) {
    const content = hashes[i];
    if (content === undefined) return undefined;
    hash.update(file).update('\0').update(content).update('\0');
  }
  return hash.digest('hex');
}

/** The entry for `id` when its inputs are unchanged since it was written. */
export async function lookupBundle<T>(
  id: string,
  salt: string,
  dir = bundleCacheDir(),
): Promise<CachedBundleEntry<T> | undefined> {
  let entry: CachedBundleEntry<T>;
  try {
    entry = JSON.parse(await readFile(entryFile(dir, id), 'utf8')) as CachedBundleEntry<T>;
  } catch {
    return undefined;
  }
  return (await inputsKey(entry.inputs, salt)) === entry.key ? entry : undefined;
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
