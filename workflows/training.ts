import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainingActivities } from '../activities/index.js';
import { DEFAULT_PIPELINE_NAME } from '../src/constants.js';
import { mergeLatestMetrics, type LoggedMetric } from '../src/mlflow/latest-metric.js';
import { mlflowRunIdKey, pipelineNameKey, progressQuery, scheduledByIdKey } from './definitions.js';
import { ONE_LOCAL_ATTEMPT, planPipeline, planPipelineLocally } from './plan-step.js';
import type {
  ChunkInput,
  LoggedModelRef,
  MlflowRunRef,
  NodeActivityDefaults,
  NodePlan,
  PipelinePlan,
  PromotionDecision,
  RestoredNode,
  RunContext,
  TrainingInput,
  TrainingProgress,
  TrainingResult,
} from '../src/temporal/types.js';
import { describeFailure, NodeFailure, runDag, type DagObserver } from './dag.js';
import { locallyFirst, onRightWorker } from './right-worker.js';
import { ApprovalGate, promote, promotionMarkdown } from './promotion.js';

export { progressQuery, pipelineNameKey, mlflowRunIdKey } from './definitions.js';

/** Nodes per history: above this the plan runs as child workflows of at most this many nodes. */
export const NODES_PER_HISTORY = 500;

const DEFAULT_NODE_OPTIONS: NodeActivityDefaults = {
  startToCloseTimeoutMs: 60 * 60_000,
  heartbeatTimeoutMs: 30_000,
  retry: { maximumAttempts: 3, initialIntervalMs: 1_000, backoffCoefficient: 2 },
};

// Planning (plan-step.ts) and cleaning up an untracked run are local activities first (no task
// round trip: the worker running the workflow task runs them; a tracked run is cleaned up by the
// activity that ends it): both are idempotent and write nothing Temporal must not repeat. A local activity runs on whichever worker took the workflow task, and on a queue
// shared by mistake that may be a worker of another project: a failed local attempt is not
// retried, the step runs as a regular activity, which the right worker takes (as `local: true`
// nodes fall back, see dag.ts). The other steps are regular activities.
const { packageModel } = proxyActivities<TrainingActivities>({
  startToCloseTimeout: '30 minutes',
  retry: { maximumAttempts: 5 },
});
// Opening and closing the run wait out an MLflow outage (durably, with backoff) instead of failing
// a training that succeeded: no attempt limit, at most a minute between attempts.
const waitingOutOutages = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
} as const;
const { startMlflowRun } = proxyActivities<TrainingActivities>({
  ...waitingOutOutages,
  summary: 'start MLflow run',
});
const { startMlflowRun: startMlflowRunLocally } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: waitingOutOutages.startToCloseTimeout,
  retry: ONE_LOCAL_ATTEMPT,
  summary: 'start MLflow run',
});
const { endMlflowRun } = proxyActivities<TrainingActivities>({
  ...waitingOutOutages,
  summary: 'end MLflow run',
});
const { cleanupRun } = proxyActivities<TrainingActivities>({
  ...waitingOutOutages,
  summary: 'clean up',
});
const { cleanupRun: cleanupRunLocally } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: waitingOutOutages.startToCloseTimeout,
  retry: ONE_LOCAL_ATTEMPT,
  summary: 'clean up',
});
const { endMlflowRun: endMlflowRunLocally } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: waitingOutOutages.startToCloseTimeout,
  retry: ONE_LOCAL_ATTEMPT,
  summary: 'end MLflow run',
});
const { restoreCachedNodes } = proxyActivities<TrainingActivities>({
  startToCloseTimeout: '1 hour',
});

/**
 * Marks histories whose MLflow run is opened by a local activity first, in the workflow task of
 * the plan (before: an activity task of its own, one more round trip before the first node).
 */
export const START_RUN_LOCALLY_PATCH = 'start-run-locally';
/** Marks histories whose tracked run closes in one activity (before: end ‖ local cleanup). */
export const CLOSE_IN_ONE_STEP_PATCH = 'close-in-one-step';
/**
 * Marks histories whose tracked run is ended by a local activity first and, once it succeeded,
 * whose promotion gate runs while the run is being ended (before: a regular activity, then the gate).
 */
export const PROMOTE_WHILE_CLOSING_PATCH = 'promote-while-closing';

/** Input of the training workflow; `nodeDefaults` overrides the activity options of nodes. */
export interface TrainingWorkflowInput extends TrainingInput {
  nodeDefaults?: Partial<NodeActivityDefaults>;
  /** Nodes per workflow history before the plan is split into child workflows. @default 500 */
  nodesPerHistory?: number;
  /** The plan when the starter made it (a sweep plans once for its trials): no plan step. */
  plan?: PipelinePlan;
  /** The MLflow run when the starter created it (a sweep creates its trials' runs ahead): no start step. */
  mlflowRun?: MlflowRunRef;
  /**
   * Set by a sweep for its trials: once the training succeeds, the sweep ends its MLflow run and
   * clears its store (a failed or cancelled training closes its run itself, saying why).
   */
  sweepClosesRun?: boolean;
}

/**
 * Runs a pipeline as a durable workflow: plan → MLflow run → one activity per node (in parallel
 * where the DAG allows) → model packaging for a PipelineML → MLflow run ended FINISHED, FAILED or
 * KILLED, and the intermediate store cleaned up, whatever happened → for a registered model of a
 * successful run, the promotion gate (compare with the alias holder, maybe wait for `approve`).
 */
export async function trainingWorkflow(input: TrainingWorkflowInput = {}): Promise<TrainingResult> {
  const { workflowId, startTime, typedSearchAttributes, runId, firstExecutionRunId } =
    workflowInfo();
  const gate = new ApprovalGate();
  gate.install();
  const progress: TrainingProgress = {
    pipeline: input.pipeline ?? DEFAULT_PIPELINE_NAME,
    state: 'planning',
    total: 0,
    done: 0,
    running: [],
    nodes: {},
  };
  setHandler(progressQuery, () => progress);
  const showDetails = (): void => setCurrentDetails(detailsMarkdown(progress));
  showDetails();

  const plan: PipelinePlan =
    input.plan ??
    (await locallyFirst(
      () => planPipelineLocally(input),
      () => planPipeline(input),
    ));
  progress.pipeline = plan.pipeline;
  progress.total = plan.nodes.length;
  for (const node of plan.nodes) progress.nodes[node.name] = 'pending';
  upsertSearchAttributes([{ key: pipelineNameKey, value: plan.pipeline }]);

  const context: RunContext = {
    workflowId,
    pipeline: plan.pipeline,
    env: plan.env,
    params: input.params ?? {},
    ...(input.filters ? { filters: input.filters } : {}),
    identity: plan.identity,
    codeHash: plan.codeHash,
    store: plan.store,
    ...(input.command ? { command: input.command } : {}),
    ...(input.startedBy ? { startedBy: input.startedBy } : {}),
    ...(input.noCache ? { noCache: true } : {}),
    ...lineage(input, typedSearchAttributes.get(scheduledByIdKey)),
  };
  let mlflowRun: MlflowRunRef | undefined;
  try {
    // Not cancellable: a cancel while the run is being created would leave it RUNNING for ever (the
    // activity creates it anyway); once it exists, the cancel reaches the nodes and the run ends KILLED.
    // A first execution (not reset, not continued as new) tells the activity so: its first attempt
    // then creates the run without looking for one made earlier.
    // Started locally first, the run opens in the plan's workflow task. Should that attempt fail
    // (it may have created the run all the same), the activity task that takes over looks for it.
    const starting = runId === firstExecutionRunId ? { ...context, firstExecution: true } : context;
    const start = (): Promise<MlflowRunRef> =>
      patched(START_RUN_LOCALLY_PATCH)
        ? locallyFirst(
            () => startMlflowRunLocally(starting),
            () => startMlflowRun(context),
          )
        : onRightWorker(() => startMlflowRun(starting));
    mlflowRun = !plan.tracking
      ? undefined
      : (input.mlflowRun ?? (await CancellationScope.nonCancellable(start)));
  } catch (error) {
    // E.g. refused MLflow credentials: the run is over before it started, and says why.
    progress.state = 'failed';
    progress.error = describeFailure(error);
    showDetails();
    throw error;
  }
  if (mlflowRun) {
    context.mlflowRunId = mlflowRun.runId;
    progress.mlflowRunId = mlflowRun.runId;
    progress.mlflowExperimentId = mlflowRun.experimentId;
    progress.mlflowRunUrl = mlflowRun.runUrl;
    upsertSearchAttributes([{ key: mlflowRunIdKey, value: mlflowRun.runId }]);
  }
  progress.state = 'running';
  showDetails();

  const defaults: NodeActivityDefaults = {
    ...DEFAULT_NODE_OPTIONS,
    ...input.nodeDefaults,
    retry: { ...DEFAULT_NODE_OPTIONS.retry, ...input.nodeDefaults?.retry },
  };
  /** The latest value of each metric the nodes reported logging (none if one could not say). */
  const logged: Record<string, LoggedMetric> = {};
  let metricsOmitted = false;
  const observer: DagObserver = {
    started(node) {
      progress.nodes[node.name] = 'running';
      progress.running.push(node.name);
    },
    completed(node, completed) {
      if (completed.metrics) mergeLatestMetrics(logged, completed.metrics);
      if (completed.metricsOmitted) metricsOmitted = true;
      if (completed.cached) (progress.cached ??= []).push(node.name);
      progress.nodes[node.name] = 'completed';
      remove(progress.running, node.name);
      progress.done++;
    },
    // The details once per activation: a chain's completion and the next node's start report once.
    settled: showDetails,
    failed(node, error) {
      progress.nodes[node.name] = isCancellation(error) ? 'cancelled' : 'failed';
      remove(progress.running, node.name);
      showDetails();
    },
  };

  let status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FINISHED';
  let model: LoggedModelRef | undefined;
  let result: TrainingResult;
  /** The promotion gate when it runs while the run is being ended. */
  let gating: Promise<PromotionDecision | undefined> | undefined;
  const gateApplies = (): boolean =>
    model !== undefined && mlflowRun !== undefined && context.registerModel !== false;
  /** The gate; with `closing`, started while the run is ended, it records once that is done. */
  const runGate = async (closing?: Promise<void>): Promise<PromotionDecision | undefined> => {
    if (!closing) {
      progress.state = 'promoting';
      showDetails();
    }
    try {
      const decision = await promote({
        context,
        model: model!,
        runId: mlflowRun!.runId,
        ...(plan.promotion ? { policy: plan.promotion } : {}),
        gate,
        ...(closing ? { runClosed: closing } : {}),
        report(decision, awaiting) {
          progress.promotion = decision;
          progress.state = awaiting ? 'awaiting-approval' : 'promoting';
          showDetails();
        },
      });
      progress.state = 'completed';
      showDetails();
      return decision;
    } catch (error) {
      progress.state = isCancellation(error) ? 'cancelled' : 'failed';
      progress.error = describeFailure(error);
      showDetails();
      throw error;
    }
  };
  try {
    const restored = await restoreFromCache(plan, context, defaults);
    for (const hit of restored) {
      progress.nodes[hit.node] = 'completed';
      (progress.cached ??= []).push(hit.node);
      progress.done++;
    }
    if (restored.length > 0) showDetails();
    const names = new Set(restored.map((hit) => hit.node));
    const nodes = names.size > 0 ? plan.nodes.filter((node) => !names.has(node.name)) : plan.nodes;
    const nodesPerHistory = Math.max(1, input.nodesPerHistory ?? NODES_PER_HISTORY);
    // Metrics logged elsewhere (a restore, a chunk's history) are not seen here: none reported.
    const reportsMetrics = restored.length === 0 && nodes.length <= nodesPerHistory;
    if (nodes.length <= nodesPerHistory) {
      await runDag(nodes, context, defaults, observer);
    } else {
      await runInChunks(nodes, nodesPerHistory, context, defaults, progress, showDetails);
    }
    // A PipelineML logs its model to the run; without MLflow tracking there is nowhere to log it.
    if (plan.isPipelineMl && mlflowRun) {
      progress.state = 'packaging';
      showDetails();
      // Packaging heartbeats like a node: a dead worker is noticed within the nodes' heartbeat timeout.
      model = await onRightWorker(() =>
        packageModel.executeWithOptions(
          {
            startToCloseTimeout: '30 minutes',
            heartbeatTimeout: defaults.heartbeatTimeoutMs,
            retry: { maximumAttempts: 5 },
            summary: 'package model',
          },
          [context],
        ),
      );
      progress.modelUri = model.modelUri;
    }
    progress.state = 'completed';
    result = {
      pipeline: plan.pipeline,
      ...(mlflowRun
        ? {
            mlflowRunId: mlflowRun.runId,
            mlflowExperimentId: mlflowRun.experimentId,
            mlflowRunUrl: mlflowRun.runUrl,
          }
        : {}),
      ...(model ? { model } : {}),
      nodes: plan.nodes.length,
      ...(progress.cached ? { cachedNodes: progress.cached.length } : {}),
      ...(reportsMetrics && !metricsOmitted && mlflowRun ? { metrics: finiteValues(logged) } : {}),
      durationMs: 0,
    };
  } catch (error) {
    const cancelled =
      isCancellation(error) || (error instanceof NodeFailure && isCancellation(error.cause));
    status = cancelled ? 'KILLED' : 'FAILED';
    progress.state = cancelled ? 'cancelled' : 'failed';
    progress.error = describeFailure(error);
    if (error instanceof NodeFailure && !cancelled) progress.failedNode = error.node;
    // A cancelled run surfaces as Temporal's CancelledFailure, so the workflow is marked cancelled.
    if (error instanceof NodeFailure && cancelled) throw error.cause;
    if (error instanceof NodeFailure) {
      throw ApplicationFailure.create({
        type: 'NodeFailed',
        message: error.message,
        nonRetryable: true,
        details: [{ node: error.node }],
        cause: error.cause as Error,
      });
    }
    throw error;
  } finally {
    // Closing runs even when the workflow was cancelled, and never changes the run's outcome: each
    // step waits out an outage; a step that still fails is logged, and the next one runs.
    const settled = progress.state;
    // A sweep ends a successful trial's run and clears its store itself, with other trials' in one
    // activity: the trial has nothing left to do. Any other run closes here.
    const closedBySweep =
      input.sweepClosesRun === true && status === 'FINISHED' && mlflowRun !== undefined;
    // A tracked run closes in one activity, which ends the MLflow run and clears the store: a local
    // cleanup would hold the workflow task, and so the ending of the run, until it is done.
    // Histories recorded before close as two steps at once (patched).
    const inOneStep = !closedBySweep && mlflowRun !== undefined && patched(CLOSE_IN_ONE_STEP_PATCH);
    // The run is ended by a local activity first, and a successful run's gate evaluates meanwhile,
    // recording its decision (and moving the alias) once the run is closed FINISHED: the steps
    // share one workflow task (a regular activity there would wait for the gate's local ones).
    // Histories recorded before end the run with a regular activity, then run the gate (patched).
    const endsLocally = inOneStep && patched(PROMOTE_WHILE_CLOSING_PATCH);
    progress.state = 'closing';
    showDetails();
    const end = (args: Parameters<typeof endMlflowRun>[0]): Promise<void> =>
      endsLocally
        ? locallyFirst(
            () => endMlflowRunLocally(args),
            () => endMlflowRun(args),
          )
        : onRightWorker(() => endMlflowRun(args));
    const closing = CancellationScope.nonCancellable(async () => {
      if (closedBySweep) return;
      await Promise.all([
        mlflowRun
          ? closingStep('end the MLflow run', () =>
              end({
                context,
                status,
                ...(inOneStep ? { cleanup: true } : {}),
                ...(status === 'FAILED'
                  ? {
                      failure: {
                        ...(progress.failedNode ? { node: progress.failedNode } : {}),
                        message: progress.error ?? 'the workflow failed',
                      },
                    }
                  : {}),
              }),
            )
          : undefined,
        inOneStep
          ? undefined
          : closingStep('clean up the intermediate store', () =>
              locallyFirst(
                () => cleanupRunLocally(context),
                () => cleanupRun(context),
              ),
            ),
      ]);
    });
    if (endsLocally && status === 'FINISHED' && gateApplies()) {
      gating = runGate(closing);
      gating.catch(() => undefined);
    }
    await closing;
    if (!gating) {
      progress.state = settled;
      showDetails();
    }
  }

  // The gate records its decision once the run is closed FINISHED: a failed run never becomes
  // champion. A sweep trial's model is not registered: the sweep passes its best trial through
  // the gate.
  const promotion = await (gating ?? (gateApplies() ? runGate() : undefined));
  if (promotion) result.promotion = promotion;
  // Approvals answer once the decision is recorded: let them reply before the workflow closes.
  await condition(allHandlersFinished);
  result.durationMs = Date.now() - startTime.getTime();
  return result;
}

/** Removes `item` from `list` in place (the running list, without a copy per node). */
function remove(list: string[], item: string): void {
  const at = list.indexOf(item);
  if (at >= 0) list.splice(at, 1);
}

/** How the run came to be: its schedule (set by Temporal on scheduled runs), its sweep. */
function lineage(
  input: TrainingWorkflowInput,
  scheduleId: string | undefined,
): Partial<RunContext> {
  return {
    ...(scheduleId ? { scheduleId } : {}),
    ...(input.parentRunId ? { parentRunId: input.parentRunId } : {}),
    ...(input.sweep ? { sweep: input.sweep } : {}),
    ...(input.registerModel === false ? { registerModel: false } : {}),
  };
}

/**
 * Restores what the node cache holds of the run in one activity (see `restoreCachedNodes`), when
 * the plan has cacheable nodes. Never fails the run: on an error the nodes simply run.
 */
async function restoreFromCache(
  plan: PipelinePlan,
  context: RunContext,
  defaults: NodeActivityDefaults,
): Promise<RestoredNode[]> {
  if (context.noCache || !plan.nodes.some((node) => node.cacheable)) return [];
  try {
    return await onRightWorker(() =>
      restoreCachedNodes.executeWithOptions(
        {
          summary: 'restore cached nodes',
          startToCloseTimeout: defaults.startToCloseTimeoutMs,
          heartbeatTimeout: defaults.heartbeatTimeoutMs,
          retry: { maximumAttempts: 2, initialInterval: '1 second' },
        },
        [context],
      ),
    );
  } catch (error) {
    if (isCancellation(error)) throw error;
    log.warn(`Could not restore nodes from the node cache, they run: ${describeFailure(error)}`);
    return [];
  }
}

/** A closing step (which finds the right worker itself): a failure is logged, never thrown. */
async function closingStep(what: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    log.warn(`Could not ${what}: ${describeFailure(error)}`);
  }
}

/** Runs a big plan as consecutive child workflows, each a topologically closed prefix slice. */
async function runInChunks(
  nodes: readonly NodePlan[],
  chunkSize: number,
  context: RunContext,
  defaults: NodeActivityDefaults,
  progress: TrainingProgress,
  showDetails: () => void,
): Promise<void> {
  for (let start = 0, chunk = 0; start < nodes.length; start += chunkSize, chunk++) {
    const slice = nodes.slice(start, start + chunkSize);
    for (const node of slice) progress.nodes[node.name] = 'running';
    progress.running = [`chunk ${chunk + 1} (${slice.length} nodes)`];
    showDetails();
    const input: ChunkInput = { context, nodes: slice, defaults };
    try {
      await executeChild(pipelineChunkWorkflow, {
        args: [input],
        workflowId: `${context.workflowId}/chunk-${chunk}`,
        staticSummary: `${context.pipeline}: nodes ${start + 1}-${start + slice.length}`,
      });
    } catch (error) {
      for (const node of slice)
        if (progress.nodes[node.name] === 'running') progress.nodes[node.name] = 'failed';
      throw error;
    }
    for (const node of slice) progress.nodes[node.name] = 'completed';
    progress.done += slice.length;
  }
  progress.running = [];
}

/** A slice of a big plan in its own history; nodes of earlier slices have completed. */
export async function pipelineChunkWorkflow(input: ChunkInput): Promise<number> {
  // runDag wires only nodes of this slice: inputs made by earlier slices count as free inputs.
  let done = 0;
  await runDag(input.nodes, input.context, input.defaults, {
    started: () => undefined,
    completed: () => void done++,
    failed: () => undefined,
  });
  return done;
}

/**
 * A name as markdown inline code: the Temporal UI renders details as markdown, where
 * `__default__` would show as a bold "default".
 */
function code(name: string): string {
  return `\`${name.replace(/`/g, "'")}\``;
}

function detailsMarkdown(progress: TrainingProgress): string {
  const cached = progress.cached?.length ? ` (${progress.cached.length} cached)` : '';
  const lines = [
    `${code(progress.pipeline)} — ${progress.state}, ${progress.done} of ${progress.total} nodes done${cached}`,
  ];
  if (progress.running.length > 0)
    lines.push(`Running: ${progress.running.slice(0, 20).map(code).join(', ')}`);
  if (progress.cached?.length) {
    const shown = progress.cached.slice(0, 20).map(code);
    const more = progress.cached.length > 20 ? ` +${progress.cached.length - 20}` : '';
    lines.push(`From the node cache (not run): ${shown.join(', ')}${more}`);
  }
  if (progress.mlflowRunId)
    lines.push(
      progress.mlflowRunUrl
        ? `MLflow run: [${progress.mlflowRunId}](${progress.mlflowRunUrl})`
        : `MLflow run: ${code(progress.mlflowRunId)}`,
    );
  if (progress.modelUri) lines.push(`Model: ${code(progress.modelUri)}`);
  if (progress.state === 'cancelled')
    lines.push('**Cancelled**: nodes still running were cancelled.');
  if (progress.failedNode) lines.push(`Failed node: ${code(progress.failedNode)}`);
  if (progress.error && progress.state === 'failed')
    lines.push(`Error: ${progress.error.slice(0, 2_000)}`);
  if (progress.promotion)
    lines.push(promotionMarkdown(progress.promotion, progress.state === 'awaiting-approval'));
  const text = lines.join('\n\n');
  return text.length > 20_000 ? text.slice(0, 19_999) : text;
}

/** Each metric's value, those logged as NaN or ±Infinity left out (JSON has no such number). */
function finiteValues(logged: Record<string, LoggedMetric>): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [key, { value }] of Object.entries(logged)) if (value !== null) values[key] = value;
  return values;
}
