import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { createRowProgress } from '../../batch/progress.js';
import { startBatchScoring } from '../../batch/client.js';
import { DEFAULT_CHUNK_SIZE } from '../../batch/stream-predict.js';
import { parseRuntimeParams } from '../../catalog/runtime-params.js';
import { DatasetPathError } from '../../datasets/errors.js';
import { findProjectFile } from '../../project/load-project.js';
import { openSession } from '../../session.js';
import {
  addEnvOption,
  addProjectDirOption,
  positiveInteger,
  temporalWorkflowUrl,
} from '../common.js';
import {
  addConnectionOptions,
  pollEvery,
  withTemporalClient,
  type ConnectionCommandOptions,
} from '../connection.js';
import { CliUsageError } from '../errors.js';

interface BatchPredictOptions extends ConnectionCommandOptions {
  modelUri: string;
  input: string;
  output: string;
  chunkSize: string;
  maxParallel?: string;
  wait?: boolean;
  project: string;
  env: string;
  params?: string;
  runtimeParams?: string;
  workflowId?: string;
  keepParts?: boolean;
}

/** The batch workflow ended in failure; the message says which step and why. */
export class BatchScoringFailedError extends Error {
  override readonly name = 'BatchScoringFailedError';
}

/** Checks the dataset names in the local copy of the project, when there is one (workers use theirs). */
async function checkDatasets(
  options: BatchPredictOptions,
  runtimeParams: Record<string, unknown>,
): Promise<boolean> {
  let hasProject = true;
  try {
    findProjectFile(options.project);
  } catch {
    hasProject = false;
  }
  if (!hasProject || !existsSync(options.project)) return false;
  const session = await openSession({
    projectDir: options.project,
    env: options.env,
    runtimeParams,
  });
  for (const name of [options.input, options.output]) {
    if (!session.catalog.has(name)) {
      throw new CliUsageError(
        `Dataset '${name}' is not in the catalog of ${options.project} (env ${options.env}). Known datasets: ${session.catalog.listDatasets().join(', ')}`,
      );
    }
  }
  // Resolving the output builds its dataset: a factory pattern whose path leaves the project
  // (a name with `..`) is refused here, before anything is scored.
  try {
    session.catalog.getDataset(options.output);
  } catch (error) {
    if (!(error instanceof DatasetPathError)) throw error;
    throw new CliUsageError(
      `--output '${options.output}' would be saved to ${error.resolvedPath}, outside the project ` +
        `${options.project} and the locations its catalog declares. Name a dataset inside the project, ` +
        `or give an explicit absolute path without '..' (e.g. --output /data/scores/run1 with a pattern ` +
        `such as "{name}" whose filepath is "{name}.parquet").`,
      { cause: error },
    );
  }
  return true;
}

/** `temporal-mlflow batch-predict`: scores a catalog dataset with a model as a Temporal workflow. */
export function registerBatchCommand(program: Command): void {
  const command = program
    .command('batch-predict')
    .description(
      'score a catalog dataset with a model on Temporal, in chunks, into another catalog dataset',
    )
    .requiredOption(
      '-m, --model-uri <uri>',
      'runs:/<run>/<name>, models:/<id>, models:/<name>/<version>, models:/<name>@<alias> or a folder the workers can read',
    )
    .requiredOption('--input <dataset>', 'catalog dataset to score')
    .requiredOption('--output <dataset>', 'catalog dataset the predictions are saved to')
    .option('--chunk-size <rows>', 'rows per chunk activity', String(DEFAULT_CHUNK_SIZE))
    .option('--max-parallel <n>', 'chunk activities scheduled at once', '8')
    .option('--wait', 'wait for the workflow, show progress, exit non-zero if it fails', false)
    .option('--params <list>', 'inference params, e.g. "min_confidence=0.8"')
    .option('--runtime-params <list>', 'runtime parameter overrides of the configuration')
    .option(
      '--workflow-id <id>',
      'workflow id; the id of a failed run resumes it (default: batch-<input>-<uuid>)',
    )
    .option('--keep-parts', 'keep the per-chunk part files after saving the output', false);
  addEnvOption(
    addProjectDirOption(
      command,
      'project root, to check the dataset names before starting (the workers load their own copy)',
    ),
    'configuration environment of the workers',
  );
  addConnectionOptions(command).action(async (options: BatchPredictOptions) => {
    const chunkSize = positiveInteger('--chunk-size', options.chunkSize);
    const maxParallelChunks = positiveInteger('--max-parallel', options.maxParallel ?? '8');
    const params = options.params ? parseRuntimeParams(options.params) : undefined;
    const runtimeParams = options.runtimeParams ? parseRuntimeParams(options.runtimeParams) : {};
    const hasLocalProject = await checkDatasets(options, runtimeParams);
    await withTemporalClient(options, async (client) => {
      const handle = await startBatchScoring(client, {
        modelUri: options.modelUri,
        input: options.input,
        output: options.output,
        env: options.env,
        runtimeParams,
        chunkSize,
        maxParallelChunks,
        keepParts: Boolean(options.keepParts),
        ...(hasLocalProject ? { projectDir: options.project } : {}),
        ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
        ...(params ? { params } : {}),
        ...(options.workflowId ? { workflowId: options.workflowId } : {}),
      });
      console.log(`Temporal workflow: ${temporalWorkflowUrl(handle.workflowId)}`);
      if (!options.wait) return;
      const progress = createRowProgress(`score ${options.input}`);
      const polling = pollEvery(500, async () => {
        const state = await handle.progress();
        if (state.totalRows > 0) progress.update(state.rowsDone, state.totalRows);
      });
      try {
        const result = await handle.result();
        progress.update(result.rows, result.rows);
        progress.stop();
        const resumed = result.chunksSkipped
          ? ` (${result.chunksSkipped} chunk(s) already scored by an earlier run)`
          : '';
        console.log(
          `Scored ${result.rows} rows of '${result.input}' into '${result.output}' in ${result.chunks} chunk(s), ${(result.durationMs / 1000).toFixed(1)} s${resumed}.`,
        );
      } catch (error) {
        if (error instanceof WorkflowFailedError) {
          throw new BatchScoringFailedError(
            `${error.cause?.message ?? error.message}\nResume with --workflow-id ${handle.workflowId}.`,
            { cause: error },
          );
        }
        throw error;
      } finally {
        await polling.stop();
        progress.stop();
      }
    });
  });
}
