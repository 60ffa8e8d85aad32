import { closestMatch } from '../utils/suggest.js';
import { csvDatasetFactory } from './csv-dataset.js';
import { DatasetConfigError, UnknownDatasetTypeError } from './errors.js';
import { jsonDatasetFactory } from './json-dataset.js';
import { memoryDatasetFactory } from './memory.js';
import { modelStateDatasetFactory } from './model-state-dataset.js';
import { parquetDatasetFactory } from './parquet-dataset.js';
import { incrementalDatasetFactory, partitionedDatasetFactory } from './partitions/factories.js';
import { sqlQueryDatasetFactory, sqlTableDatasetFactory } from './sql/factories.js';
import { textDatasetFactory } from './text-dataset.js';
import type { Dataset, DatasetContext, DatasetFactory } from './types.js';

/** The built-in dataset types, under their kedro-datasets names. */
export const BUILTIN_DATASET_TYPES: Readonly<Record<string, DatasetFactory>> = Object.freeze({
  MemoryDataset: memoryDatasetFactory,
  'io.MemoryDataset': memoryDatasetFactory,
  'csv.CSVDataset': csvDatasetFactory,
  'parquet.ParquetDataset': parquetDatasetFactory,
  'json.JSONDataset': jsonDatasetFactory,
  'text.TextDataset': textDatasetFactory,
  'model.ModelStateDataset': modelStateDatasetFactory,
  'partitions.PartitionedDataset': partitionedDatasetFactory,
  'partitions.IncrementalDataset': incrementalDatasetFactory,
  'sql.SQLTableDataset': sqlTableDatasetFactory,
  'sql.SQLQueryDataset': sqlQueryDatasetFactory,
});

export interface DatasetRegistryOptions {
  /** Start with the built-in types. @default true */
  builtins?: boolean;
}

/**
 * Dataset types by their `type:` string. A catalog entry can only name a registered type:
 * YAML never imports a module. Projects register their own types in code
 * (`defineProject({ datasets: { 'my.Type': factory } })`).
 */
export class DatasetRegistry {
  readonly #factories = new Map<string, DatasetFactory>();

  constructor(options: DatasetRegistryOptions = {}) {
    if (options.builtins ?? true)
      for (const [type, factory] of Object.entries(BUILTIN_DATASET_TYPES))
        this.#factories.set(type, factory);
  }

  /**
   * Registers `factory` under `type`. Registering a type twice is an error unless
   * `{ replace: true }` (e.g. to replace a built-in).
   */
  register(type: string, factory: DatasetFactory, options: { replace?: boolean } = {}): this {
    if (typeof type !== 'string' || type.trim() === '') {
      throw new DatasetConfigError(
        `A dataset type must be a non-empty string, received ${JSON.stringify(type)}`,
      );
    }
    if (typeof factory !== 'function') {
      throw new DatasetConfigError(
        `Dataset type '${type}': the factory must be a function, received ${typeof factory}`,
        { type },
      );
    }
    if (this.#factories.has(type) && !options.replace) {
      throw new DatasetConfigError(
        `Dataset type '${type}' is already registered; pass { replace: true } to replace it`,
        { type },
      );
    }
    this.#factories.set(type, factory);
    return this;
  }

  has(type: string): boolean {
    return this.#factories.has(type);
  }

  /** Registered type strings, sorted. */
  types(): string[] {
    return [...this.#factories.keys()].sort();
  }

  /** The factory of `type`; throws `UnknownDatasetTypeError` listing the known types. */
  get(type: string, datasetName?: string): DatasetFactory {
    const factory = this.#factories.get(type);
    if (factory) return factory;
    const knownTypes = this.types();
    const suggestion = closestMatch(type, knownTypes);
    const where = datasetName ? ` for dataset '${datasetName}'` : '';
    throw new UnknownDatasetTypeError(
      `Unknown dataset type '${type}'${where}.${suggestion ? ` Did you mean '${suggestion}'?` : ''} ` +
        `Known types: ${knownTypes.join(', ')}. Register your own with defineProject({ datasets: { '${type}': factory } }).`,
      { dataset: datasetName, type, knownTypes, suggestion },
    );
  }

  /**
   * Builds a dataset from a whole catalog entry (`type` plus the factory's options).
   * `context.build` defaults to building nested entries with this registry.
   */
  create(
    entry: Record<string, unknown>,
    context: Omit<DatasetContext, 'build'> & { build?: DatasetContext['build'] },
  ): Dataset {
    const { type, ...config } = entry;
    if (typeof type !== 'string') {
      throw new DatasetConfigError(
        `Dataset '${context.name}': ${type === undefined ? 'missing type' : `type must be a string, received ${typeof type}`}`,
        {
          dataset: context.name,
          issues: [
            {
              path: ['type'],
              message: type === undefined ? 'missing type' : 'type must be a string',
            },
          ],
        },
      );
    }
    const factory = this.get(type, context.name);
    const build: DatasetContext['build'] =
      context.build ??
      ((nested, name) =>
        this.create(nested, { ...context, name: name ?? context.name, build: undefined }));
    return factory(config, { ...context, build });
  }
}
