import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MlflowClient } from '../mlflow/client.js';
import type { IntermediateStoreMode } from './types.js';
import { decodeValue, encodeValue } from './value-codec.js';

/**
 * Where a Temporal run keeps its unpersisted datasets between node activities: values never
 * travel through Temporal payloads. Keyed by the run (workflow id) and the dataset name.
 */
export interface IntermediateStore {
  readonly mode: IntermediateStoreMode;
  save(runId: string, dataset: string, value: unknown): Promise<void>;
  load(runId: string, dataset: string): Promise<unknown>;
  exists(runId: string, dataset: string): Promise<boolean>;
  /** Removes everything the run stored; safe to call twice. */
  clear(runId: string): Promise<void>;
  describe(): Record<string, unknown>;
}

/** File names safe on every file system, and distinct for distinct names. */
export function safeSegment(name: string): string {
  return encodeURIComponent(name)
    .replace(/\*/g, '%2A')
    .replace(/^\.+/, (dots) => '%2E'.repeat(dots.length));
}

/**
 * Values up to this size are written and read with synchronous calls: a few microseconds of system
 * calls on the event loop instead of one thread-pool round trip per call (open, write, close,
 * rename...), which is most of a small node's I/O time on a busy machine.
 */
const SYNC_IO_BYTES = 256 * 1024;

/** Folders of cleared runs waiting to be deleted, in the store's folder. */
const TRASH_PREFIX = '.cleared-';

/** A folder on the worker's disk: fast, and enough when every worker of a run shares that disk. */
export class LocalIntermediateStore implements IntermediateStore {
  readonly mode = 'local' as const;
  /** Run folders this process has made (a run's nodes then skip the mkdir). */
  private readonly made = new Set<string>();
  constructor(readonly dir: string = join(tmpdir(), 'temporal-mlflow-intermediate')) {}

  private path(runId: string, dataset: string): string {
    return join(this.dir, safeSegment(runId), `${safeSegment(dataset)}.bin`);
  }

  async save(runId: string, dataset: string, value: unknown): Promise<void> {
    const target = this.path(runId, dataset);
    const folder = join(this.dir, safeSegment(runId));
    const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
    const bytes = await encodeValue(value);
    if (bytes.byteLength <= SYNC_IO_BYTES) {
      if (!this.made.has(folder)) mkdirSync(folder, { recursive: true });
      this.made.add(folder);
      try {
        writeFileSync(temp, bytes);
      } catch (error) {
        // The folder was removed meanwhile (another worker cleaned the run up): make it again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        mkdirSync(folder, { recursive: true });
        writeFileSync(temp, bytes);
      }
      renameSync(temp, target);
      return;
    }
    await mkdir(folder, { recursive: true });
    this.made.add(folder);
    await writeFile(temp, bytes);
    await rename(temp, target);
  }

  async load(runId: string, dataset: string): Promise<unknown> {
    const file = this.path(runId, dataset);
    const { size } = statSync(file);
    return decodeValue(size <= SYNC_IO_BYTES ? readFileSync(file) : await readFile(file));
  }

  async exists(runId: string, dataset: string): Promise<boolean> {
    return stat(this.path(runId, dataset)).then(
      () => true,
      () => false,
    );
  }

  /**
   * Moves the run's folder out of the way at once (one rename, however many values the run kept:
   * the run's close does not wait for a file per node to be deleted) and deletes it afterwards,
   * with any folder a process that died meanwhile left behind.
   */
  async clear(runId: string): Promise<void> {
    const folder = join(this.dir, safeSegment(runId));
    this.made.delete(folder);
    // Run folders never start with a dot (see safeSegment): these names are no run's.
    const trash = join(this.dir, `${TRASH_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await rename(folder, trash);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // Another file system's quirk: delete in place, as before.
      await rm(folder, { recursive: true, force: true });
      return;
    }
    void this.emptyTrash();
  }

  /** Deletes the moved folders (never fails: what is left goes with the next clear). */
  async emptyTrash(): Promise<void> {
    try {
      const names = await readdir(this.dir);
      await Promise.all(
        names
          .filter((name) => name.startsWith(TRASH_PREFIX))
          .map((name) => rm(join(this.dir, name), { recursive: true, force: true })),
      );
    } catch {
      // The store's folder is gone, or a folder is being deleted by another process.
    }
  }

  describe(): Record<string, unknown> {
    return { mode: this.mode, dir: this.dir };
  }
}

/** Artifact folder (under the MLflow server's artifact root) that holds intermediate values. */
export const MLFLOW_INTERMEDIATE_ROOT = 'temporal-mlflow-intermediate';

/**
 * The MLflow server's artifact store, through its proxy: works when consecutive nodes run on
 * workers on different hosts with no shared disk, since every worker talks to MLflow already.
 */
export class MlflowIntermediateStore implements IntermediateStore {
  readonly mode = 'mlflow' as const;
  /**
   * @param experimentId the experiment whose artifact folder holds the values
   *   (`mlflow-artifacts:/<id>/temporal-mlflow-intermediate/...`): a server with authentication
   *   grants artifact access by experiment, so values outside one would fall under the default
   *   permission. Without it, the values go under the artifact root.
   */
  constructor(
    private readonly client: MlflowClient,
    private readonly scratchDir: string = join(tmpdir(), 'temporal-mlflow-intermediate-cache'),
    private readonly experimentId?: () => Promise<string | undefined>,
  ) {}

  private async root(runId: string): Promise<string> {
    const experiment = await this.experimentId?.();
    const base = experiment ? `${safeSegment(experiment)}/` : '';
    return `mlflow-artifacts:/${base}${MLFLOW_INTERMEDIATE_ROOT}/${safeSegment(runId)}`;
  }

  private async scratchFile(runId: string, dataset: string): Promise<string> {
    const dir = join(
      this.scratchDir,
      `${safeSegment(runId)}-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    await mkdir(dir, { recursive: true });
    return join(dir, `${safeSegment(dataset)}.bin`);
  }

  async save(runId: string, dataset: string, value: unknown): Promise<void> {
    const file = await this.scratchFile(runId, dataset);
    try {
      await writeFile(file, await encodeValue(value));
      await this.client.artifacts.uploadFile(await this.root(runId), file);
    } finally {
      await rm(dirname(file), { recursive: true, force: true });
    }
  }

  async load(runId: string, dataset: string): Promise<unknown> {
    const file = await this.scratchFile(runId, dataset);
    try {
      await this.client.artifacts.downloadFile(
        await this.root(runId),
        `${safeSegment(dataset)}.bin`,
        file,
      );
      return decodeValue(await readFile(file));
    } finally {
      await rm(dirname(file), { recursive: true, force: true });
    }
  }

  async exists(runId: string, dataset: string): Promise<boolean> {
    const listed = await this.client.artifacts.listArtifacts(await this.root(runId));
    return listed.some((file) => file.path === `${safeSegment(dataset)}.bin`);
  }

  async clear(runId: string): Promise<void> {
    await this.client.artifacts.delete(await this.root(runId));
  }

  describe(): Record<string, unknown> {
    return { mode: this.mode, root: `mlflow-artifacts:/${MLFLOW_INTERMEDIATE_ROOT}` };
  }
}
