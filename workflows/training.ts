import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TrainingActivities } from '../activities/index.js';
import {
  DEFAULT_PIPELINE_NAME,
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
} from '../src/constants.js';
import type {
  ChunkInput,
  LoggedModelRef,
  NodeActivityDefaults,
  NodePlan,
  PipelinePlan,
  RunContext,
  TrainingInput,
  TrainingProgress,
  TrainingResult,
} from '../src/temporal/types.js';
import { describeFailure, NodeFailure, runDag, type DagObserver } from './dag.js';

/** The `progress` query: the state of every node of the run. */
export const progressQuery = defineQuery<TrainingProgress>('progress');

export const pipelineNameKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
  SearchAttributeType.KEYWORD,
);
export const mlflowRunIdKey = defineSearchAttributeKey(
  SEARCH_ATTRIBUTE_MLFLOW_RUN_ID,
  SearchAttributeType.KEYWORD,
);

/** Nodes per history: above this the plan runs as child workflows of at most this many nodes. */
export const NODES_PER_HISTORY = 500;

const DEFAULT_NODE_OPTIONS: NodeActivityDefaults = {
  startToCloseTimeoutMs: 60 * 60_000,
  heartbeatTimeoutMs: 30_000,
  retry: { maximumAttempts: 3, initialIntervalMs: 1_000, backoffCoefficient: 2 },
};

// Short, idempotent steps run as local activities: no extra task round trip before the first node.
const { planPipeline, startMlflowRun } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5 },
});
const { packageModel } = proxyActivities<TrainingActivities>({
  startToCloseTimeout: '30 minutes',
  retry: { maximumAttempts: 5 },
});
// Ending the MLflow run and removing the intermediate store are short and idempotent: local
// activities, so the workflow completes without another task round trip.
const { endMlflowRun, cleanupRun } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 10 },
});

/** Input of the training workflow; `nodeDefaults` overrides the activity options of nodes. */
export interface TrainingWorkflowInput extends TrainingInput {
  nodeDefaults?: Partial<NodeActivityDefaults>;
  /** Nodes per workflow history before the plan is split into child workflows. @default 500 */
  nodesPerHistory?: number;
}

/**
 * Runs a pipeline as a durable workflow: plan → MLflow run → one activity per node (in parallel
 * where the DAG allows) → model packaging for a PipelineML → MLflow run ended FINISHED, FAILED or
 * KILLED, and the intermediate store cleaned up, whatever happened.
 */
export async function trainingWorkflow(input: TrainingWorkflowInput = {}): Promise<TrainingResult> {
  const { workflowId, startTime } = workflowInfo();
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

  const plan: PipelinePlan = await planPipeline(input);
  progress.pipeline = plan.pipeline;
  progress.total = plan.nodes.length;
  for (const node of plan.nodes) progress.nodes[node.name] = 'pending';
  upsertSearchAttributes([{ key: pipelineNameKey, value: plan.pipeline }]);

  const context: RunContext = {
    workflowId,
    pipeline: plan.pipeline,
    env: plan.env,
    params: input.params ?? {},
    codeHash: plan.codeHash,
    store: plan.store,
    ...(input.command ? { command: input.command } : {}),
  };
  const mlflowRun = plan.tracking ? await startMlflowRun(context) : undefined;
  if (mlflowRun) {
    context.mlflowRunId = mlflowRun.runId;
    progress.mlflowRunId = mlflowRun.runId;
    upsertSearchAttributes([{ key: mlflowRunIdKey, value: mlflowRun.runId }]);
  }
  progress.state = 'running';
  showDetails();

  const defaults: NodeActivityDefaults = {
    ...DEFAULT_NODE_OPTIONS,
    ...input.nodeDefaults,
    retry: { ...DEFAULT_NODE_OPTIONS.retry, ...input.nodeDefaults?.retry },
  };
  const observer: DagObserver = {
    started(node) {
      progress.nodes[node.name] = 'running';
      progress.running.push(node.name);
      showDetails();
    },
    completed(node) {
      progress.nodes[node.name] = 'completed';
      progress.running = progress.running.filter((name) => name !== node.name);
      progress.done++;
      showDetails();
    },
    failed(node, error) {
      progress.nodes[node.name] = isCancellation(error) ? 'cancelled' : 'failed';
      progress.running = progress.running.filter((name) => name !== node.name);
      showDetails();
    },
  };

  let status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FINISHED';
  try {
    const nodesPerHistory = Math.max(1, input.nodesPerHistory ?? NODES_PER_HISTORY);
    if (plan.nodes.length <= nodesPerHistory) {
      await runDag(plan.nodes, context, defaults, observer);
    } else {
      await runInChunks(plan.nodes, nodesPerHistory, context, defaults, progress, showDetails);
    }
    let model: LoggedModelRef | undefined;
    // A PipelineML logs its model to the run; without MLflow tracking there is nowhere to log it.
    if (plan.isPipelineMl && mlflowRun) {
      progress.state = 'packaging';
      showDetails();
      // Packaging heartbeats like a node: a dead worker is noticed within the nodes' heartbeat timeout.
      model = await packageModel.executeWithOptions(
        {
          startToCloseTimeout: '30 minutes',
          heartbeatTimeout: defaults.heartbeatTimeoutMs,
          retry: { maximumAttempts: 5 },
          summary: 'package model',
        },
        [context],
      );
      progress.modelUri = model.modelUri;
    }
    progress.state = 'completed';
    return {
      pipeline: plan.pipeline,
      ...(mlflowRun ? { mlflowRunId: mlflowRun.runId, mlflowRunUrl: mlflowRun.runUrl } : {}),
      ...(model ? { model } : {}),
      nodes: plan.nodes.length,
      durationMs: Date.now() - startTime.getTime(),
    };
  } catch (error) {
    const cancelled =
      isCancellation(error) || (error instanceof NodeFailure && isCancellation(error.cause));
    status = cancelled ? 'KILLED' : 'FAILED';
    progress.state = cancelled ? 'cancelled' : 'failed';
    progress.error = describeFailure(error);
    if (error instanceof NodeFailure) progress.failedNode = error.node;
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
    showDetails();
    // Cleanup must run even when the workflow itself was cancelled.
    await CancellationScope.nonCancellable(async () => {
      if (mlflowRun) await endMlflowRun({ context, status });
      await cleanupRun(context);
    });
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

function detailsMarkdown(progress: TrainingProgress): string {
  const lines = [
    `**${progress.pipeline}** — ${progress.state}, ${progress.done}/${progress.total} nodes done`,
  ];
  if (progress.running.length > 0)
    lines.push(`Running: ${progress.running.slice(0, 20).join(', ')}`);
  if (progress.mlflowRunId) lines.push(`MLflow run: \`${progress.mlflowRunId}\``);
  if (progress.modelUri) lines.push(`Model: \`${progress.modelUri}\``);
  if (progress.failedNode) lines.push(`Failed node: **${progress.failedNode}**`);
  const text = lines.join('\n\n');
  return text.length > 20_000 ? text.slice(0, 19_999) : text;
}
