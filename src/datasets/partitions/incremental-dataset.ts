/**
 * `partitions.IncrementalDataset` (kedro-datasets): the partitions of a folder newer than a
 * checkpoint. `load()` returns partition id → loaded data for partitions past the checkpoint;
 * `confirm()` moves the checkpoint to the last of them once the consuming node succeeded.
 *
 * Exactly once under retries: the first load of a run pins its window (the checkpoint it started
 * from and the partition ids it returned) in a small record next to the checkpoint, keyed by the
 * run (see run-scope.ts: the Temporal workflow id inside activities). A retried attempt of that
 * run, on any worker sharing the folder, loads the same partitions even when newer ones arrived
 * or the checkpoint already moved; `confirm()` only ever moves the checkpoint forward, so
 * confirming twice is harmless. The next run starts from the moved checkpoint.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { atomicWrite } from '../atomic-write.js';
import { DatasetError } from '../errors.js';
import { isInside } from '../paths.js';
import type { PartitionedDatasetOptions } from './partitioned-dataset.js';
import { PartitionedDataset } from './partitioned-dataset.js';
import { currentRunKey } from './run-scope.js';

/** Kedro's `comparison_func` values we accept (no code is imported from YAML). */
export const COMPARISONS = {
  'operator.gt': (a: string, b: string) => a > b,
  'operator.ge': (a: string, b: string) => a >= b,
  'operator.lt': (a: string, b: string) => a < b,
  'operator.le': (a: string, b: string) => a <= b,
} as const;
export type ComparisonName = keyof typeof COMPARISONS;

export interface IncrementalDatasetOptions extends Omit<PartitionedDatasetOptions, 'overwrite'> {
  /**
   * The checkpoint file (a text file holding the last processed partition id); relative paths
   * resolve against the partition folder and must stay inside it.
   * @default '<path>/CHECKPOINT'
   */
  checkpointPath?: string;
  /** Partition id `a` is new when `compare(a, checkpoint)`. @default 'operator.gt' */
  comparison?: ComparisonName | ((partitionId: string, checkpoint: string) => boolean);
  /** Use this checkpoint instead of the stored one (Kedro's `force_checkpoint`). */
  forceCheckpoint?: string | undefined;
  /** Per-run records kept after confirmation (oldest removed first). @default 100 */
  keepRuns?: number;
}

/** The window a run reads, pinned at its first load. */
interface RunRecord {
  runKey: string;
  checkpoint: string | null;
  partitions: string[];
  createdAt: string;
  confirmedAt?: string;
}

export const CHECKPOINT_FILENAME = 'CHECKPOINT';

/** A folder of partitions loaded incrementally (Kedro's `IncrementalDataset`). */
export class IncrementalDataset<T = unknown> extends PartitionedDataset<T, Record<string, T>> {
  override readonly type: string = 'partitions.IncrementalDataset';
  /** Absolute path of the checkpoint file. */
  readonly checkpointPath: string;
  readonly forceCheckpoint: string | undefined;
  readonly #compare: (partitionId: string, checkpoint: string) => boolean;
  readonly #comparisonName: string | undefined;
  readonly #keepRuns: number;
  /** Run key used outside any run scope; `release()` starts a new one (Kedro clears its cache). */
  #localKey = `local:${randomUUID()}`;

  constructor(options: IncrementalDatasetOptions) {
    super({ ...options, overwrite: false });
    this.checkpointPath = resolve(this.resolvedPath, options.checkpointPath ?? CHECKPOINT_FILENAME);
    if (
      !isInside(this.checkpointPath, this.resolvedPath) ||
      this.checkpointPath === this.resolvedPath
    ) {
      throw this.error(
        `checkpoint filepath '${options.checkpointPath}' resolves to ${this.checkpointPath}, which is outside the dataset folder ${this.resolvedPath}`,
      );
    }
    const comparison = options.comparison ?? 'operator.gt';
    this.#compare = typeof comparison === 'function' ? comparison : COMPARISONS[comparison];
    this.#comparisonName = typeof comparison === 'string' ? comparison : undefined;
    this.forceCheckpoint = options.forceCheckpoint;
    this.#keepRuns = options.keepRuns ?? 100;
  }

  /** Partition id → loaded data, for partitions past the checkpoint (pinned per run). */
  override async load(): Promise<Record<string, T>> {
    return super.load();
  }

  /** The stored checkpoint (or the forced one); undefined before the first confirmation. */
  async checkpoint(): Promise<string | undefined> {
    if (this.forceCheckpoint !== undefined) return this.forceCheckpoint;
    try {
      return await readFile(this.checkpointPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Moves the checkpoint to the last partition this run loaded (Kedro's `confirm`). Idempotent:
   * the checkpoint only moves forward; a run that loaded nothing leaves it alone.
   */
  async confirm(): Promise<void> {
    try {
      const key = await this.runKey();
      const record = await this.readRecord(key);
      if (!record) return;
      const last = record.partitions.at(-1);
      if (last !== undefined) {
        const stored = await this.checkpoint();
        const forward = stored === undefined || this.#compare(last, stored);
        if (forward && stored !== last)
          await atomicWrite(this.checkpointPath, (temp) => writeFile(temp, last, 'utf8'));
      }
      if (!record.confirmedAt) {
        await this.writeRecord(key, { ...record, confirmedAt: new Date().toISOString() });
        await this.pruneRecords();
      }
    } catch (error) {
      if (error instanceof DatasetError) throw error;
      throw this.error(
        `confirming the checkpoint failed: ${(error as Error).message}`,
        undefined,
        error,
      );
    }
  }

  protected override async doLoad(): Promise<Record<string, T>> {
    if (!(await folderExists(this.resolvedPath)))
      throw this.error(`no data saved yet: ${this.resolvedPath} does not exist`, 'load');
    const key = await this.runKey();
    let record = await this.readRecord(key);
    if (!record) {
      const checkpoint = (await this.checkpoint()) ?? null;
      const ids = await this.partitionIds();
      record = {
        runKey: key,
        checkpoint,
        partitions: ids.filter((id) => checkpoint === null || this.#compare(id, checkpoint)),
        createdAt: new Date().toISOString(),
      };
      await this.writeRecord(key, record);
    }
    const loaded: Record<string, T> = {};
    for (const id of record.partitions) loaded[id] = await this.partition(id).load();
    return loaded;
  }

  protected override async doRelease(): Promise<void> {
    this.#localKey = `local:${randomUUID()}`;
  }

  protected override doDescribe(): Record<string, unknown> {
    const { overwrite: _overwrite, ...rest } = super.doDescribe();
    return {
      ...rest,
      checkpoint: {
        filepath: this.checkpointPath,
        ...(this.#comparisonName && this.#comparisonName !== 'operator.gt'
          ? { comparison_func: this.#comparisonName }
          : {}),
        ...(this.forceCheckpoint !== undefined ? { force_checkpoint: this.forceCheckpoint } : {}),
      },
    };
  }

  protected override isExcluded(file: string): boolean {
    return file === this.checkpointPath;
  }

  /** Folder of the per-run records: hidden, next to the checkpoint. */
  get runsFolder(): string {
    return join(dirname(this.checkpointPath), `.${basename(this.checkpointPath)}.runs`);
  }

  private async runKey(): Promise<string> {
    return (await currentRunKey()) ?? this.#localKey;
  }

  private recordPath(key: string): string {
    const digest = createHash('sha256').update(key).digest('hex').slice(0, 32);
    return join(this.runsFolder, `${digest}.json`);
  }

  private async readRecord(key: string): Promise<RunRecord | undefined> {
    try {
      const record = JSON.parse(await readFile(this.recordPath(key), 'utf8')) as RunRecord;
      return record.runKey === key ? record : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async writeRecord(key: string, record: RunRecord): Promise<void> {
    await atomicWrite(this.recordPath(key), (temp) =>
      writeFile(temp, JSON.stringify(record), 'utf8'),
    );
  }

  /** Keeps the newest `keepRuns` confirmed records. */
  private async pruneRecords(): Promise<void> {
    const names = (await readdir(this.runsFolder)).filter((name) => name.endsWith('.json'));
    if (names.length <= this.#keepRuns) return;
    const confirmed: { name: string; at: string }[] = [];
    for (const name of names) {
      try {
        const record = JSON.parse(await readFile(join(this.runsFolder, name), 'utf8')) as RunRecord;
        if (record.confirmedAt) confirmed.push({ name, at: record.confirmedAt });
      } catch {
        // a record being written by another run: leave it
      }
    }
    confirmed.sort((a, b) => (a.at < b.at ? -1 : 1));
    for (const { name } of confirmed.slice(0, Math.max(0, names.length - this.#keepRuns)))
      await rm(join(this.runsFolder, name), { force: true });
  }
}

async function folderExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
