import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { MlflowClient } from '../mlflow/client.js';
import { RunValueLog } from './run-value-log.js';
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
 * Values up to this size are appended to the run's value log (see run-value-log.ts) with
 * synchronous calls: a few microseconds on the event loop instead of a file created per value and
 * thread-pool round trips (open, write, close, rename...), most of a small node's I/O time on a
 * busy machine. Larger values get a file of their own, written asynchronously.
 */
const SYNC_IO_BYTES = 256 * 1024;

/** Folders of cleared runs waiting to be deleted, in the store's folder. */
const TRASH_PREFIX = '.cleared-';

/** Runs whose value logs a store keeps open at most (the least recently used is closed). */
const OPEN_RUN_LOGS = 64;

/** A folder on the worker's disk: fast, and enough when every worker of a run shares that disk. */
export class LocalIntermediateStore implements IntermediateStore {
  readonly mode = 'local' as const;
  /** The value logs of the runs this process stored to or read from lately. */
  private readonly logs = new Map<string, RunValueLog>();
  constructor(readonly dir: string = join(tmpdir(), 'temporal-mlflow-intermediate')) {}

  private folder(runId: string): string {
    return join(this.dir, safeSegment(runId));
  }

  private path(runId: string, dataset: string): string {
    return join(this.folder(runId), `${safeSegment(dataset)}.bin`);
  }

  private log(runId: string): RunValueLog {
    let log = this.logs.get(runId);
    if (log) {
      this.logs.delete(runId);
    } else {
      log = new RunValueLog(this.folder(runId));
      if (this.logs.size >= OPEN_RUN_LOGS) {
        const [oldest, closing] = this.logs.entries().next().value!;
        closing.close();
        this.logs.delete(oldest);
      }
    }
    this.logs.set(runId, log);
    return log;
  }

  async save(runId: string, dataset: string, value: unknown): Promise<void> {
    const bytes = await encodeValue(value);
    if (bytes.byteLength <= SYNC_IO_BYTES) {
      this.log(runId).append(dataset, bytes);
      return;
    }
    const target = this.path(runId, dataset);
    const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
    await mkdir(this.folder(runId), { recursive: true });
    await writeFile(temp, bytes);
    await rename(temp, target);
    // Recorded in the log too: it wins over an earlier value of the dataset there, by its time.
    this.log(runId).append(dataset, 'inFile');
  }

  async load(runId: string, dataset: string): Promise<unknown> {
    const log = this.log(runId);
    const logged = log.find(dataset);
    if (logged && !logged.inFile) return decodeValue(log.read(logged));
    // In a file of its own (a large value, or one stored by an earlier version of this store).
    return decodeValue(await readFile(this.path(runId, dataset)));
  }

  async exists(runId: string, dataset: string): Promise<boolean> {
    const logged = this.log(runId).find(dataset);
    if (logged && !logged.inFile) return true;
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
    const folder = this.folder(runId);
    this.logs.get(runId)?.close();
    this.logs.delete(runId);
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
