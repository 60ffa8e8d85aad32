import type { RunIdentity } from '../temporal/identity.js';

/**
 * Plain data exchanged by the batch scoring workflow, its activities and clients. Type-only for
 * workflow code; nothing here carries records or predictions (they stay in files).
 */

/** Input of `batchScoringWorkflow`. */
export interface BatchScoringInput {
  /** runs:/, models:/ or a folder the workers can read. Registry aliases are resolved once, when planning. */
  modelUri: string;
  /** Catalog dataset to score. */
  input: string;
  /** Catalog dataset the predictions are saved to. */
  output: string;
  /** Configuration environment of the worker's project. @default 'local' */
  env?: string;
  /** Who the run belongs to: workers of another project or environment hand it back. */
  identity?: Partial<RunIdentity>;
  /** Inference params of every predict call (override the model signature's defaults). */
  params?: Record<string, unknown>;
  /** Runtime parameter overrides of the project's configuration (`${runtime_params:...}` in the catalog). */
  runtimeParams?: Record<string, unknown>;
  /** Rows per chunk activity. @default 10000 */
  chunkSize?: number;
  /** Chunk activities scheduled at once (the workers' slots bound real concurrency). @default 8 */
  maxParallelChunks?: number;
  /** Keep the run's part files after saving the output (they are removed by default). */
  keepParts?: boolean;
  /** Per-chunk timeout. @default 30 minutes */
  chunkTimeoutMs?: number;
  /** Attempts per chunk before the workflow fails. @default 5 */
  chunkAttempts?: number;
}

/** What the plan activity decides; the chunk ranges follow from it. */
export interface BatchPlan {
  /** The model URI every chunk loads: a registry alias or version resolved to `models:/<model_id>`. */
  modelUri: string;
  numRows: number;
  chunkSize: number;
  chunkCount: number;
  /** The run's folder of parts, on the workers' shared disk. */
  runDir: string;
  /**
   * How the input is read by range: by byte offsets (CSV), row groups (Parquet), the dataset's own
   * `readRange` (SQL tables) or a whole load.
   */
  reader: 'csv' | 'parquet' | 'range' | 'dataset';
}

export interface ScoreChunkInput {
  runDir: string;
  modelUri: string;
  input: string;
  env: string;
  identity?: Partial<RunIdentity>;
  runtimeParams: Record<string, unknown>;
  params?: Record<string, unknown>;
  index: number;
  rowStart: number;
  rowEnd: number;
}

export interface ScoreChunkResult {
  index: number;
  rows: number;
  /** True when the part already existed (an earlier attempt or run computed it). */
  skipped: boolean;
  durationMs: number;
}

export interface FinishBatchInput {
  runDir: string;
  output: string;
  env: string;
  identity?: Partial<RunIdentity>;
  runtimeParams: Record<string, unknown>;
  chunkCount: number;
  keepParts: boolean;
}

export type BatchScoringState =
  'planning' | 'scoring' | 'saving' | 'completed' | 'failed' | 'cancelled';

/** Answer of the batch workflow's `progress` query. */
export interface BatchScoringProgress {
  state: BatchScoringState;
  modelUri: string;
  input: string;
  output: string;
  totalRows: number;
  rowsDone: number;
  totalChunks: number;
  chunksDone: number;
  /** Chunks whose part existed already (resumed runs). */
  chunksSkipped: number;
  /** Summaries of the chunk activities in flight (`score rows a–b`). */
  running: string[];
  error?: string;
}

export interface BatchScoringResult {
  modelUri: string;
  input: string;
  output: string;
  rows: number;
  chunks: number;
  /** Chunks scored by this run. */
  chunksComputed: number;
  /** Chunks found already scored (parts of an earlier attempt of the same workflow id). */
  chunksSkipped: number;
  durationMs: number;
}
