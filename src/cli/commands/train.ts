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
  type TrainingHandle,
} from '../../temporal/client.js';
import type { TemporalHttpApi } from '../../temporal/http-api.js';
import type { trainingWorkflow } from '../../../workflows/training.js';
import { temporalClient } from '../../temporal/lazy-modules.js';
import { queuePollers } from '../../temporal/pollers.js';
import type { TrainingProgress, TrainingResult } from '../../temporal/types.js';
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
  httpEndpointFrom,
  lazyTemporalClient,
  pollEvery,
  withTemporalClient,
  type ConnectionCommandOptions,
} from '../connection.js';
import {
  DEFAULT_TEMPORAL_NAMESPACE,
  PROGRESS_QUERY_NAME,
  TEMPORAL_HTTP_ADDRESS_ENV,
} from '../../constants.js';
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

/** What following a started training needs: the SDK's client, or Temporal's HTTP API. */
interface TrainingWatch {
  readonly workflowId: string;
  hasWorker(signal?: AbortSignal): Promise<boolean>;
  progress(signal?: AbortSignal): Promise<TrainingProgress>;
  /** The MLflow run and its experiment, as soon as the workflow has created the run. */
  mlflowRun(): Promise<{ runId: string; experimentId?: string } | undefined>;
  /** The run's result; a run that did not complete rejects with the SDK's WorkflowFailedError. */
  result(): Promise<TrainingResult>;
}

/** A training followed through the SDK's client. */
function clientWatch(client: Client, handle: TrainingHandle, taskQueue: string): TrainingWatch {
  const aborting = <T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> =>
    signal ? client.connection.withAbortSignal(signal, call) : call();
  return {
    workflowId: handle.workflowId,
    hasWorker: async (signal) =>
      (await aborting(signal, () => queuePollers(client, taskQueue))).length > 0,
    progress: (signal) => aborting(signal, () => handle.progress()),
    mlflowRun: () => handle.mlflowRun(),
    result: () => handle.result(),
  };
}

/**
 * A training started over Temporal's HTTP API, followed there: a completed run never loads the
 * SDK's client. What the API cannot tell (a run that did not complete, an MLflow run to wait for)
 * or fails to answer (the API unreachable meanwhile) is asked through `viaClient`, a
 * `clientWatch` connected on first use.
 */
function httpWatch(
  api: TemporalHttpApi,
  started: { workflowId: string; runId: string },
  taskQueue: string,
  viaClient: () => Promise<TrainingWatch>,
): TrainingWatch {
  /** `call` over HTTP, else the client's answer (an aborted call stays aborted). */
  const orClient = async <T>(
    call: () => Promise<T>,
    fallback: (watch: TrainingWatch) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (signal?.aborted) throw error;
      return fallback(await viaClient());
    }
  };
  return {
    workflowId: started.workflowId,
    hasWorker: (signal) =>
      orClient(
        async () => (await api.workflowPollers(taskQueue)) > 0,
        (watch) => watch.hasWorker(signal),
        signal,
      ),
    progress: (signal) =>
      orClient(
        () =>
          api.query<TrainingProgress>(
            started.workflowId,
            started.runId,
            PROGRESS_QUERY_NAME,
            signal,
          ),
        (watch) => watch.progress(signal),
        signal,
      ),
    mlflowRun: async () => (await viaClient()).mlflowRun(),
    async result() {
      const closed = await api.awaitClose(started.workflowId, started.runId).catch(() => undefined);
      if (closed?.status === 'completed') return closed.result as TrainingResult;
      return (await viaClient()).result();
    },
  };
}

type FollowOptions = StartTrainingOptions & {
  wait: boolean;
  log?: (line: string) => void;
  /** Run every node, neither reading nor writing the node cache. */
  noCache?: boolean;
  /** These options already compiled (e.g. while the client connected). */
  compiled?: Promise<CompiledTrainingOptions>;
};

type FollowedTraining = TrainingResult & { workflowId: string; experimentId?: string };

/**
 * Starts a training and follows it: the queue used, links, and (with `wait`) live progress and the
 * outcome. A run nobody serves yet is said to be waiting, never reported as not started.
 */
export async function followTraining(
  client: Client,
  options: FollowOptions,
): Promise<FollowedTraining | undefined> {
  const compiled = await (options.compiled ?? compileTrainingOptions(options));
  if (options.noCache) compiled.input.noCache = true;
  const handle = await startCompiledTraining(client, compiled);
  return follow(clientWatch(client, handle, compiled.taskQueue), compiled, options);
}

/** Follows a started training (see `followTraining`). */
async function follow(
  watch: TrainingWatch,
  compiled: CompiledTrainingOptions,
  options: FollowOptions,
): Promise<FollowedTraining | undefined> {
  const log = options.log ?? ((line: string) => console.log(line));
  /** Known once the run exists: the summary's links need it, and then ask MLflow nothing more. */
  let experimentId: string | undefined;
  log(`Temporal workflow: ${temporalWorkflowUrl(watch.workflowId)}`);
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
  if (!(await watch.hasWorker())) {
    log(
      `started; no worker polls queue ${compiled.taskQueue}: start one with \`${workerCommand(options)}\``,
    );
    if (!options.wait) return undefined;
  } else if (!options.wait) {
    const run = await watch.mlflowRun();
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
  const polling = pollEvery(250, (signal) => showProgress(signal), {
    firstAfterMs: FIRST_PROGRESS_AFTER_MS,
  });
  async function showProgress(signal: AbortSignal): Promise<void> {
    served ||= await watch.hasWorker(signal);
    if (!served) return progress.update(0, 0, [WAITING_FOR_WORKER]);
    const state = await watch.progress(signal);
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
    const result = await watch.result();
    progress.update(result.nodes, result.nodes, []);
    return { ...result, workflowId: watch.workflowId, ...(experimentId ? { experimentId } : {}) };
  } catch (error) {
    if (error instanceof temporalClient().WorkflowFailedError) {
      const state = await watch.progress().catch(() => undefined);
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
      `Temporal's HTTP API, to send the start before the gRPC client loads (env ${TEMPORAL_HTTP_ADDRESS_ENV})`,
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
      // Over gRPC, the project loads while the client connects; its errors surface where it is
      // awaited. Over Temporal's HTTP API, the start waits for it.
      const compiled = options.sweep
        ? undefined
        : compileTrainingOptions(training).then((compiledOptions) => {
            if (!options.cache) compiledOptions.input.noCache = true;
            return compiledOptions;
          });
      compiled?.catch(() => undefined);
      const early = compiled && (await startOverHttp(options, compiled));
      const result = early
        ? await followOverHttp(options, early, (await compiled)!, training)
        : await withTemporalClient(options, async (client) => {
            if (options.sweep) {
              const { followSweep, printSweepResult } = await import('./sweep.js');
              const swept = await followSweep(client, { spec: options.sweep, ...run });
              if (swept) printSweepResult(swept);
              return undefined;
            }
            return followTraining(client, {
              ...training,
              ...(compiled ? { compiled } : {}),
              ...(options.cache ? {} : { noCache: true }),
            });
          });
      if (result) {
        const cached = result.cachedNodes ? ` (${result.cachedNodes} from the node cache)` : '';
        console.log(
          `Training completed: ${result.nodes} nodes${cached} in ${(result.durationMs / 1000).toFixed(1)} s.`,
        );
        console.log(`\n${await trainingSummary(result.workflowId, result)}`);
      }
    });
}

/**
 * Starts the training through Temporal's HTTP API, when one is configured (see
 * `httpEndpointFrom`): the gRPC client is then loaded only if the run does not complete. Resolves
 * to the API and the started run, or to undefined when the HTTP start did not happen (the client
 * starts the run then; a warning says why). A start whose outcome stays unknown after retries fails
 * the command: starting again could only report the run as already started.
 */
async function startOverHttp(
  options: TrainOptions,
  compiled: Promise<CompiledTrainingOptions>,
): Promise<{ api: TemporalHttpApi; started: { workflowId: string; runId: string } } | undefined> {
  const http = httpEndpointFrom(options);
  if (!('endpoint' in http)) return undefined;
  const compiledOptions = await compiled.catch(() => undefined);
  // A project that does not load fails where `compiled` is awaited, with its own message.
  if (!compiledOptions) return undefined;
  const { HttpStartError, TemporalHttpApi } = await import('../../temporal/http-api.js');
  const api = new TemporalHttpApi(http.endpoint, options.namespace ?? DEFAULT_TEMPORAL_NAMESPACE);
  try {
    return { api, started: await startCompiledTrainingOverHttp(api, compiledOptions) };
  } catch (error) {
    if (!(error instanceof HttpStartError) || error.outcome === 'unknown') {
      throw new TrainingStartError(
        `${error instanceof Error ? error.message : String(error)}. Whether workflow ${compiledOptions.workflowId} started is unknown: look for it in the Temporal UI before training again.`,
        { cause: error },
      );
    }
    console.error(`warning: ${error.message}; starting the training over gRPC instead.`);
    return undefined;
  }
}

/** Follows a training `startOverHttp` started, connecting the SDK's client only if needed. */
async function followOverHttp(
  options: TrainOptions,
  { api, started }: { api: TemporalHttpApi; started: { workflowId: string; runId: string } },
  compiled: CompiledTrainingOptions,
  training: StartTrainingOptions & { wait: boolean },
): Promise<FollowedTraining | undefined> {
  const client = lazyTemporalClient(options);
  let watch: Promise<TrainingWatch> | undefined;
  const viaClient = (): Promise<TrainingWatch> =>
    (watch ??= client.get().then((connected) =>
      clientWatch(
        connected,
        trainingHandle(
          connected.workflow.getHandle<typeof trainingWorkflow>(started.workflowId, undefined, {
            firstExecutionRunId: started.runId,
          }),
          compiled.taskQueue,
        ),
        compiled.taskQueue,
      ),
    ));
  try {
    return await follow(httpWatch(api, started, compiled.taskQueue, viaClient), compiled, training);
  } finally {
    await client.close();
  }
}

/** The training's start was sent, but whether it started could not be learnt. */
export class TrainingStartError extends Error {
  override readonly name = 'TrainingStartError';
}
