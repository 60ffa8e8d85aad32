import { access, stat } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';
import type { BaseDatasetOptions } from './abstract-dataset.js';
import { AbstractDataset } from './abstract-dataset.js';
import { atomicWrite } from './atomic-write.js';
import { DatasetError, VersionNotFoundError } from './errors.js';
import { generateVersion, listVersions, VERSION_PATTERN, versionedPath } from './versioning.js';

/** Options of every file-backed dataset. */
export interface FileDatasetOptions extends BaseDatasetOptions {
  /** The file to read and write; relative paths resolve against `projectDir`. */
  filepath: string;
  /** @default process.cwd() */
  projectDir?: string;
  /**
   * Keep every save as `<filepath>/<version>/<basename>` (Kedro layout).
   * @default false
   */
  versioned?: boolean;
  /** Version to load when versioned. @default the latest saved version */
  loadVersion?: string | undefined;
  /** Version to save to when versioned. @default a new UTC timestamp per save */
  saveVersion?: string | undefined;
}

/**
 * Base of datasets stored in one local file. Handles path resolution, versioning and atomic
 * saves; subclasses implement `readFile(path)` and `writeFile(tempPath, data)`.
 */
export abstract class AbstractFileDataset<T> extends AbstractDataset<T> {
  readonly persisted = true;
  /** The configured path, as given (for descriptions). */
  readonly filepath: string;
  /** Absolute path: the file, or the folder of versions when versioned. */
  readonly resolvedPath: string;
  readonly versioned: boolean;
  readonly loadVersion: string | undefined;
  readonly saveVersion: string | undefined;
  #lastSavedVersion: string | undefined;

  protected constructor(options: FileDatasetOptions) {
    super(options);
    this.filepath = options.filepath;
    const projectDir = options.projectDir ?? process.cwd();
    this.resolvedPath = isAbsolute(options.filepath)
      ? options.filepath
      : resolve(projectDir, options.filepath);
    this.versioned = options.versioned ?? false;
    this.loadVersion = options.loadVersion;
    this.saveVersion = options.saveVersion;
    for (const version of [this.loadVersion, this.saveVersion]) {
      if (version !== undefined && !this.versioned) {
        throw new DatasetError(
          `Dataset '${this.name}': a load/save version is set but 'versioned' is not true`,
          {
            dataset: this.name,
          },
        );
      }
    }
  }

  protected abstract readFile(path: string): Promise<T>;
  protected abstract writeFile(tempPath: string, data: T): Promise<void>;
  /** Options to add to `describe()` (load/save args ...). */
  protected describeOptions(): Record<string, unknown> {
    return {};
  }

  /** Versions saved so far, newest first (empty when not versioned). */
  versions(): string[] {
    return this.versioned ? listVersions(this.resolvedPath, basename(this.resolvedPath)) : [];
  }

  /**
   * The file a load reads: the file itself, or the pinned / latest version's file when
   * versioned (the version just saved by this instance wins over older ones).
   */
  localPath(): string | undefined {
    if (!this.versioned) return this.resolvedPath;
    const version = this.loadVersion ?? this.#lastSavedVersion ?? this.versions()[0];
    return version === undefined ? undefined : this.pathOf(version);
  }

  protected pathOf(version: string): string {
    return versionedPath(this.resolvedPath, version, basename(this.resolvedPath));
  }

  /** The path to load from; throws `VersionNotFoundError` for a versioned dataset without it. */
  protected loadPath(): string {
    if (!this.versioned) return this.resolvedPath;
    const available = this.versions();
    const version = this.loadVersion ?? available[0];
    if (version === undefined || !available.includes(version)) {
      const what = this.loadVersion
        ? `version '${this.loadVersion}' not found`
        : 'no version saved yet';
      const listing = available.length
        ? ` (available, newest first: ${available.slice(0, 5).join(', ')})`
        : '';
      throw new VersionNotFoundError(
        `Dataset '${this.name}' ${this.toString()}: ${what} under ${this.resolvedPath}${listing}`,
        {
          dataset: this.name,
          description: this.describe(),
          operation: 'load',
          version: this.loadVersion,
          available,
        },
      );
    }
    return this.pathOf(version);
  }

  protected override async doLoad(): Promise<T> {
    const path = this.loadPath();
    try {
      await access(path);
    } catch (cause) {
      throw this.error(`no data saved yet: ${path} does not exist`, 'load', cause);
    }
    return this.readFile(path);
  }

  protected override async doSave(data: T): Promise<void> {
    if (!this.versioned) {
      await atomicWrite(this.resolvedPath, (temp) => this.writeFile(temp, data));
      return;
    }
    const version = this.saveVersion ?? generateVersion();
    if (!VERSION_PATTERN.test(version)) {
      throw this.error(
        `save version '${version}' is not a UTC timestamp like 2024-01-31T12.00.00.000Z`,
        'save',
      );
    }
    const target = this.pathOf(version);
    if (await pathExists(target)) {
      throw this.error(
        `version '${version}' already exists at ${target}; versions are never overwritten`,
        'save',
      );
    }
    await atomicWrite(target, (temp) => this.writeFile(temp, data));
    this.#lastSavedVersion = version;
  }

  protected override async doExists(): Promise<boolean> {
    const path = this.localPath();
    return path !== undefined && (await pathExists(path));
  }

  protected override doDescribe(): Record<string, unknown> {
    return {
      filepath: this.filepath,
      ...(this.versioned ? { versioned: true } : {}),
      ...(this.loadVersion ? { load_version: this.loadVersion } : {}),
      ...(this.saveVersion ? { save_version: this.saveVersion } : {}),
      ...this.describeOptions(),
    };
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
