import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { DEFAULT_TASK_QUEUE, DEFAULT_PIPELINE_NAME } from '../../constants.js';
import { MlflowClient } from '../../mlflow/client.js';
import { runUrl } from '../../mlflow/tracking-hook.js';
import { startTraining } from '../../temporal/client.js';
import type { TrainingResult } from '../../temporal/types.js';
import {
  addFilterOptions,
  addProjectOptions,
  filtersFrom,
  reproduceCommand,
  runtimeParamsFrom,
  temporalWorkflowUrl,
  type FilterCommandOptions,
  type ProjectCommandOptions,
} from '../common.js';
import {
  addConnectionOptions,
  pollEvery,
  withTemporalClient,
  type ConnectionCommandOptions,
} from '../connection.js';
import { createNodeProgress } from '../progress.js';

interface TrainOptions
  extends ProjectCommandOptions, FilterCommandOptions, ConnectionCommandOptions {
  wait?: boolean;
  workflowId?: string;
}

/** Follows a training workflow: live progress, links, and the outcome. */
export async function followTraining(
  client: Client,
  options: {
    pipeline: string;
    env: string;
    params: Record<string, unknown>;
    taskQueue: string;
    workflowId?: string;
    command: string;
    filters?: ReturnType<typeof filtersFrom>;
    wait: boolean;
  },
): Promise<TrainingResult | undefined> {
  const handle = await startTraining(client, {
    pipeline: options.pipeline,
    env: options.env,
    params: options.params,
    taskQueue: options.taskQueue,
    command: options.command,
    ...(options.workflowId ? { workflowId: options.workflowId } : {}),
    ...(options.filters ? { filters: options.filters } : {}),
  });
  console.log(`Temporal workflow: ${temporalWorkflowUrl(handle.workflowId)}`);
  const runId = await handle.mlflowRunId();
  if (runId && process.env.MLFLOW_TRACKING_URI) {
    const mlflow = MlflowClient.fromEnv();
    const run = await mlflow.runs.get(runId);
    console.log(`MLflow run:        ${runUrl(mlflow.trackingUri, run.info.experiment_id, runId)}`);
  }
  if (!options.wait) return undefined;
  const progress = createNodeProgress(`train ${options.pipeline}`);
  const polling = pollEvery(250, async () => {
    const state = await handle.progress();
    const running = state.state === 'packaging' ? ['packaging model'] : state.running;
    progress.update(state.done, state.total, running);
  });
  try {
    const result = await handle.result();
    progress.update(result.nodes, result.nodes, []);
    return result;
  } catch (error) {
    if (error instanceof WorkflowFailedError) {
      const state = await handle.progress().catch(() => undefined);
      const node = state?.failedNode ? `node '${state.failedNode}'` : 'the workflow';
      throw new TrainingFailedError(
        `Training failed at ${node}: ${state?.error ?? error.cause?.message ?? error.message}`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await polling.stop();
    progress.stop();
  }
}

/** The training workflow ended in failure; the message names the failed node and the reason. */
export class TrainingFailedError extends Error {
  override readonly name = 'TrainingFailedError';
}

/** `temporal-mlflow train`: starts the training workflow on Temporal (the worker runs the nodes). */
export function registerTrainCommand(program: Command): void {
  const command = program.command('train').description('start a training workflow on Temporal');
  addConnectionOptions(addFilterOptions(addProjectOptions(command)))
    .option('--wait', 'wait for the workflow, show progress, exit non-zero if it fails', false)
    .option('--workflow-id <id>', 'workflow id (default: train-<pipeline>-<uuid>)')
    .action(async (options: TrainOptions) => {
      await withTemporalClient(options, async (client) => {
        const result = await followTraining(client, {
          pipeline: options.pipeline ?? DEFAULT_PIPELINE_NAME,
          env: options.env ?? 'local',
          params: runtimeParamsFrom(options),
          taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
          command: reproduceCommand('train', options),
          filters: filtersFrom(options),
          wait: Boolean(options.wait),
          ...(options.workflowId ? { workflowId: options.workflowId } : {}),
        });
        if (result) {
          console.log(
            `Training completed: ${result.nodes} nodes in ${(result.durationMs / 1000).toFixed(1)} s.`,
          );
          if (result.model)
            console.log(`Model: ${result.model.modelUri} (${result.model.runModelUri})`);
        }
      });
    });
}
