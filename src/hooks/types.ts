import type { Dataset } from '../datasets/types.js';

/** What every hook receives about the run it observes. */
export interface RunInfo {
  /** Unique id of this run (local runner: generated; Temporal: the workflow id). */
  readonly runId: string;
  readonly pipelineName: string;
  readonly env: string;
  readonly projectDir: string;
  /** Runtime parameter overrides given on the command line. */
  readonly runtimeParams: Record<string, unknown>;
  /** The command that reproduces this run, for the MLflow tag. */
  readonly command?: string;
  /** Set when an MLflow run already exists for this run (Temporal creates it first). */
  readonly mlflowRunId?: string;
}

export interface NodeInfo {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly tags: readonly string[];
}

/** Minimal catalog view hooks may use (load persisted inputs, describe datasets). */
export interface CatalogView {
  load(name: string): Promise<unknown>;
  has(name: string): boolean;
  getDataset(name: string): Dataset | undefined;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/**
 * Lifecycle hooks, as in Kedro. Every method is optional; hooks run in registration order and
 * a hook that throws fails the run. MLflow tracking is one such hook.
 */
export interface Hooks {
  beforePipelineRun?(args: {
    run: RunInfo;
    pipeline: unknown;
    catalog: CatalogView;
  }): Promise<void> | void;
  afterPipelineRun?(args: {
    run: RunInfo;
    pipeline: unknown;
    catalog: CatalogView;
  }): Promise<void> | void;
  onPipelineError?(args: {
    run: RunInfo;
    pipeline: unknown;
    catalog: CatalogView;
    error: Error;
  }): Promise<void> | void;
  beforeNodeRun?(args: {
    run: RunInfo;
    node: NodeInfo;
    inputs: Readonly<Record<string, unknown>>;
    catalog: CatalogView;
  }): Promise<void> | void;
  afterNodeRun?(args: {
    run: RunInfo;
    node: NodeInfo;
    inputs: Readonly<Record<string, unknown>>;
    outputs: Readonly<Record<string, unknown>>;
    catalog: CatalogView;
  }): Promise<void> | void;
  onNodeError?(args: {
    run: RunInfo;
    node: NodeInfo;
    inputs: Readonly<Record<string, unknown>>;
    error: Error;
    catalog: CatalogView;
  }): Promise<void> | void;
}
