/**
 * Content-addressed storage of the node cache: entries (a node's cache key → the content hashes of
 * its outputs and the run that produced them) and blobs (encoded values, named by their sha256).
 * Two implementations with the shape of the intermediate store: a local folder, and the MLflow
 * server's artifact proxy for workers on several hosts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowError } from '../mlflow/errors.js';
import type { MlflowClient } from '../mlflow/client.js';

/** Where cached node outputs live. */
export type CacheStoreMode = 'local' | 'mlflow';

/** The run an entry's outputs were computed in. */
export interface CacheSource {
  /** The run id hooks saw (local runner: generated; Temporal: the workflow id). */
  readonly runId: string;
  readonly pipeline: string;
  /** The MLflow run the node ran in, when tracked. */
  readonly mlflowRunId?: string;
}

/** One successful execution of a node: what its outputs were, by content hash. */
export interface CacheEntry {
  /** Layout version of the entry. */
  readonly version: 1;
  readonly key: string;
  readonly node: string;
  /** Output dataset → sha256 of its encoded value (the blob's name). */
  readonly outputs: Readonly<Record<string, string>>;
  readonly source: CacheSource;
  /** ISO time the entry was written. */
  readonly createdAt: string;
}

export interface CacheStore {
  readonly mode: CacheStoreMode;
  /** The entry of a key, or undefined when the node never succeeded with that key. */
  getEntry(key: string): Promise<CacheEntry | undefined>;
  /** Writes the blobs, then the entry (so a reader never sees an entry without its blobs). */
  putEntry(entry: CacheEntry, blobs: ReadonlyMap<string, Buffer>): Promise<void>;
  getBlob(hash: string): Promise<Buffer>;
  /** Removes every entry and blob; returns the number of entries removed when known. */
  clear(): Promise<number | undefined>;
  describe(): Record<string, unknown>;
}

const ENTRY_VERSION = 1;
const HEX = /^[0-9a-f]{16,128}$/;

function checkHash(what: string, hash: string): string {
  if (!HEX.test(hash)) throw new TypeError(`A node cache ${what} must be hex, got '${hash}'.`);
  return hash;
}

function parseEntry(text: string, key: string): CacheEntry | undefined {
  const entry = JSON.parse(text) as Partial<CacheEntry>;
  // An entry of another layout (or a torn one) is a miss: the node runs and rewrites it.
  if (entry.version !== ENTRY_VERSION || entry.key !== key || typeof entry.outputs !== 'object')
    return undefined;
  return entry as CacheEntry;
}

/** The default folder of the local store inside a project. */
export function defaultCacheDir(projectDir: string): string {
  return join(projectDir, '.local', 'node-cache');
}

/** A folder on this machine's disk (the default): shared by every run and worker of the host. */
export class LocalCacheStore implements CacheStore {
  readonly mode = 'local' as const;
  constructor(readonly dir: string) {}

  private entryPath(key: string): string {
    return join(this.dir, 'entries', `${checkHash('key', key)}.json`);
  }

  private blobPath(hash: string): string {
    return join(this.dir, 'blobs', `${checkHash('blob hash', hash)}.bin`);
  }

  async getEntry(key: string): Promise<CacheEntry | undefined> {
    const text = await readFile(this.entryPath(key), 'utf8').catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      },
    );
    return text === undefined ? undefined : parseEntry(text, key);
  }

  async putEntry(entry: CacheEntry, blobs: ReadonlyMap<string, Buffer>): Promise<void> {
    await Promise.all([
      mkdir(join(this.dir, 'entries'), { recursive: true }),
      mkdir(join(this.dir, 'blobs'), { recursive: true }),
    ]);
    await Promise.all(
      [...blobs].map(async ([hash, bytes]) => {
        const path = this.blobPath(hash);
        // Content-addressed: a blob already there holds these very bytes.
        if (await exists(path)) return;
        await atomicWrite(path, bytes);
      }),
    );
    await atomicWrite(this.entryPath(entry.key), JSON.stringify(entry));
  }

  async getBlob(hash: string): Promise<Buffer> {
    return readFile(this.blobPath(hash));
  }

  async clear(): Promise<number | undefined> {
    const entries = await readdir(join(this.dir, 'entries')).catch(() => [] as string[]);
    await rm(this.dir, { recursive: true, force: true });
    return entries.filter((name) => name.endsWith('.json')).length;
  }

  describe(): Record<string, unknown> {
    return { mode: this.mode, dir: this.dir };
  }
}

/** Artifact folder (under the MLflow server's artifact root) holding node caches, one per project. */
export const MLFLOW_CACHE_ROOT = 'temporal-mlflow-node-cache';

/**
 * The MLflow server's artifact store, through its proxy: workers on different hosts share one
 * cache, since every worker talks to MLflow already. Scoped by project name.
 */
export class MlflowCacheStore implements CacheStore {
  readonly mode = 'mlflow' as const;
  readonly root: string;
  constructor(
    private readonly client: MlflowClient,
    project: string,
    private readonly scratchDir: string = join(tmpdir(), 'temporal-mlflow-node-cache'),
  ) {
    this.root = `mlflow-artifacts:/${MLFLOW_CACHE_ROOT}/${encodeURIComponent(project)}`;
  }

  private async scratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = join(this.scratchDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async download(path: string): Promise<Buffer | undefined> {
    return this.scratch(async (dir) => {
      const file = join(dir, 'download');
      try {
        await this.client.artifacts.downloadFile(this.root, path, file);
      } catch (error) {
        if (error instanceof MlflowError && error.httpStatus === 404) return undefined;
        throw error;
      }
      return readFile(file);
    });
  }

  async getEntry(key: string): Promise<CacheEntry | undefined> {
    const bytes = await this.download(`entries/${checkHash('key', key)}.json`);
    return bytes === undefined ? undefined : parseEntry(bytes.toString('utf8'), key);
  }

  async putEntry(entry: CacheEntry, blobs: ReadonlyMap<string, Buffer>): Promise<void> {
    await this.scratch(async (dir) => {
      await Promise.all(
        [...blobs].map(async ([hash, bytes]) => {
          const file = join(dir, `${checkHash('blob hash', hash)}.bin`);
          await writeFile(file, bytes);
          await this.client.artifacts.uploadFile(this.root, file, 'blobs');
        }),
      );
      const file = join(dir, `${checkHash('key', entry.key)}.json`);
      await writeFile(file, JSON.stringify(entry));
      await this.client.artifacts.uploadFile(this.root, file, 'entries');
    });
  }

  async getBlob(hash: string): Promise<Buffer> {
    const bytes = await this.download(`blobs/${checkHash('blob hash', hash)}.bin`);
    if (bytes === undefined)
      throw new Error(`Node cache blob ${hash} is missing from ${this.root}/blobs.`);
    return bytes;
  }

  async clear(): Promise<number | undefined> {
    const entries = await this.client.artifacts.listArtifacts(this.root, 'entries').catch(() => []);
    await this.client.artifacts.delete(this.root);
    return entries.filter((file) => file.path.endsWith('.json')).length;
  }

  describe(): Record<string, unknown> {
    return { mode: this.mode, root: this.root };
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function atomicWrite(path: string, data: Buffer | string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}
