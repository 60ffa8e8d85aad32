import type { ModelSignature } from '../model/signature.js';

/** What the scoring server and the python_function stdio bridge need from a loaded model. */
export interface ScoringModel {
  /**
   * Runs the inference pipeline on records (one object per row); returns JSON-serialisable
   * predictions (an array of rows, or, when the pipeline has several outputs, an object keyed by
   * output name).
   */
  predict(records: Record<string, unknown>[], params?: Record<string, unknown>): Promise<unknown>;
  readonly signature?: ModelSignature;
  readonly metadata: ScoringModelMetadata;
}

export interface ScoringModelMetadata {
  modelUri?: string;
  modelId?: string;
  runId?: string;
  /** The local folder the model was loaded from (set by `loadModel`): scoring threads load it from there. */
  dir?: string;
  /** Version of the `temporal_mlflow` flavor the model was packaged with. */
  flavorVersion: string;
}

/** A scoring request once parsed: records (one object per row) and the raw params, if any. */
export interface ParsedRequest {
  records: Record<string, unknown>[];
  params?: Record<string, unknown>;
  /** The request's columns when its format names them (`dataframe_split`, CSV, `{col: [values]}`). */
  columns?: string[];
  /** What was ignored, as MLflow ignores it (unknown keys, renamed CSV headers), to log as warnings. */
  warnings?: string[];
}
