/**
 * The MLflow tracking hook (kedro-mlflow's `MlflowHook`): starts (or reuses) the run before the
 * pipeline, logs the `params:*` and `parameters` inputs of every node as it starts, and ends the
 * run FINISHED after the pipeline or FAILED on error. A node's params are sent when it starts and
 * waited for after it ran (`afterNodeRun`, before its outputs are saved): the node does not wait
 * for MLflow. A refused param fails the node then; after a failed node, only a warning. Pipelines listed in
 * `tracking.disable_tracking.pipelines` are not tracked at all.
 *
 * The hook keeps its per-run state keyed by the pipeline run's id, so one hook object serves
 * several concurrent runs; the run id is published in the active-run slot (./active-run.ts) for
 * the MLflow datasets.
 */
import { PACKAGE_NAME, TAG_COMMAND, TAG_PIPELINE_NAME } from '../constants.js';
import type { Hooks, NodeInfo, RunInfo } from '../hooks/types.js';
import { activeRun } from './active-run.js';
import type { ActiveRunSlot } from './active-run.js';
import type { MlflowClient } from './client.js';
import { isPipelineTracked } from './config.js';
import type { ResolvedMlflowConfig } from './config.js';
import { MlflowError, MlflowInvalidParameterError } from './errors.js';
import { prepareParams } from './params.js';
import { defaultRunName } from './run-name.js';
import type { KeyValue } from './types.js';

export interface MlflowTrackingHookOptions {
  client: MlflowClient;
  /** The resolved mlflow.yml (`resolveMlflowConfig`). */
  config: ResolvedMlflowConfig;
  /**
   * Receives problems that must not fail the run (ending the run FAILED after a pipeline error).
   * @default process.emitWarning
   */
  warn?: (message: string) => void;
  /**
   * Every param the nodes of `run` receive (as `nodeParams` gives them), when known before they
   * run (a Temporal run's plan): the run's first node logs them all in one batch and the others
   * find theirs logged, instead of a batch per node. Undefined: each node logs its own.
   */
  runParams?: (run: RunInfo) => Promise<Record<string, unknown> | undefined>;
}

type HookArgs<K extends keyof Hooks> = Parameters<NonNullable<Hooks[K]>>[0];

/** The hook `createMlflowTrackingHook` returns: `Hooks` whose methods are always there and async. */
export interface MlflowTrackingHook extends Hooks {
  beforePipelineRun(args: HookArgs<'beforePipelineRun'>): Promise<void>;
  beforeNodeRun(args: HookArgs<'beforeNodeRun'>): Promise<void>;
  afterNodeRun(args: HookArgs<'afterNodeRun'>): Promise<void>;
  onNodeError(args: HookArgs<'onNodeError'>): Promise<void>;
  afterPipelineRun(args: HookArgs<'afterPipelineRun'>): Promise<void>;
  onPipelineError(args: HookArgs<'onPipelineError'>): Promise<void>;
}

/** The dataset name that loads every parameter, and the prefix of single-parameter inputs (as in Kedro). */
const PARAMETERS = 'parameters';
const PARAMS_PREFIX = 'params:';
/** Tag MLflow uses to link a nested run to its parent. */
const PARENT_RUN_TAG = 'mlflow.parentRunId';
/** Runs whose logged params are remembered at most (node activities never see the pipeline end). */
const MAX_REMEMBERED_RUNS = 1000;

/** What the hook knows about one pipeline run it tracks. */
interface TrackedRun {
  mlflowRunId: string;
  /** True when this hook started the run and so must end it. */
  owned: boolean;
  slot: ActiveRunSlot | undefined;
  /** The slot's run id before this run (the parent of a nested run). */
  previousSlotRunId: string | undefined;
}

/**
 * The query that opens MLflow 3's UI in its model-training mode: a browser that never chose a mode
 * opens every experiment, run and model page in the GenAI mode (its overview, "Evaluations"),
 * whatever the experiment's `mlflow.experimentKind` tag says (checked with MLflow 3.17.2).
 */
const TRAINING_VIEW = 'workflowType=machine_learning';

const uiBase = (trackingUri: string, experimentId: string): string =>
  `${trackingUri.replace(/\/+$/, '')}/#/experiments/${encodeURIComponent(experimentId)}`;

/** The MLflow UI page of an experiment: its training runs. */
export function experimentUrl(trackingUri: string, experimentId: string): string {
  return `${uiBase(trackingUri, experimentId)}/runs?${TRAINING_VIEW}`;
}

/** The MLflow UI page of a run. */
export function runUrl(trackingUri: string, experimentId: string, runId: string): string {
  return `${uiBase(trackingUri, experimentId)}/runs/${encodeURIComponent(runId)}?${TRAINING_VIEW}`;
}

/** The MLflow 3 UI page of a logged model (`m-<hex>`). */
export function modelUrl(trackingUri: string, experimentId: string, modelId: string): string {
  return `${uiBase(trackingUri, experimentId)}/models/${encodeURIComponent(modelId)}?${TRAINING_VIEW}`;
}

/**
 * The parameter values a node receives: `params:a.b` → `a.b`, and each top-level key of
 * `parameters`. Runtime `--params` overrides reach MLflow only this way (they are already merged
 * into the parameters), as in Kedro; credentials never do, since they are never node inputs.
 */
export function nodeParams(
  node: Pick<NodeInfo, 'inputs'>,
  inputs: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const name of node.inputs) {
    const value = inputs[name];
    if (
      name === PARAMETERS &&
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value)
    ) {
      Object.assign(values, value);
    } else if (name.startsWith(PARAMS_PREFIX)) {
      values[name.slice(PARAMS_PREFIX.length)] = value;
    }
  }
  return values;
}

/** Creates the tracking hook; one instance may serve any number of (concurrent) runs. */
export function createMlflowTrackingHook(options: MlflowTrackingHookOptions): MlflowTrackingHook {
  const { client, config } = options;
  const warn =
    options.warn ??
    ((message: string) => process.emitWarning(message, { code: 'TEMPORAL_MLFLOW_TRACKING' }));
  const tracked = new Map<string, TrackedRun>();
  /** MLflow run id → param key → value already logged by this process. */
  const loggedParams = new Map<string, Map<string, string>>();

  const isTracked = (run: RunInfo): boolean => isPipelineTracked(config, run.pipelineName);

  const rememberedParams = (mlflowRunId: string): Map<string, string> => {
    let memory = loggedParams.get(mlflowRunId);
    if (!memory) {
      if (loggedParams.size >= MAX_REMEMBERED_RUNS) {
        loggedParams.delete(loggedParams.keys().next().value!);
      }
      memory = new Map();
      loggedParams.set(mlflowRunId, memory);
    }
    return memory;
  };

  /** MLflow runs whose params of every node this process has sent (see `runParams`). */
  const sentForRun = new Set<string>();
  /** This node's params, with every other node's of the run when they are known and not yet sent. */
  const paramsToLog = async (
    run: RunInfo,
    mlflowRunId: string,
    own: Record<string, unknown>,
  ): Promise<Record<string, unknown>> => {
    if (!options.runParams || sentForRun.has(mlflowRunId)) return own;
    let all: Record<string, unknown> | undefined;
    try {
      all = await options.runParams(run);
    } catch {
      // The node's own params are still logged.
    }
    if (!all) return own;
    if (sentForRun.size >= MAX_REMEMBERED_RUNS)
      sentForRun.delete(sentForRun.values().next().value!);
    sentForRun.add(mlflowRunId);
    return { ...all, ...own };
  };

  /** Param batches in flight, by pipeline run and node (see `beforeNodeRun`). */
  const sent = new Map<string, Promise<void>>();
  const takeSent = async (run: RunInfo, node: NodeInfo): Promise<void> => {
    const key = nodeKey(run, node);
    const sending = sent.get(key);
    sent.delete(key);
    await sending;
  };

  /** Logs a node's new params; a refusal the run's params explain is success, else an error naming them. */
  const logParams = async (
    mlflowRunId: string,
    nodeName: string,
    fresh: KeyValue[],
    tags: Record<string, string>,
    memory: Map<string, string>,
  ): Promise<void> => {
    try {
      await client.runs.logBatch(mlflowRunId, { params: fresh, tags });
    } catch (error) {
      if (!(error instanceof MlflowInvalidParameterError) || error.httpStatus === undefined) {
        for (const param of fresh) memory.delete(param.key);
        throw error;
      }
      // Another process may have logged the same values first (the server then refuses the
      // duplicate insert): that is success, unless a value really differs.
      if (await alreadyLogged(mlflowRunId, fresh)) return;
      for (const param of fresh) memory.delete(param.key);
      const names = fresh
        .map((p) => `'${p.key}'`)
        .sort()
        .join(', ');
      throw new MlflowInvalidParameterError(
        `MLflow refused parameters ${names} of node '${nodeName}' for run '${mlflowRunId}' ` +
          `(a parameter already logged with another value cannot change): ${error.message}`,
        {
          errorCode: error.errorCode,
          httpStatus: error.httpStatus,
          endpoint: error.endpoint,
          cause: error,
        },
      );
    }
  };

  /** True when the run already holds every one of these params with the same value. */
  const alreadyLogged = async (
    mlflowRunId: string,
    params: readonly KeyValue[],
  ): Promise<boolean> => {
    const logged = new Map(
      (await client.runs.get(mlflowRunId)).data.params?.map((p) => [p.key, p.value]),
    );
    return params.every((param) => logged.get(param.key) === param.value);
  };

  const startRun = async (run: RunInfo, slot: ActiveRunSlot | undefined): Promise<TrackedRun> => {
    const previousSlotRunId = slot?.runId;
    if (run.mlflowRunId) {
      // Temporal created the run (and ends it).
      return { mlflowRunId: run.mlflowRunId, owned: false, slot, previousSlotRunId };
    }
    const { experiment, run: runConfig } = config.tracking;
    const exp = await client.experiments.getOrCreate(experiment.name, {
      ...(experiment.artifactLocation ? { artifactLocation: experiment.artifactLocation } : {}),
      ...(Object.keys(experiment.tags).length ? { tags: experiment.tags } : {}),
      restoreIfDeleted: experiment.restoreIfDeleted,
    });
    if (slot) slot.experimentId = exp.experiment_id;
    if (runConfig.id) {
      // kedro-mlflow resumes the configured run (mlflow.start_run(run_id=...)) and ends it afterwards.
      const existing = await client.runs.get(runConfig.id);
      await client.runs.update(runConfig.id, { status: 'RUNNING' });
      if (slot) slot.experimentId = existing.info.experiment_id;
      return { mlflowRunId: runConfig.id, owned: true, slot, previousSlotRunId };
    }
    if (previousSlotRunId && !runConfig.nested) {
      throw new MlflowError(
        `Pipeline '${run.pipelineName}' starts while MLflow run '${previousSlotRunId}' is active and ` +
          `tracking.run.nested is false in mlflow.yml. Set it to true to record a nested run, or run the pipeline outside the active run.`,
        { errorCode: 'INVALID_STATE' },
      );
    }
    const tags: KeyValue[] = [
      { key: TAG_PIPELINE_NAME, value: run.pipelineName },
      { key: 'mlflow.source.name', value: PACKAGE_NAME },
      { key: 'mlflow.source.type', value: 'LOCAL' },
      // kedro-mlflow tags the run with Kedro's run params.
      { key: 'pipeline_name', value: run.pipelineName },
      { key: 'env', value: run.env },
      { key: 'session_id', value: run.runId },
      { key: 'project_path', value: run.projectDir },
    ];
    if (run.command) tags.push({ key: TAG_COMMAND, value: run.command });
    if (previousSlotRunId) tags.push({ key: PARENT_RUN_TAG, value: previousSlotRunId });
    const created = await client.runs.create({
      experimentId: exp.experiment_id,
      runName: runConfig.name ?? defaultRunName(run.pipelineName),
      tags,
    });
    return { mlflowRunId: created.info.run_id, owned: true, slot, previousSlotRunId };
  };

  const endRun = async (run: RunInfo, status: 'FINISHED' | 'FAILED'): Promise<void> => {
    const state = tracked.get(run.runId);
    if (!state) return;
    tracked.delete(run.runId);
    // The slot keeps the run's id for the caller (e.g. to print its URL); a nested run gives the parent back.
    if (state.slot && state.previousSlotRunId) state.slot.runId = state.previousSlotRunId;
    if (!state.owned) return;
    loggedParams.delete(state.mlflowRunId);
    await client.runs.end(state.mlflowRunId, status);
  };

  return {
    async beforePipelineRun({ run }) {
      if (!isTracked(run)) return;
      if (tracked.has(run.runId)) {
        throw new MlflowError(
          `Pipeline run '${run.runId}' is already being tracked by this hook: every run needs its own RunInfo.runId.`,
          { errorCode: 'INVALID_STATE' },
        );
      }
      const slot = activeRun();
      const state = await startRun(run, slot);
      tracked.set(run.runId, state);
      if (slot) slot.runId = state.mlflowRunId;
    },

    async beforeNodeRun({ run, node, inputs }) {
      if (!isTracked(run)) return;
      const own = nodeParams(node, inputs);
      const mlflowRunId =
        tracked.get(run.runId)?.mlflowRunId ?? run.mlflowRunId ?? activeRun()?.runId;
      const values = mlflowRunId ? await paramsToLog(run, mlflowRunId, own) : own;
      if (Object.keys(values).length === 0) return;
      if (!mlflowRunId) {
        throw new MlflowError(
          `No MLflow run to log the parameters of node '${node.name}' to: pipeline run '${run.runId}' was not started ` +
            `by the tracking hook (beforePipelineRun), RunInfo.mlflowRunId is unset and no active run is set (withActiveRun).`,
          { errorCode: 'INVALID_STATE' },
        );
      }
      const { params, tags } = prepareParams(values, config.tracking.params);
      const memory = rememberedParams(mlflowRunId);
      // A node may receive one value twice (`params:a` and `parameters`): log each key once.
      const batch = new Map<string, string>();
      for (const param of params) {
        const inBatch = batch.get(param.key);
        const previous = inBatch ?? memory.get(param.key);
        if (previous !== undefined && previous !== param.value) {
          const where =
            inBatch === undefined
              ? `was already logged to MLflow run '${mlflowRunId}'`
              : 'comes from another input of the node';
          throw new MlflowInvalidParameterError(
            `Parameter '${param.key}' of node '${node.name}' has the value ${JSON.stringify(shorten(param.value))}, but ` +
              `${JSON.stringify(shorten(previous))} ${where}; MLflow never changes a logged parameter. Give the parameters distinct names.`,
            { errorCode: 'INVALID_PARAMETER_VALUE' },
          );
        }
        if (previous === undefined) batch.set(param.key, param.value);
      }
      const fresh: KeyValue[] = [...batch].map(([key, value]) => ({ key, value }));
      const tagRecord = Object.fromEntries(tags.map((tag) => [tag.key, tag.value]));
      if (fresh.length === 0 && tags.length === 0) return;
      // Claimed before sending: a node running at the same time with the same params skips them.
      for (const param of fresh) memory.set(param.key, param.value);
      // Sent while the node runs; afterNodeRun waits for it, before the node's outputs are saved.
      const sending = logParams(mlflowRunId, node.name, fresh, tagRecord, memory);
      sending.catch(() => undefined);
      if (sent.size >= MAX_REMEMBERED_RUNS) sent.delete(sent.keys().next().value!);
      sent.set(nodeKey(run, node), sending);
    },

    async afterNodeRun({ run, node }) {
      await takeSent(run, node);
    },

    async onNodeError({ run, node }) {
      try {
        await takeSent(run, node);
      } catch (error) {
        // The node's own failure is the one to report.
        warn(`Could not log the parameters of node '${node.name}': ${(error as Error).message}`);
      }
    },

    async afterPipelineRun({ run }) {
      await endRun(run, 'FINISHED');
    },

    async onPipelineError({ run }) {
      try {
        await endRun(run, 'FAILED');
      } catch (error) {
        // Never hide the pipeline's own failure behind a tracking failure.
        warn(
          `Could not mark the MLflow run of pipeline '${run.pipelineName}' FAILED: ${(error as Error).message}`,
        );
      }
    },
  };
}

/** A node of a pipeline run, as a key. */
function nodeKey(run: RunInfo, node: NodeInfo): string {
  return `${run.runId}\u0000${node.name}`;
}

function shorten(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}
