import * as z from 'zod';
import type { BaseDatasetOptions } from './abstract-dataset.js';
import { AbstractDataset } from './abstract-dataset.js';
import { parseDatasetConfig } from './config-schema.js';
import type { DatasetFactory } from './types.js';
import { describeValue } from '../utils/describe-value.js';

/**
 * How a `MemoryDataset` copies values on save and load, as in Kedro:
 * - `deepcopy`: `structuredClone` (plain objects, arrays, Map, Set, Date, typed arrays);
 * - `copy`: a shallow copy (array slice / object spread);
 * - `assign`: the value itself, shared.
 */
export type CopyMode = 'deepcopy' | 'copy' | 'assign';

export interface MemoryDatasetOptions<T> extends BaseDatasetOptions {
  /** An initial value. */
  data?: T;
  /**
   * @default 'deepcopy' for plain objects and arrays (and other structured-clonable built-ins),
   * 'assign' for class instances and functions, whose prototype a deep copy would lose
   */
  copyMode?: CopyMode;
}

function isPlain(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return true;
  // Checked by prototype shape and tag, not identity: values may come from another realm.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || Object.getPrototypeOf(proto) === null) return true;
  return ['[object Map]', '[object Set]', '[object Date]'].includes(
    Object.prototype.toString.call(value),
  );
}

/** The copy mode used when none is configured (see `CopyMode`). */
export function inferCopyMode(value: unknown): CopyMode {
  return isPlain(value) ? 'deepcopy' : 'assign';
}

function copyValue<T>(value: T, mode: CopyMode): T {
  if (mode === 'assign' || value === null || typeof value !== 'object') return value;
  if (mode === 'deepcopy') return structuredClone(value);
  if (Array.isArray(value)) return value.slice() as T;
  return { ...value };
}

/**
 * A dataset held in this process's memory (`persisted: false`). The runner uses it for
 * intermediate datasets that no catalog entry declares. Loading before any save fails.
 */
export class MemoryDataset<T = unknown> extends AbstractDataset<T> {
  readonly type = 'MemoryDataset';
  readonly persisted = false;
  readonly copyMode: CopyMode | undefined;
  #data: T | undefined;
  #has = false;

  constructor(options: MemoryDatasetOptions<T> = {}) {
    super(options);
    this.copyMode = options.copyMode;
    if ('data' in options && options.data !== undefined) {
      this.#data = copyValue(options.data, this.modeFor(options.data));
      this.#has = true;
    }
  }

  private modeFor(value: unknown): CopyMode {
    return this.copyMode ?? inferCopyMode(value);
  }

  protected async doLoad(): Promise<T> {
    if (!this.#has) throw this.error('no data has been saved yet', 'load');
    return copyValue(this.#data as T, this.modeFor(this.#data));
  }

  protected async doSave(data: T): Promise<void> {
    this.#data = copyValue(data, this.modeFor(data));
    this.#has = true;
  }

  protected async doExists(): Promise<boolean> {
    return this.#has;
  }

  protected override async doRelease(): Promise<void> {
    this.#data = undefined;
    this.#has = false;
  }

  protected doDescribe(): Record<string, unknown> {
    return {
      ...(this.copyMode ? { copy_mode: this.copyMode } : {}),
      data: this.#has ? describeValue(this.#data) : '<empty>',
    };
  }
}

const memorySchema = z.strictObject({
  copy_mode: z.enum(['deepcopy', 'copy', 'assign']).optional(),
  data: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Registry factory for `MemoryDataset` / `io.MemoryDataset` (`copy_mode`, `data`). */
export const memoryDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(memorySchema, config, {
    type: 'MemoryDataset',
    name: context.name,
  });
  return new MemoryDataset({ name: context.name, data: parsed.data, copyMode: parsed.copy_mode });
};
