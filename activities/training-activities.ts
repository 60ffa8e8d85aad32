import { temporalActivity, temporalCommon } from '../src/temporal/lazy-modules.js';
import { userInfo } from 'node:os';
import {
  DEFAULT_CONFIG_ENV,
  DEFAULT_PIPELINE_NAME,
  MLFLOW_PARENT_RUN_ID_TAG,
  TAG_COMMAND,
  TAG_PIPELINE_NAME,
  TAG_SCHEDULE_ID,
  TAG_SWEEP_ID,
  TAG_SWEEP_TRIAL,
  TAG_TRIGGER,
  TAG_FAILED_NODE,
  TAG_FAILURE,
  MLFLOW_NOTE_TAG,
  MLFLOW_SOURCE_NAME_TAG,
  MLFLOW_SOURCE_TYPE_TAG,
  MLFLOW_USER_TAG,
  DEFAULT_TEMPORAL_NAMESPACE,
  TAG_WORKFLOW_ID,
} from '../src/constants.js';
import { withActiveRun } from '../src/mlflow/active-run.js';
import type { LoggedMetric } from '../src/mlflow/latest-metric.js';
import { recordingMetrics } from '../src/mlflow/metric-recorder.js';
import { stepZeroKeys } from '../src/mlflow/datasets/step-zero-keys.js';
import { MlflowInvalidParameterError, MlflowResourceNotFoundError } from '../src/mlflow/errors.js';
import { ExperimentLookupCache, type CachedExperiment } from '../src/mlflow/experiments.js';
import type { Run } from '../src/mlflow/types.js';
import type { DataCatalog } from '../src/catalog/data-catalog.js';
import { extractPipelineArtifacts } from '../src/model/artifacts.js';
import { isPipelineMl } from '../src/model/pipeline-ml.js';
import { runUrl } from '../src/mlflow/tracking-hook.js';
import type { Node } from '../src/pipeline/node.js';
import type { Pipeline } from '../src/pipeline/pipeline.js';
import { parseDuration, type RetryOptions } from '../src/pipeline/node-options.js';
import type { TaggedNodeOptions } from '../src/project/define-project.js';
import { MissingInputsError } from '../src/runner/errors.js';
import { checkInputData } from '../src/runner/input-data.js';
import { threadExecutor } from '../src/runner/node-thread.js';
import { cachedFromTag, type CacheHit, type NodeCache } from '../src/runner/node-cache.js';
import {
  restoreNodes,
  runNode as runNodeOnCatalog,
  type NodeExecutor,
} from '../src/runner/run-node.js';
import type { Session } from '../src/session.js';
import { codeHash } from '../src/temporal/code-hash.js';
import {
  assertServes,
  sessionIdentity,
  wrongWorkerFailure,
  type RunIdentity,
} from '../src/temporal/identity.js';
import { IntermediateDataset } from '../src/temporal/intermediate-dataset.js';
import type { IntermediateStore } from '../src/temporal/intermediate-store.js';
import type {
  IntermediateStoreMode,
  LoggedModelRef,
  MlflowRunRef,
  NodePlan,
  PipelinePlan,
  RunContext,
  RestoredNode,
  RunNodeInput,
  RunNodeResult,
  RunNodesInput,
  RunNodesResult,
  TrainingInput,
} from '../src/temporal/types.js';
import { defaultRunName } from '../src/mlflow/run-name.js';
import { classifyFailures, toActivityFailure } from './failures.js';
import type { SessionCache } from './session-cache.js';

/** What the training activities need from the worker that hosts them. */
export interface TrainingActivityDeps {
  sessions: SessionCache;
  /** Store of unpersisted datasets for a given session (local folder, or MLflow's artifact proxy). */
  store: (session: Session) => IntermediateStore;
  storeMode: IntermediateStoreMode;
  /** How often a running node heartbeats, so a dead worker is noticed within the heartbeat timeout. */
  heartbeatIntervalMs: number;
  /**
   * Where node functions run. @default threadExecutor(): a worker thread per running node, so a
   * CPU-bound node cannot starve heartbeats and cancellation (nodes with `thread: false` stay inline)
   */
  nodeExecutor?: NodeExecutor;
  /** The configuration environment this worker serves; runs of other environments are handed back. */
  env: string;
  /** The node cache of a session (local folder or MLflow artifacts); undefined: nodes always run. */
  cache?: (session: Session) => NodeCache | undefined;
  /**
   * Hand back nodes whose pipeline code differs from the code that planned the run (worker
   * versioning routes them to the right build); otherwise such a node runs with a warning.
   */
  rejectOtherCode?: boolean;
  /** Where startMlflowRun remembers experiment look-ups. @default a cache of this worker's own */
  experiments?: ExperimentLookupCache;
  /** Packages and logs the inference model of a PipelineML run (the packaging activity). */
  packageModel?: (
    session: Session,
    context: RunContext,
    heartbeat: () => void,
  ) => Promise<LoggedModelRef>;
}

/** Metric keys a node's result carries at most: the history keeps every activity's result. */
const MAX_REPORTED_METRICS = 100;

/** The metrics a node logged, as its result reports them. */
function reportedMetrics(
  metrics: Record<string, LoggedMetric>,
): Pick<RunNodeResult, 'metrics' | 'metricsOmitted'> {
  const count = Object.keys(metrics).length;
  if (count === 0) return {};
  return count > MAX_REPORTED_METRICS ? { metricsOmitted: true } : { metrics };
}

/**
 * The activities of the training workflow, built from their dependencies (Temporal samples'
 * `createActivities(deps)` pattern). Every one is idempotent: Temporal may run it again.
 */
export function createTrainingActivities(deps: TrainingActivityDeps) {
  const nodeExecutor = deps.nodeExecutor ?? threadExecutor();
  /** The tracked experiment, looked up once a minute per server rather than once per run. */
  const experiments = deps.experiments ?? new ExperimentLookupCache();
  /**
   * The session of a run on this worker, once the worker is known to serve it: a run of another
   * project, environment or MLflow server fails the attempt retryably (handed back, never run).
   */
  const sessionFor = async (
    run: Partial<RunIdentity>,
    params: Record<string, unknown>,
  ): Promise<Session> => {
    const session = await deps.sessions.get(deps.env, run.env === deps.env ? params : {});
    assertServes(session, run);
    return session;
  };
  const contextSession = (context: RunContext): Promise<Session> =>
    sessionFor(context.identity, context.params);
  /**
   * The run's pipeline, filtered once per session and filters (not once per node: filtering and
   * hashing a pipeline cost time proportional to its size).
   */
  const filtered = new WeakMap<Session, Map<string, Pipeline>>();
  const runPipeline = (session: Session, context: RunContext): Pipeline => {
    if (!context.filters) return session.pipeline(context.pipeline);
    let bySelection = filtered.get(session);
    if (!bySelection) filtered.set(session, (bySelection = new Map()));
    const key = JSON.stringify([context.pipeline, context.filters]);
    let pipeline = bySelection.get(key);
    if (!pipeline) {
      if (bySelection.size >= 16) bySelection.delete(bySelection.keys().next().value!);
      bySelection.set(key, (pipeline = session.pipeline(context.pipeline, context.filters)));
    }
    return pipeline;
  };

  /** The session's node cache; none when the worker has none or cannot reach it (nodes run). */
  const nodeCacheOf = (session: Session): NodeCache | undefined => {
    try {
      return deps.cache?.(session);
    } catch {
      return undefined;
    }
  };
  /**
   * The catalog of a run's nodes: the pipeline's datasets the catalog lacks live in the run's
   * intermediate store. Made once per run and session, not once per node (a catalog copies its
   * datasets and parameters).
   */
  const runCatalogs = new WeakMap<Session, Map<string, DataCatalog>>();
  const stepZeroKeysByCatalog = new WeakMap<DataCatalog, ReadonlySet<string>>();
  const runCatalog = (session: Session, context: RunContext, pipeline: Pipeline): DataCatalog => {
    let byRun = runCatalogs.get(session);
    if (!byRun) runCatalogs.set(session, (byRun = new Map()));
    let catalog = byRun.get(context.workflowId);
    if (!catalog) {
      const store = deps.store(session);
      const intermediates: Record<string, IntermediateDataset> = {};
      for (const dataset of pipeline.datasets()) {
        if (!session.catalog.has(dataset))
          intermediates[dataset] = new IntermediateDataset(store, context.workflowId, dataset);
      }
      if (byRun.size >= 64) byRun.delete(byRun.keys().next().value!);
      byRun.set(context.workflowId, (catalog = session.catalog.withDatasets(intermediates)));
    }
    return catalog;
  };

  /**
   * What a node activity needs of its run on this worker, once per activity: the session (a run
   * this worker does not serve is handed back), the pipeline (`first` missing from it, or other
   * code than planned with `rejectOtherCode`: handed back), its catalog, hooks and node cache.
   */
  const nodeRun = async (context: RunContext, first: string) => {
    const activity = temporalActivity().Context.current();
    const session = await contextSession(context);
    const pipeline = runPipeline(session, context);
    /** Hands back a node that is not in the run's pipeline here: other pipeline code. */
    const check = (name: string): void => {
      if (!pipeline.hasNode(name)) {
        throw wrongWorkerFailure(
          context.identity,
          sessionIdentity(session),
          `node '${name}' is not in pipeline '${context.pipeline}' on this worker: other pipeline code`,
        );
      }
    };
    check(first);
    const hash = codeHash(pipeline);
    if (hash !== context.codeHash && deps.rejectOtherCode) {
      throw wrongWorkerFailure(
        context.identity,
        sessionIdentity(session),
        `other pipeline code: planned ${context.codeHash.slice(0, 12)}, here ${hash.slice(0, 12)}`,
      );
    }
    if (hash !== context.codeHash) {
      activity.log.warn('This worker runs other pipeline code than the one that planned the run', {
        node: first,
        plannedCodeHash: context.codeHash,
        workerCodeHash: hash,
      });
    }
    const catalog = runCatalog(session, context, pipeline);
    let keys = stepZeroKeysByCatalog.get(catalog);
    if (!keys) {
      keys = stepZeroKeys(pipeline.datasets().map((name) => catalog.getDataset(name)));
      stepZeroKeysByCatalog.set(catalog, keys);
    }
    const hooks = session.hooks(context.pipeline);
    const run = session.runInfo(context);
    const cache = context.noCache ? undefined : deps.cache?.(session);
    const client = session.mlflowClient;
    const runId = context.mlflowRunId;
    return {
      session,
      check,
      /** Runs `execute` with the run as MLflow's active run, when it is tracked. */
      tracked<T>(execute: () => Promise<T>): Promise<T> {
        return client && runId
          ? withActiveRun({ client, runId, stepZeroKeys: keys }, execute)
          : execute();
      },
      /** Runs one node (`started`: when its activity or turn began); `signal` stops its thread. */
      async run(name: string, started: number, signal: AbortSignal): Promise<RunNodeResult> {
        const node = pipeline.node(name);
        let cachedFrom: string | undefined;
        const runOnCatalog = () =>
          runNodeOnCatalog({
            node,
            catalog,
            hooks,
            run,
            execute: nodeExecutor,
            signal,
            cache,
            onCached: (hit) => void (cachedFrom = hit.cachedFrom),
          });
        // What the node logged is reported with it: a sweep ranks its trial without reading MLflow.
        let metrics: Record<string, LoggedMetric> = {};
        if (client && runId) ({ logged: metrics } = await recordingMetrics(runId, runOnCatalog));
        else await runOnCatalog();
        return {
          node: node.name,
          durationMs: Date.now() - started,
          outputs: [...node.outputs],
          ...(cachedFrom !== undefined ? { cached: true, cachedFrom } : {}),
          ...reportedMetrics(metrics),
        };
      },
    };
  };

  return {
    /** Resolves the pipeline in this worker's project and returns its DAG. */
    async planPipeline(input: TrainingInput): Promise<PipelinePlan> {
      return classifyFailures(async () => {
        const env = input.env ?? DEFAULT_CONFIG_ENV;
        const run = { ...input.identity, env };
        const session = await sessionFor(run, input.params ?? {});
        const name = input.pipeline ?? DEFAULT_PIPELINE_NAME;
        // A client that named its project checked the pipeline there: missing here means other code.
        if (run.project !== undefined && !session.project.definition.pipelines[name]) {
          throw wrongWorkerFailure(
            run,
            sessionIdentity(session),
            `pipeline '${name}' is not registered on this worker`,
          );
        }
        const pipeline = session.pipeline(name, input.filters);
        const missing = pipeline.inputs().filter((dataset) => !session.catalog.has(dataset));
        if (missing.length > 0) throw new MissingInputsError(name, missing);
        await checkInputData(pipeline, session.catalog, name);
        // A PipelineML whose model could not be packaged is refused before any node runs.
        if (isPipelineMl(pipeline) && session.isTracked(name))
          extractPipelineArtifacts(pipeline, session.catalog, session.config.catalog);
        const cache = input.noCache ? undefined : nodeCacheOf(session);
        const nodes = pipeline.nodes.map((node) => {
          const plan = nodePlan(node, session.project.definition.nodeOptionsByTag);
          if (cache?.applies(node)) plan.cacheable = true;
          return plan;
        });
        const promote = isPipelineMl(pipeline) ? pipeline.promote : undefined;
        return {
          pipeline: name,
          env,
          codeHash: codeHash(pipeline),
          identity: sessionIdentity(session),
          nodes,
          isPipelineMl: isPipelineMl(pipeline),
          ...(promote ? { promotion: { ...promote } } : {}),
          tracking: session.isTracked(name),
          store: deps.storeMode,
        };
      });
    },

    /**
     * Finds the MLflow run of this workflow, or creates it: a retried start never makes a second
     * run. A scheduled run is tagged with its schedule, a sweep trial nests under the sweep's run.
     */
    async startMlflowRun(context: RunContext): Promise<MlflowRunRef> {
      return classifyFailures(async () => {
        const session = await contextSession(context);
        const client = session.requireMlflow('Tracking a Temporal run');
        const { experiment: settings, run: runSettings } = session.mlflow.tracking;
        const lookup = (): Promise<CachedExperiment> =>
          experiments.getOrCreate(client.experiments, client.trackingUri, settings.name, {
            ...(settings.artifactLocation ? { artifactLocation: settings.artifactLocation } : {}),
            tags: settings.tags,
            restoreIfDeleted: settings.restoreIfDeleted,
          });
        // Looked for by its workflow id tag when an earlier attempt, or an earlier run of this
        // workflow id (reset, continue-as-new), may have created it: the run it created is the one
        // it keeps. A first attempt of a first execution cannot find one: it only creates.
        const mayExist = !context.firstExecution || activityAttempt() > 1;
        const findOrCreate = async (experimentId: string): Promise<Run> => {
          const existing = mayExist
            ? await client.runs.search({
                experimentIds: [experimentId],
                filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${context.workflowId.replace(/'/g, "\\'")}'`,
                maxResults: 1,
              })
            : undefined;
          return (
            existing?.items[0] ??
            (await client.runs.create({
              experimentId,
              runName: runSettings.name ?? runNameOf(context),
              tags: {
                [TAG_WORKFLOW_ID]: context.workflowId,
                [TAG_PIPELINE_NAME]: context.pipeline,
                [MLFLOW_NOTE_TAG]: runNote(context),
                [MLFLOW_SOURCE_NAME_TAG]:
                  context.command ?? `temporal-mlflow train --pipeline ${context.pipeline}`,
                [MLFLOW_SOURCE_TYPE_TAG]: 'JOB',
                [MLFLOW_USER_TAG]: context.startedBy ?? userInfo().username,
                ...(context.command ? { [TAG_COMMAND]: context.command } : {}),
                ...lineageTags(context),
              },
            }))
          );
        };
        let { experiment, cached } = await lookup();
        let run: Run;
        try {
          run = await findOrCreate(experiment.experiment_id);
        } catch (error) {
          // A remembered experiment deleted (or purged) since: look it up again, which restores it.
          const refused =
            error instanceof MlflowInvalidParameterError ||
            error instanceof MlflowResourceNotFoundError;
          if (!cached || !refused) throw error;
          experiments.forget(client.trackingUri, settings.name);
          ({ experiment, cached } = await lookup());
          run = await findOrCreate(experiment.experiment_id);
        }
        const runId = run.info.run_id;
        return {
          runId,
          experimentId: experiment.experiment_id,
          runUrl: runUrl(client.trackingUri, experiment.experiment_id, runId),
        };
      });
    },

    /** Runs one node: inputs from the catalog or the run's intermediate store, outputs back there. */
    async runNode(input: RunNodeInput): Promise<RunNodeResult> {
      const started = Date.now();
      const activity = temporalActivity().Context.current();
      // The UI shows a pending activity's type and heartbeat details, not its summary: name the node.
      // A local activity (a `local: true` node) has no heartbeat: the workflow task it runs in is
      // kept alive by the worker, and a dead worker is noticed by that task's timeout.
      const heartbeat = activity.info.isLocal
        ? undefined
        : setInterval(
            () =>
              activity.heartbeat({
                node: input.node,
                elapsed: `${((Date.now() - started) / 1000).toFixed(0)} s`,
              }),
            heartbeatPeriod(deps.heartbeatIntervalMs, activity.info.heartbeatTimeoutMs),
          );
      try {
        return await classifyFailures(async () => {
          const { context } = input;
          const nodes = await nodeRun(context, input.node);
          // Cancellation arrives with a heartbeat: it terminates the node's thread (an inline node
          // cannot be stopped, but the activity reports the cancellation at once).
          const execute = () =>
            Promise.race([
              nodes.run(input.node, started, activity.cancellationSignal),
              activity.cancelled,
            ]);
          return await nodes.tracked(execute);
        });
      } finally {
        clearInterval(heartbeat);
      }
    },

    /**
     * Runs a linear run of `local: true` nodes in order, in one local activity (one workflow task
     * round trip for all of them): each node as `runNode` would (hooks, node cache, catalog and
     * intermediate store, MLflow run) within its own timeout. A failure of the first node fails the
     * activity (its retry policy is the first node's); a later node's failure is returned with the
     * nodes completed before it, which are then never run again (the workflow retries that node).
     * Past `budgetMs`, the nodes completed so far are returned and the workflow runs the rest.
     */
    async runNodes(input: RunNodesInput): Promise<RunNodesResult> {
      const activity = temporalActivity().Context.current();
      return classifyFailures(async () => {
        const { context } = input;
        const nodes = await nodeRun(context, input.nodes[0]!.node);
        const completed: RunNodeResult[] = [];
        const started = Date.now();
        const runAll = async (): Promise<RunNodesResult> => {
          for (const [at, step] of input.nodes.entries()) {
            if (at > 0 && input.budgetMs !== undefined && Date.now() - started >= input.budgetMs)
              break;
            try {
              if (at > 0) nodes.check(step.node);
              completed.push(
                await withinTimeout(step, (signal) => nodes.run(step.node, Date.now(), signal)),
              );
            } catch (error) {
              if (at === 0 || activity.cancellationSignal.aborted) throw error;
              return { completed, failure: failureOf(step.node, error) };
            }
          }
          return { completed };
        };
        /** One node within its timeout; the activity's cancellation or the timeout stops it. */
        const withinTimeout = async <T>(
          step: RunNodesInput['nodes'][number],
          run: (signal: AbortSignal) => Promise<T>,
        ): Promise<T> => {
          const controller = new AbortController();
          const cancel = (): void => controller.abort(activity.cancellationSignal.reason);
          activity.cancellationSignal.addEventListener('abort', cancel, { once: true });
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const error = temporalCommon().ApplicationFailure.retryable(
                `Node '${step.node}' did not complete within its timeout of ${step.timeoutMs} ms`,
                NODE_TIMEOUT_FAILURE_TYPE,
              );
              controller.abort(error);
              reject(error);
            }, step.timeoutMs);
          });
          try {
            return await Promise.race([run(controller.signal), timedOut, activity.cancelled]);
          } finally {
            clearTimeout(timer);
            activity.cancellationSignal.removeEventListener('abort', cancel);
          }
        };
        return nodes.tracked(runAll);
      });
    },

    /**
     * Restores from the node cache, in one activity, every node the cache holds whose producers
     * were restored too (a chain of hits from the run's free inputs), as a node activity would on
     * a hit: hooks called, outputs saved (persisted catalog entries rewritten), the MLflow run
     * tagged with where each came from (one batch). Nodes it does not restore run as activities.
     */
    async restoreCachedNodes(context: RunContext): Promise<RestoredNode[]> {
      const started = Date.now();
      const activity = temporalActivity().Context.current();
      const heartbeat = setInterval(
        () => activity.heartbeat({ restoring: true }),
        heartbeatPeriod(deps.heartbeatIntervalMs, activity.info.heartbeatTimeoutMs),
      );
      try {
        return await classifyFailures(async () => {
          const session = await contextSession(context);
          const cache = context.noCache ? undefined : nodeCacheOf(session);
          const pipeline = runPipeline(session, context);
          // Other code than planned: the node activities decide (run with a warning, or hand back).
          if (!cache || codeHash(pipeline) !== context.codeHash) return [];
          const catalog = runCatalog(session, context, pipeline);
          let hits: CacheHit[] = [];
          const execute = async (): Promise<void> => {
            const restoring = restoreNodes({
              nodes: pipeline.nodes,
              catalog,
              hooks: session.hooks(context.pipeline),
              run: session.runInfo(context),
              cache,
              // Unpersisted outputs go to the intermediate store for later nodes and packaging; the
              // nodes restored here take them as they are.
              keptInMemory: (dataset) => !session.catalog.has(dataset),
              tagHit: false,
              // Where each restored node came from: one batch of tags per 100 nodes, sent while
              // the last nodes' hooks run.
              onHits: async (found) => {
                const client = session.mlflowClient;
                const runId = context.mlflowRunId;
                if (!client || !runId) return;
                for (let at = 0; at < found.length; at += 100) {
                  const tags = Object.fromEntries(
                    found
                      .slice(at, at + 100)
                      .map((hit) => [cachedFromTag(hit.node), hit.cachedFrom] as const),
                  );
                  if (Object.keys(tags).length > 0) await client.runs.logBatch(runId, { tags });
                }
              },
            });
            hits = await Promise.race([restoring, activity.cancelled]);
          };
          await (session.mlflowClient && context.mlflowRunId
            ? withActiveRun({ client: session.mlflowClient, runId: context.mlflowRunId }, execute)
            : execute());
          return hits.map((hit) => ({
            node: hit.node,
            cachedFrom: hit.cachedFrom,
            durationMs: Date.now() - started,
          }));
        });
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** Logs the inference pipeline of a PipelineML as an MLflow model (exactly once per run). */
    async packageModel(context: RunContext): Promise<LoggedModelRef> {
      const activity = temporalActivity().Context.current();
      const heartbeat = (): void => activity.heartbeat();
      const timer = setInterval(
        heartbeat,
        heartbeatPeriod(deps.heartbeatIntervalMs, activity.info.heartbeatTimeoutMs),
      );
      try {
        return await classifyFailures(async () => {
          if (!deps.packageModel)
            throw new Error('This worker cannot package models: no packager configured.');
          const session = await contextSession(context);
          return deps.packageModel(session, context, heartbeat);
        });
      } finally {
        clearInterval(timer);
      }
    },

    /** Ends the MLflow run with the workflow's outcome; ending an ended run again is harmless. */
    async endMlflowRun(args: {
      context: RunContext;
      status: 'FINISHED' | 'FAILED' | 'KILLED';
      /** Why a FAILED run failed: recorded on the run, so the MLflow UI says which node and why. */
      failure?: { node?: string; message: string };
      /** Also clears the run's intermediate store (closing in one step, see `cleanupRun`). */
      cleanup?: boolean;
    }): Promise<void> {
      return classifyFailures(async () => {
        const session = await contextSession(args.context);
        // Beside the MLflow calls; a failed clear is logged and does not keep the run open.
        const cleaning = args.cleanup
          ? deps
              .store(session)
              .clear(args.context.workflowId)
              .catch((error: unknown) =>
                temporalActivity()
                  .Context.current()
                  .log.warn(
                    `Could not clean up the intermediate store: ${error instanceof Error ? error.message : String(error)}`,
                  ),
              )
          : undefined;
        try {
          if (args.context.mlflowRunId) await endRun(session, args.context.mlflowRunId, args);
        } finally {
          await cleaning;
        }
      });
    },

    /** Removes the run's intermediate datasets. */
    async cleanupRun(context: RunContext): Promise<void> {
      const session = await contextSession(context);
      await deps.store(session).clear(context.workflowId);
    },
  };
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;

/** The type of the failure of a node of a group (`runNodes`) that ran out of its timeout. */
export const NODE_TIMEOUT_FAILURE_TYPE = 'NodeTimeout';

/** A failed node of a group as the workflow sees it: retryable or not, typed as Temporal would. */
function failureOf(node: string, error: unknown): NonNullable<RunNodesResult['failure']> {
  const failure = toActivityFailure(error);
  const { ApplicationFailure } = temporalCommon();
  const message = failure instanceof Error ? failure.message : String(failure);
  if (failure instanceof ApplicationFailure)
    return {
      node,
      message,
      type: failure.type ?? 'Error',
      nonRetryable: failure.nonRetryable === true,
    };
  return {
    node,
    message,
    type: failure instanceof Error ? failure.name : 'Error',
    nonRetryable: false,
  };
}

/** The attempt of the activity running now (a call outside an activity counts as a retry). */
function activityAttempt(): number {
  try {
    return temporalActivity().Context.current().info.attempt;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** The namespace of the workflow whose activity runs now (none when called outside an activity). */
function activityNamespace(): string | undefined {
  try {
    return temporalActivity().Context.current().info.workflowNamespace;
  } catch {
    return undefined;
  }
}

/** Ends the run with `status`, first saying on it why, when it was cancelled or failed. */
async function endRun(
  session: Session,
  runId: string,
  args: {
    context: RunContext;
    status: 'FINISHED' | 'FAILED' | 'KILLED';
    failure?: { node?: string; message: string };
  },
): Promise<void> {
  const client = session.requireMlflow('Ending an MLflow run');
  if (args.status === 'KILLED') {
    await client.runs.logBatch(runId, {
      tags: {
        [MLFLOW_NOTE_TAG]: `${runNote(args.context)}\n\n**Cancelled** in Temporal before the training finished.`,
      },
    });
  } else if (args.failure) {
    const what = args.failure.node ? `node '${args.failure.node}'` : 'the workflow';
    await client.runs.logBatch(runId, {
      tags: {
        ...(args.failure.node ? { [TAG_FAILED_NODE]: args.failure.node } : {}),
        [TAG_FAILURE]: args.failure.message.slice(0, 5_000),
        [MLFLOW_NOTE_TAG]: `${runNote(args.context)}\n\n**Failed at ${what}:** ${args.failure.message.slice(0, 4_000)}`,
      },
    });
  }
  await client.runs.end(runId, args.status);
}

/**
 * The run's description in the MLflow UI: the Temporal workflow it belongs to, as a link when the
 * worker knows the Temporal UI (TEMPORAL_UI_URL).
 */
function runNote(context: RunContext): string {
  const ui = process.env.TEMPORAL_UI_URL;
  const namespace = activityNamespace() ?? DEFAULT_TEMPORAL_NAMESPACE;
  const where = ui
    ? `[${context.workflowId}](${ui.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(context.workflowId)})`
    : `\`${context.workflowId}\` (namespace \`${namespace}\`)`;
  return `Trained by the Temporal workflow ${where}, pipeline \`${context.pipeline}\`.`;
}

/** The run name when mlflow.yml sets none: pipeline and start time, or the sweep trial it is. */
function runNameOf(context: RunContext): string {
  if (!context.sweep) return defaultRunName(context.pipeline);
  return context.sweep.trial === undefined
    ? `${context.pipeline} sweep`
    : `${context.pipeline} trial ${context.sweep.trial}`;
}

/** Tags saying how a run was started: by a schedule, as a sweep trial (nested), or as a sweep. */
function lineageTags(context: RunContext): Record<string, string> {
  const tags: Record<string, string> = {};
  if (context.scheduleId) {
    tags[TAG_TRIGGER] = 'schedule';
    tags[TAG_SCHEDULE_ID] = context.scheduleId;
  }
  if (context.parentRunId) tags[MLFLOW_PARENT_RUN_ID_TAG] = context.parentRunId;
  if (context.sweep) {
    tags[TAG_TRIGGER] ??= 'sweep';
    tags[TAG_SWEEP_ID] = context.sweep.id;
    if (context.sweep.trial !== undefined) tags[TAG_SWEEP_TRIAL] = String(context.sweep.trial);
  }
  return tags;
}

/**
 * How often a running activity heartbeats: the worker's period, but always well within the
 * activity's own heartbeat timeout (a workflow may ask for a shorter one than the worker's period).
 */
export function heartbeatPeriod(
  workerPeriodMs: number,
  heartbeatTimeoutMs: number | undefined,
): number {
  return heartbeatTimeoutMs
    ? Math.max(50, Math.min(workerPeriodMs, Math.floor(heartbeatTimeoutMs / 3)))
    : workerPeriodMs;
}

/**
 * A node as the workflow schedules it: retry and timeout from the options of its tags (in the
 * order of tag names, later ones winning), overridden by the node's own; a local activity when the
 * node or one of its tags says `local: true`.
 */
export function nodePlan(node: Node, byTag: Readonly<Record<string, TaggedNodeOptions>>): NodePlan {
  const tagged = node.tags.map((tag) => byTag[tag]).filter((options) => options !== undefined);
  const retry = Object.assign(
    {},
    ...tagged.map((options) => options.retry ?? {}),
    node.retry ?? {},
  ) as RetryOptions;
  const tagTimeout = tagged
    .map((options) => options.timeout)
    .findLast((timeout) => timeout !== undefined);
  const timeoutMs =
    node.timeoutMs ?? (typeof tagTimeout === 'string' ? parseDuration(tagTimeout) : tagTimeout);
  const local = node.local || tagged.some((options) => options.local === true);
  return {
    name: node.name,
    inputs: [...node.inputs],
    outputs: [...node.outputs],
    tags: [...node.tags],
    ...(Object.keys(retry).length > 0
      ? {
          retry: {
            ...retry,
            nonRetryableErrorTypes: retry.nonRetryableErrorTypes
              ? [...retry.nonRetryableErrorTypes]
              : undefined,
          },
        }
      : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(local ? { local: true } : {}),
  };
}
