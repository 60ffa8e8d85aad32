import { DEFAULT_PIPELINE_NAME } from '../../constants.js';
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { withActiveRun, type ActiveRunSlot } from '../../mlflow/active-run.js';
import { runUrl } from '../../mlflow/tracking-hook.js';
import { createModelLoggingHook } from '../../model/package-run.js';
import { runPipelineLocally } from '../../runner/local-runner.js';
import { openSession } from '../../session.js';
import {
  addFilterOptions,
  addProjectOptions,
  filtersFrom,
  reproduceCommand,
  runtimeParamsFrom,
  type FilterCommandOptions,
  type ProjectCommandOptions,
} from '../common.js';
import { createNodeProgress } from '../progress.js';

interface RunOptions extends ProjectCommandOptions, FilterCommandOptions {
  maxConcurrency?: string;
}

/** `temporal-mlflow run`: the pipeline in this process (Kedro's `kedro run`), tracked in MLflow when configured. */
export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description('run a pipeline in this process with the local runner');
  addFilterOptions(addProjectOptions(command))
    .option('--max-concurrency <n>', 'nodes run at once at most')
    .action(async (options: RunOptions) => {
      const runtimeParams = runtimeParamsFrom(options);
      const session = await openSession({
        projectDir: options.project,
        env: options.env,
        runtimeParams,
      });
      const pipelineName = options.pipeline ?? DEFAULT_PIPELINE_NAME;
      const pipeline = session.pipeline(pipelineName, filtersFrom(options));
      const command = reproduceCommand('run', options);
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
          ...(options.maxConcurrency ? { maxConcurrency: Number(options.maxConcurrency) } : {}),
          onProgress: (event) => progress.update(event.done, event.total, event.running),
          resumeCommandPrefix: command,
        });
      try {
        await (slot ? withActiveRun(slot, execute) : execute());
      } finally {
        progress.stop();
      }
      console.log(`Pipeline '${pipelineName}' completed: ${pipeline.nodes.length} nodes.`);
      if (slot?.runId) {
        const run = await slot.client.runs.get(slot.runId);
        console.log(
          `MLflow run: ${runUrl(slot.client.trackingUri, run.info.experiment_id, slot.runId)}`,
        );
      }
    });
}
