/**
 * The dataset contract every dataset implements (Kedro's AbstractDataset): load, save, exists,
 * describe. Implementations extend `AbstractDataset` (./abstract-dataset.ts), which wraps every
 * failure in a `DatasetError` naming the dataset.
 */
export interface Dataset<T = unknown> {
  load(): Promise<T>;
  save(data: T): Promise<void>;
  exists(): Promise<boolean>;
  /** Free what the dataset holds in memory (MemoryDataset drops its value). */
  release(): Promise<void>;
  /** A JSON-safe description for messages and logs: never includes credentials. */
  describe(): Record<string, unknown>;
  /** False for MemoryDataset: its value lives only in this process. */
  readonly persisted: boolean;
  /**
   * The local file or folder the dataset reads, when it has one (used to copy inference
   * artifacts into a packaged model and by MlflowArtifactDataset).
   */
  localPath?(): string | undefined;
}

/** Context handed to a dataset factory when the catalog builds an entry from YAML. */
export interface DatasetContext {
  /** The catalog entry's name (e.g. `model_input_table`). */
  readonly name: string;
  /** Project root; relative file paths resolve against it. */
  readonly projectDir: string;
  /** Credentials resolved for this entry, if its config named a `credentials:` key. */
  readonly credentials?: Record<string, unknown>;
  /**
   * Absolute folders (or files) a file path may resolve into, the project folder first. Set by
   * catalogs built from configuration: a path outside them is a `DatasetPathError` (see
   * `resolveDatasetPath`). Unset: no check (datasets built in code).
   */
  readonly allowedRoots?: readonly string[];
  /** Builds a nested dataset from its config (for wrappers such as MlflowArtifactDataset). */
  readonly build: (config: Record<string, unknown>, name?: string) => Dataset;
}

/** Builds a dataset from the rest of its YAML entry (everything but `type`). */
export type DatasetFactory = (config: Record<string, unknown>, context: DatasetContext) => Dataset;
