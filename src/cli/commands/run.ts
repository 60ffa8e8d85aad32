import { DEFAULT_PIPELINE_NAME } from '../../constants.js';
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { withActiveRun, type ActiveRunSlot } from '../../mlflow/active-run.js';
import { runUrl } from '../../mlflow/tracking-hook.js';
import { extractPipelineArtifacts } from '../../model/artifacts.js';
import { createModelLoggingHook } from '../../model/package-run.js';
import { isPipelineMl } from '../../model/pipeline-ml.js';
import { defaultCacheDir, LocalCacheStore, MlflowCacheStore } from '../../runner/cache-store.js';
import { runPipelineLocally } from '../../runner/local-runner.js';
import { NodeCache } from '../../runner/node-cache.js';
import { openSession, type Session } from '../../session.js';
import { CliUsageError } from '../errors.js';
import {
  addFilterOptions,
  addProjectOptions,
  filtersFrom,
  positiveInteger,
  reproduceCommand,
  runtimeParamsFrom,
  type FilterCommandOptions,
  type ProjectCommandOptions,
} from '../common.js';
import { createNodeProgress } from '../progress.js';

interface RunOptions extends ProjectCommandOptions, FilterCommandOptions {
  maxConcurrency?: string;
  /** The node cache's store, or false with `--no-cache`. */
  cache: string | false;
  cacheDir?: string;
}

/** `temporal-mlflow run`: the pipeline in this process (Kedro's `kedro run`), tracked in MLflow when configured. */
export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description('run a pipeline in this process with the local runner');
  addFilterOptions(addProjectOptions(command))
    .option('--max-concurrency <n>', 'nodes run at once at most')
    .option(
      '--cache <store>',
      "node cache: 'local' (<project>/.local/node-cache) or 'mlflow' (the MLflow server's artifacts)",
      'local',
    )
    .option('--no-cache', 'run every node: neither read nor write the node cache')
    .option('--cache-dir <dir>', "folder of the 'local' node cache")
    .action(async (options: RunOptions) => {
      const runtimeParams = runtimeParamsFrom(options);
      const session = await openSession({
        projectDir: options.project,
        env: options.env,
        runtimeParams,
      });
      const cache = nodeCacheFrom(options, session);
      const pipelineName = options.pipeline ?? DEFAULT_PIPELINE_NAME;
      const pipeline = session.pipeline(pipelineName, filtersFrom(options));
      const command = reproduceCommand('run', options);
      // A model that could not be packaged is refused now, not after training.
      if (isPipelineMl(pipeline) && session.isTracked(pipelineName))
        extractPipelineArtifacts(pipeline, session.catalog, session.config.catalog);
      if (!session.mlflowClient)
        console.error(
          'MLflow tracking is off (no MLFLOW_TRACKING_URI, no server.mlflow_tracking_uri in mlflow.yml): nothing is tracked and no model is logged.',
        );
      const progress = createNodeProgress(`run ${pipelineName}`);
      const hooks = [
        createModelLoggingHook(session, (model) =>
          progress.log(`model logged: ${model.modelUri} (${model.runModelUri})`),
        ),
        ...session.hooks(pipelineName),
      ];
      const slot: ActiveRunSlot | undefined = session.mlflowClient
        ? { client: session.mlflowClient }
        : undefined;
      const execute = () =>
        runPipelineLocally({
          pipeline,
          catalog: session.catalog,
          hooks,
          run: {
            runId: randomUUID(),
            pipelineName,
            env: session.env,
            projectDir: session.project.dir,
            runtimeParams,
            command,
          },
          ...(options.maxConcurrency
            ? { maxConcurrency: positiveInteger('--max-concurrency', options.maxConcurrency) }
            : {}),
          ...(cache ? { cache } : {}),
          onProgress: (event) =>
            progress.update(
              event.done,
              event.total,
              event.cachedCount > 0
                ? [`${event.cachedCount} cached`, ...event.running]
                : event.running,
            ),
          resumeCommandPrefix: command,
        });
      let cachedNodes = 0;
      try {
        const result = await (slot ? withActiveRun(slot, execute) : execute());
        cachedNodes = Object.keys(result.cachedNodes).length;
      } finally {
        progress.stop();
      }
      const cached = cachedNodes > 0 ? ` (${cachedNodes} from the node cache)` : '';
      console.log(`Pipeline '${pipelineName}' completed: ${pipeline.nodes.length} nodes${cached}.`);
      if (slot?.runId) {
        const run = await slot.client.runs.get(slot.runId);
        console.log(
          `MLflow run: ${runUrl(slot.client.trackingUri, run.info.experiment_id, slot.runId)}`,
        );
      }
    });
}

/** The node cache `--cache`/`--no-cache`/`--cache-dir` ask for, or undefined with `--no-cache`. */
function nodeCacheFrom(options: RunOptions, session: Session): NodeCache | undefined {
  if (options.cache === false) {
    if (options.cacheDir)
      throw new CliUsageError('--cache-dir and --no-cache contradict each other.');
    return undefined;
  }
  if (options.cache === 'local') {
    return new NodeCache({
      store: new LocalCacheStore(options.cacheDir ?? defaultCacheDir(session.project.dir)),
    });
  }
  if (options.cache === 'mlflow') {
    if (options.cacheDir)
      throw new CliUsageError('--cache-dir applies to --cache local only, not --cache mlflow.');
    return new NodeCache({
      store: new MlflowCacheStore(
        session.requireMlflow("The 'mlflow' node cache"),
        session.projectName,
      ),
    });
  }
  throw new CliUsageError(`--cache must be 'local' or 'mlflow', got '${options.cache}'.`);
}
