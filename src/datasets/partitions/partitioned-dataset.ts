/**
 * `partitions.PartitionedDataset` (kedro-datasets): a folder of partitions, each a file read and
 * written by an underlying dataset. `load()` returns partition id → lazy loader; `save()` takes
 * partition id → data (or a function returning it, evaluated at write time with `save_lazily`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { BaseDatasetOptions } from '../abstract-dataset.js';
import { AbstractDataset } from '../abstract-dataset.js';
import type { Dataset } from '../types.js';

/** Builds the dataset of one partition from its file path. */
export type PartitionFactory = (filepath: string) => Dataset;

/** What `PartitionedDataset.load()` returns: partition id → a function loading that partition. */
export type PartitionLoaders<T = unknown> = Record<string, () => Promise<T>>;

/** What `PartitionedDataset.save()` accepts: partition id → data, or a function producing it. */
export type PartitionData<T = unknown> = Record<string, T | (() => T | Promise<T>)>;

export interface PartitionedDatasetOptions extends BaseDatasetOptions {
  /** Folder of the partitions; relative paths resolve against `projectDir`. */
  path: string;
  /** @default process.cwd() */
  projectDir?: string;
  /** The underlying dataset of one partition file (YAML: `dataset: csv.CSVDataset` or a mapping). */
  dataset: PartitionFactory;
  /** How `describe()` shows the underlying dataset (credentials removed). */
  datasetDescription?: Record<string, unknown>;
  /** Only files ending with this are partitions; it is not part of the partition id. @default '' */
  filenameSuffix?: string;
  /** Remove every existing partition when saving. @default false */
  overwrite?: boolean;
  /** Call function values at write time, one partition at a time. @default true */
  saveLazily?: boolean;
  /** How deep to look for partition files below `path` (1 = only its direct files). @default unlimited */
  maxDepth?: number | undefined;
}

/** True for names the listing skips: hidden files and folders (temp files, checkpoints' state). */
const isHidden = (name: string): boolean => name.startsWith('.');

/**
 * A folder of partitions (Kedro's `PartitionedDataset`). Partition ids are file paths relative to
 * `path`, `/`-separated, without `filenameSuffix`. A save first writes every partition into a
 * hidden staging folder, then moves them into place: a partition whose data (or lazy function)
 * fails leaves the folder as it was.
 */
export class PartitionedDataset<
  T = unknown,
  Loaded extends Record<string, unknown> = PartitionLoaders<T>,
> extends AbstractDataset<Loaded | PartitionData<T>> {
  readonly type: string = 'partitions.PartitionedDataset';
  readonly persisted = true;
  /** The path as configured. */
  readonly path: string;
  /** Absolute folder of the partitions. */
  readonly resolvedPath: string;
  readonly filenameSuffix: string;
  readonly overwrite: boolean;
  readonly saveLazily: boolean;
  readonly maxDepth: number | undefined;
  protected readonly createPartition: PartitionFactory;
  readonly #datasetDescription: Record<string, unknown> | undefined;

  constructor(options: PartitionedDatasetOptions) {
    super(options);
    this.path = options.path;
    this.resolvedPath = resolve(options.projectDir ?? process.cwd(), options.path);
    this.createPartition = options.dataset;
    this.#datasetDescription = options.datasetDescription;
    this.filenameSuffix = options.filenameSuffix ?? '';
    this.overwrite = options.overwrite ?? false;
    this.saveLazily = options.saveLazily ?? true;
    this.maxDepth = options.maxDepth;
  }

  /** Partition id → lazy loader, sorted by id. Throws when the folder holds no partition. */
  override async load(): Promise<Loaded> {
    return (await super.load()) as Loaded;
  }

  /** Partition ids currently in the folder, sorted. */
  async partitionIds(): Promise<string[]> {
    return (await this.listPartitionFiles()).map((file) => this.idOf(file));
  }

  /** The file of partition `id` (validated: stays inside the folder). */
  partitionPath(id: string): string {
    if (id === '' || isAbsolute(id) || id.split(/[\\/]/).some((part) => part === '..')) {
      throw this.error(`partition id '${id}' must be a relative path inside ${this.path}`);
    }
    return join(this.resolvedPath, ...id.split('/')) + this.filenameSuffix;
  }

  /** The dataset of partition `id`. */
  partition(id: string): Dataset<T> {
    return this.createPartition(this.partitionPath(id)) as Dataset<T>;
  }

  localPath(): string {
    return this.resolvedPath;
  }

  protected async doLoad(): Promise<Loaded> {
    const ids = await this.partitionIds();
    if (ids.length === 0) throw this.error(`no partitions found in '${this.path}'`, 'load');
    return Object.fromEntries(
      ids.map((id) => {
        const dataset = this.partition(id);
        return [id, () => dataset.load()];
      }),
    ) as Loaded;
  }

  protected async doSave(data: Loaded | PartitionData<T>): Promise<void> {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw this.error(
        `expected an object of partitions ({ id: data }), received ${Array.isArray(data) ? 'an array' : typeof data}`,
        'save',
      );
    }
    const ids = Object.keys(data).sort();
    for (const id of ids) this.partitionPath(id); // validate every id before writing anything
    const staging = join(
      this.resolvedPath,
      `.staging-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    const stagingPath = (id: string) => join(staging, ...id.split('/')) + this.filenameSuffix;
    try {
      for (const id of ids) {
        let value = (data as PartitionData<T>)[id];
        if (typeof value === 'function' && this.saveLazily) value = await (value as () => T)();
        await this.createPartition(stagingPath(id)).save(value);
      }
      if (this.overwrite) await this.removePartitions();
      for (const id of ids) {
        const target = this.partitionPath(id);
        await mkdir(dirname(target), { recursive: true });
        await rm(target, { recursive: true, force: true });
        await rename(stagingPath(id), target);
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
      await removeIfEmpty(this.resolvedPath);
    }
  }

  protected async doExists(): Promise<boolean> {
    return (await this.listPartitionFiles()).length > 0;
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      path: this.path,
      dataset: this.#datasetDescription,
      ...(this.filenameSuffix ? { filename_suffix: this.filenameSuffix } : {}),
      ...(this.overwrite ? { overwrite: true } : {}),
      ...(this.saveLazily ? {} : { save_lazily: false }),
    };
  }

  /** Files to leave out of the listing, besides hidden ones (IncrementalDataset: its checkpoint). */
  protected isExcluded(_file: string): boolean {
    return false;
  }

  /** Absolute partition files, sorted by partition id. */
  protected async listPartitionFiles(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (folder: string, depth: number): Promise<void> => {
      let entries;
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        if (isHidden(entry.name)) continue;
        const full = join(folder, entry.name);
        if (entry.isDirectory()) {
          if (this.maxDepth === undefined || depth < this.maxDepth) await walk(full, depth + 1);
        } else if (entry.name.endsWith(this.filenameSuffix) && !this.isExcluded(full)) {
          found.push(full);
        }
      }
    };
    await walk(this.resolvedPath, 1);
    return found
      .map((file) => ({ file, id: this.idOf(file) }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(({ file }) => file);
  }

  protected idOf(file: string): string {
    const rel = relative(this.resolvedPath, file).split(sep).join('/');
    return this.filenameSuffix && rel.endsWith(this.filenameSuffix)
      ? rel.slice(0, -this.filenameSuffix.length)
      : rel;
  }

  private async removePartitions(): Promise<void> {
    for (const file of await this.listPartitionFiles()) await rm(file, { force: true });
  }
}

async function removeIfEmpty(folder: string): Promise<void> {
  try {
    if ((await stat(folder)).isDirectory() && (await readdir(folder)).length === 0)
      await rm(folder, { recursive: true });
  } catch {
    // absent or not empty: nothing to do
  }
}
