import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { MlflowClient } from '../../mlflow/client.js';
import { runUrl } from '../../mlflow/tracking-hook.js';
import {
  compileTrainingOptions,
  startCompiledTraining,
  startCompiledTrainingOverHttp,
  trainingHandle,
  type CompiledTrainingOptions,
  type StartTrainingOptions,
} from '../../temporal/client.js';
import type { trainingWorkflow } from '../../../workflows/training.js';
import { temporalClient } from '../../temporal/lazy-modules.js';
import { queuePollers } from '../../temporal/pollers.js';
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
  HTTP_ADDRESS_ENV,
  httpEndpointFrom,
  pollEvery,
  withTemporalClient,
  type ConnectionCommandOptions,
} from '../connection.js';
import { DEFAULT_TEMPORAL_NAMESPACE } from '../../constants.js';
import { createNodeProgress } from '../progress.js';
import { trainingSummary } from '../training-summary.js';

interface TrainOptions
  extends ProjectCommandOptions, FilterCommandOptions, ConnectionCommandOptions {
  wait?: boolean;
  workflowId?: string;
  sweep?: string;
  /** False with `--no-cache`. */
  cache: boolean;
}

const WAITING_FOR_WORKER = 'waiting for a worker';
/** When a waiting `train` first asks the training for its progress. */
const FIRST_PROGRESS_AFTER_MS = 1_000;

/**
 * Starts a training and follows it: the queue used, links, and (with `wait`) live progress and the
 * outcome. A run nobody serves yet is said to be waiting, never reported as not started.
 */
export async function followTraining(
  client: Client,
  options: StartTrainingOptions & {
    wait: boolean;
    log?: (line: string) => void;
    /** Run every node, neither reading nor writing the node cache. */
    noCache?: boolean;
    /** These options already compiled (e.g. while the client connected). */
    compiled?: Promise<CompiledTrainingOptions>;
    /**
     * The run, already started over Temporal's HTTP API (`startEarly`); undefined when that did
     * not start it, and the client starts it.
     */
    startedEarly?: Promise<{ workflowId: string; runId: string } | undefined>;
  },
): Promise<(TrainingResult & { workflowId: string; experimentId?: string }) | undefined> {
  const log = options.log ?? ((line: string) => console.log(line));
  const compiled = await (options.compiled ?? compileTrainingOptions(options));
  if (options.noCache) compiled.input.noCache = true;
  const early = await options.startedEarly;
  const handle = early
    ? trainingHandle(
        client.workflow.getHandle<typeof trainingWorkflow>(early.workflowId, undefined, {
          firstExecutionRunId: early.runId,
        }),
        compiled.taskQueue,
      )
    : await startCompiledTraining(client, compiled);
  /** Known once the run exists: the summary's links need it, and then ask MLflow nothing more. */
  let experimentId: string | undefined;
  log(`Temporal workflow: ${temporalWorkflowUrl(handle.workflowId)}`);
  log(`Task queue:        ${compiled.taskQueue}`);
  /** The line linking the MLflow run (undefined without a tracking URI here). */
  const runLine = async (run: {
    runId: string;
    experimentId?: string;
  }): Promise<string | undefined> => {
    if (!process.env.MLFLOW_TRACKING_URI) return undefined;
    const mlflow = MlflowClient.fromEnv();
    // Workers before the progress carried it: ask MLflow.
    experimentId = run.experimentId ?? (await mlflow.runs.get(run.runId)).info.experiment_id;
    return `MLflow run:        ${runUrl(mlflow.trackingUri, experimentId, run.runId)}`;
  };
  const hasWorker = async (): Promise<boolean> =>
    (await queuePollers(client, compiled.taskQueue)).length > 0;
  if (!(await hasWorker())) {
    log(
      `started; no worker polls queue ${compiled.taskQueue}: start one with \`${workerCommand(options)}\``,
    );
    if (!options.wait) return undefined;
  } else if (!options.wait) {
    const run = await handle.mlflowRun();
    const line = run && (await runLine(run));
    if (line) log(line);
  }
  if (!options.wait) return undefined;
  const progress = createNodeProgress(`train ${compiled.pipeline}`);
  // Queries need a worker: until one polls, progress says so instead of querying. Every query is
  // work for the worker running the training (a workflow task's worth), so the first waits a
  // second: a short training is not slowed by being watched, and its summary gives the run's link.
  let served = false;
  let runShown = false;
  const polling = pollEvery(
    250,
    (signal) => client.connection.withAbortSignal(signal, () => showProgress()),
    { firstAfterMs: FIRST_PROGRESS_AFTER_MS },
  );
  async function showProgress(): Promise<void> {
    served ||= await hasWorker();
    if (!served) return progress.update(0, 0, [WAITING_FOR_WORKER]);
    const state = await handle.progress();
    if (!runShown && state.mlflowRunId) {
      runShown = true;
      const line = await runLine({
        runId: state.mlflowRunId,
        ...(state.mlflowExperimentId ? { experimentId: state.mlflowExperimentId } : {}),
      });
      if (line) progress.interrupt(() => log(line));
    }
    const running =
      state.state === 'packaging'
        ? ['packaging model']
        : state.state === 'closing'
          ? ['closing the MLflow run']
          : state.running;
    progress.update(state.done, state.total, cachedLabel(state.cached, running));
  }
  try {
    const result = await handle.result();
    progress.update(result.nodes, result.nodes, []);
    return { ...result, workflowId: handle.workflowId, ...(experimentId ? { experimentId } : {}) };
  } catch (error) {
    if (error instanceof temporalClient().WorkflowFailedError) {
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

/** Nodes restored from the node cache, shown first among the running ones. */
function cachedLabel(cached: readonly string[] | undefined, running: string[]): string[] {
  return cached?.length ? [`${cached.length} cached`, ...running] : running;
}

/** The command that starts a worker serving this run's queue. */
function workerCommand(options: StartTrainingOptions): string {
  const parts = ['temporal-mlflow worker'];
  if (options.projectDir && options.projectDir !== process.cwd())
    parts.push(`--project ${JSON.stringify(options.projectDir)}`);
  if (options.env) parts.push(`--env ${options.env}`);
  if (options.taskQueue) parts.push(`--task-queue ${options.taskQueue}`);
  return parts.join(' ');
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
    .option('--no-cache', 'run every node: neither read nor write the node cache')
    .option('--sweep <file>', 'run a parameter sweep (grid or random, see docs/lifecycle.md)')
    .option(
      '--http-address <url>',
      `Temporal's HTTP API, to send the start before the gRPC client loads (env ${HTTP_ADDRESS_ENV})`,
    )
    .action(async (options: TrainOptions) => {
      // What a training and a sweep are started with, from the same flags.
      const run = {
        ...(options.project ? { projectDir: options.project } : {}),
        ...(options.pipeline ? { pipeline: options.pipeline } : {}),
        ...(options.env ? { env: options.env } : {}),
        params: runtimeParamsFrom(options),
        ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
        command: reproduceCommand('train', options),
        wait: Boolean(options.wait),
        ...(options.workflowId ? { workflowId: options.workflowId } : {}),
      };
      const training = { ...run, filters: filtersFrom(options) };
      // The project loads while the client connects; its errors surface where it is awaited.
      const compiled = options.sweep
        ? undefined
        : compileTrainingOptions(training).then((compiledOptions) => {
            if (!options.cache) compiledOptions.input.noCache = true;
            return compiledOptions;
          });
      compiled?.catch(() => undefined);
      const startedEarly = compiled && (await startEarly(options, compiled))?.started;
      await withTemporalClient(options, async (client) => {
        if (options.sweep) {
          const { followSweep, printSweepResult } = await import('./sweep.js');
          const swept = await followSweep(client, { spec: options.sweep, ...run });
          if (swept) printSweepResult(swept);
          return;
        }
        const result = await followTraining(client, {
          ...training,
          ...(compiled ? { compiled } : {}),
          ...(startedEarly ? { startedEarly } : {}),
          ...(options.cache ? {} : { noCache: true }),
        });
        if (result) {
          const cached = result.cachedNodes ? ` (${result.cachedNodes} from the node cache)` : '';
          console.log(
            `Training completed: ${result.nodes} nodes${cached} in ${(result.durationMs / 1000).toFixed(1)} s.`,
          );
          console.log(`\n${await trainingSummary(result.workflowId, result)}`);
        }
      });
    });
}

/**
 * Sends the training's start over Temporal's HTTP API, when one is configured (see
 * `httpEndpointFrom`), and returns once the request is on its way: the gRPC client then loads
 * while the workflow already runs. Resolves to the started run, or to undefined when the HTTP
 * start did not happen (the client starts the run then; a warning says why). A start whose
 * outcome stays unknown after retries fails the command: starting again could only report the
 * run as already started.
 */
async function startEarly(
  options: TrainOptions,
  compiled: Promise<CompiledTrainingOptions>,
): Promise<{ started: Promise<{ workflowId: string; runId: string } | undefined> } | undefined> {
  const http = httpEndpointFrom(options);
  if (!('endpoint' in http)) return undefined;
  const compiledOptions = await compiled.catch(() => undefined);
  // A project that does not load fails where `compiled` is awaited, with its own message.
  if (!compiledOptions) return undefined;
  let sent!: () => void;
  const onWay = new Promise<void>((resolve) => (sent = resolve));
  const started = startCompiledTrainingOverHttp(
    http.endpoint,
    options.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    compiledOptions,
    { onSent: sent },
  ).catch(async (error: unknown) => {
    const { HttpStartError } = await import('../../temporal/http-start.js');
    if (!(error instanceof HttpStartError) || error.outcome === 'unknown') {
      throw new TrainingStartError(
        `${error instanceof Error ? error.message : String(error)}. Whether workflow ${compiledOptions.workflowId} started is unknown: look for it in the Temporal UI before training again.`,
        { cause: error },
      );
    }
    console.error(`warning: ${error.message}; starting the training over gRPC instead.`);
    return undefined;
  });
  started.catch(() => undefined); // awaited by followTraining
  await Promise.race([onWay, started.catch(() => undefined)]);
  return { started };
}

/** The training's start was sent, but whether it started could not be learnt. */
export class TrainingStartError extends Error {
  override readonly name = 'TrainingStartError';
}
