import type { Dataset } from './types.js';
import type { DatasetOperation } from './errors.js';
import { DatasetError } from './errors.js';

/** Options every dataset accepts. */
export interface BaseDatasetOptions {
  /**
   * Catalog name, used in error messages. The catalog passes the entry's name.
   * @default the dataset's type string
   */
  name?: string;
}

const VERBS: Record<DatasetOperation, string> = {
  load: 'loading data from',
  save: 'saving data to',
  exists: 'checking whether data exists for',
  release: 'releasing data of',
};

/** `csv.CSVDataset(filepath=data/a.csv, versioned=true)`: a one-line form of a description. */
export function formatDescription(description: Record<string, unknown>): string {
  const { type, ...rest } = description;
  const fields = Object.entries(rest)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `${String(type)}(${fields.join(', ')})`;
}

/**
 * Base class of every dataset (Kedro's `AbstractDataset`). Subclasses implement the protected
 * `doLoad`/`doSave`/`doExists`/`doDescribe` hooks; the public methods wrap every failure in a
 * `DatasetError` naming the dataset and its description (errors that already are
 * `DatasetError`s pass through unchanged).
 */
export abstract class AbstractDataset<T = unknown> implements Dataset<T> {
  /** The registry `type:` string of this implementation, e.g. `csv.CSVDataset`. */
  abstract readonly type: string;
  abstract readonly persisted: boolean;
  readonly #name: string | undefined;

  protected constructor(options: BaseDatasetOptions = {}) {
    this.#name = options.name;
  }

  /** The catalog name, or the type string when the dataset was built outside a catalog. */
  get name(): string {
    return this.#name ?? this.type;
  }

  async load(): Promise<T> {
    try {
      return await this.doLoad();
    } catch (error) {
      throw this.wrapError('load', error);
    }
  }

  async save(data: T): Promise<void> {
    try {
      await this.doSave(data);
    } catch (error) {
      throw this.wrapError('save', error);
    }
  }

  async exists(): Promise<boolean> {
    try {
      return await this.doExists();
    } catch (error) {
      throw this.wrapError('exists', error);
    }
  }

  async release(): Promise<void> {
    try {
      await this.doRelease();
    } catch (error) {
      throw this.wrapError('release', error);
    }
  }

  /** JSON-safe: `{ type, ...doDescribe() }`; never includes credentials. */
  describe(): Record<string, unknown> {
    return { type: this.type, ...this.doDescribe() };
  }

  toString(): string {
    return formatDescription(this.describe());
  }

  protected abstract doLoad(): Promise<T>;
  protected abstract doSave(data: T): Promise<void>;
  protected abstract doExists(): Promise<boolean>;
  protected abstract doDescribe(): Record<string, unknown>;
  protected async doRelease(): Promise<void> {}

  /** A `DatasetError` naming this dataset, for failures detected by the subclass itself. */
  protected error(message: string, operation?: DatasetOperation, cause?: unknown): DatasetError {
    return new DatasetError(`Dataset '${this.name}' ${this.toString()}: ${message}`, {
      dataset: this.name,
      description: this.describe(),
      operation,
      cause,
    });
  }

  private wrapError(operation: DatasetOperation, error: unknown): DatasetError {
    if (error instanceof DatasetError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new DatasetError(
      `Failed while ${VERBS[operation]} dataset '${this.name}' ${this.toString()}: ${reason}`,
      { dataset: this.name, description: this.describe(), operation, cause: error },
    );
  }
}
