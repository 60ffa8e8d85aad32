/**
 * Scoring a file of any size with a model: records are read in chunks, each chunk is predicted and
 * its predictions are written out before the next is read, so memory holds one chunk (plus the
 * model), whatever the file's size.
 */
import type { CSVLoadArgs } from '../datasets/csv-dataset.js';
import { openRecordSource } from './readers.js';
import { createPredictionWriter } from './writers.js';

/** Default rows per chunk of `predict` and of the batch scoring workflow. */
export const DEFAULT_CHUNK_SIZE = 10_000;

/** Anything with `predict(records, params)`: a PipelineModel, or a test double. */
export interface Predictor {
  predict(input: unknown, params?: Record<string, unknown>): Promise<unknown>;
}

export interface StreamPredictOptions {
  model: Predictor;
  /** Input file: .csv, .parquet, .json (array or MLflow scoring payload) or .jsonl. */
  input: string;
  /** Output file (.json, .jsonl, .csv, .parquet); undefined writes JSON to stdout. */
  output?: string;
  /** Inference params for every chunk (over an MLflow payload's own `params`). */
  params?: Record<string, unknown>;
  /** @default 10000 */
  chunkSize?: number;
  csv?: CSVLoadArgs;
  /** After each chunk: rows scored so far, and the total when known. */
  onProgress?: (done: number, total: number | undefined) => void;
}

export interface StreamPredictResult {
  rows: number;
  chunks: number;
  /** Rows the input holds, when known before reading it (CSV, Parquet, payloads). */
  total: number | undefined;
  durationMs: number;
}

/** Scores `input` chunk by chunk into `output` (see the module doc). */
export async function streamPredict(options: StreamPredictOptions): Promise<StreamPredictResult> {
  const started = performance.now();
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const source = await openRecordSource(options.input, {
    chunkSize,
    ...(options.csv ? { csv: options.csv } : {}),
  });
  const merged = { ...source.payloadParams, ...options.params };
  const params = Object.keys(merged).length > 0 ? merged : undefined;
  const writer = await createPredictionWriter(options.output);
  let rows = 0;
  let chunks = 0;
  try {
    options.onProgress?.(0, source.numRows);
    for await (const chunk of source.chunks) {
      const predictions = await options.model.predict(chunk, params);
      if (Array.isArray(predictions) && predictions.length !== chunk.length) {
        throw new Error(
          `the model returned ${predictions.length} predictions for a chunk of ${chunk.length} records: it cannot be scored in chunks.`,
        );
      }
      await writer.write(predictions);
      rows += chunk.length;
      chunks++;
      options.onProgress?.(rows, source.numRows);
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { rows, chunks, total: source.numRows, durationMs: performance.now() - started };
}
