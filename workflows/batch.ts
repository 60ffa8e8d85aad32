import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities/index.js';
import type {
  BatchPlan,
  BatchScoringInput,
  BatchScoringProgress,
  BatchScoringResult,
  ScoreChunkInput,
} from '../src/batch/types.js';
import { DEFAULT_CONFIG_ENV } from '../src/constants.js';
import { describeFailure } from './dag.js';
import { batchProgressQuery } from './definitions.js';
import { onRightWorker } from './right-worker.js';

export { batchProgressQuery } from './definitions.js';

const DEFAULT_PARALLEL_CHUNKS = 8;

// Planning may download the model: a regular activity with heartbeats.
const { planBatchScoring } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '60 seconds',
  retry: { maximumAttempts: 5 },
});
const { finishBatchScoring } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '60 seconds',
  retry: { maximumAttempts: 5 },
});

/** Rows a–b as people count them (1-based, inclusive). */
const rowsLabel = (start: number, end: number): string => `score rows ${start + 1}–${end}`;

/**
 * Scores a catalog dataset with a model, durably: a plan activity counts the input's rows and
 * pins the model; one activity per chunk of rows predicts and writes its part file (a part that
 * exists is skipped, so a re-run with the same workflow id resumes); a final activity concatenates
 * the parts in order and saves them through the catalog. Parts are kept when the run fails.
 */
export async function batchScoringWorkflow(input: BatchScoringInput): Promise<BatchScoringResult> {
  const { workflowId, startTime } = workflowInfo();
  const progress: BatchScoringProgress = {
    state: 'planning',
    modelUri: input.modelUri,
    input: input.input,
    output: input.output,
    totalRows: 0,
    rowsDone: 0,
    totalChunks: 0,
    chunksDone: 0,
    chunksSkipped: 0,
    running: [],
  };
  setHandler(batchProgressQuery, () => progress);
  const showDetails = (): void => setCurrentDetails(detailsMarkdown(progress));
  showDetails();

  const env = input.env ?? DEFAULT_CONFIG_ENV;
  const runtimeParams = input.runtimeParams ?? {};
  try {
    const plan: BatchPlan = await onRightWorker(() => planBatchScoring({ ...input, workflowId }));
    progress.modelUri = plan.modelUri;
    progress.totalRows = plan.numRows;
    progress.totalChunks = plan.chunkCount;
    progress.state = 'scoring';
    showDetails();

    let next = 0;
    let computed = 0;
    const lane = async (): Promise<void> => {
      while (next < plan.chunkCount) {
        const index = next++;
        const rowStart = index * plan.chunkSize;
        const rowEnd = Math.min(plan.numRows, rowStart + plan.chunkSize);
        const summary = rowsLabel(rowStart, rowEnd);
        const args: ScoreChunkInput = {
          runDir: plan.runDir,
          modelUri: plan.modelUri,
          input: input.input,
          env,
          ...(input.identity ? { identity: input.identity } : {}),
          runtimeParams,
          index,
          rowStart,
          rowEnd,
          ...(input.params ? { params: input.params } : {}),
        };
        progress.running.push(summary);
        showDetails();
        try {
          // One proxy per chunk: its summary names the rows in the UI.
          const { scoreChunk } = proxyActivities<BatchActivities>({
            startToCloseTimeout: input.chunkTimeoutMs ?? 30 * 60_000,
            heartbeatTimeout: '60 seconds',
            retry: {
              maximumAttempts: input.chunkAttempts ?? 5,
              initialInterval: '1 second',
              backoffCoefficient: 2,
            },
            summary,
          });
          const result = await onRightWorker(() => scoreChunk(args));
          progress.chunksDone++;
          progress.rowsDone += result.rows;
          if (result.skipped) progress.chunksSkipped++;
          else computed++;
        } finally {
          progress.running = progress.running.filter((label) => label !== summary);
          showDetails();
        }
      }
    };
    const lanes = Math.max(
      1,
      Math.min(input.maxParallelChunks ?? DEFAULT_PARALLEL_CHUNKS, plan.chunkCount),
    );
    const scope = new CancellationScope();
    await scope.run(async () => {
      try {
        await Promise.all(Array.from({ length: lanes }, lane));
      } catch (error) {
        // Stop the other lanes' chunks: the run fails (its finished parts stay for a re-run).
        scope.cancel();
        throw error;
      }
    });

    progress.state = 'saving';
    showDetails();
    const saved = await onRightWorker(() =>
      finishBatchScoring({
        runDir: plan.runDir,
        output: input.output,
        env,
        ...(input.identity ? { identity: input.identity } : {}),
        runtimeParams,
        chunkCount: plan.chunkCount,
        keepParts: input.keepParts ?? false,
      }),
    );
    progress.state = 'completed';
    return {
      modelUri: plan.modelUri,
      input: input.input,
      output: input.output,
      rows: saved.rows,
      chunks: plan.chunkCount,
      chunksComputed: computed,
      chunksSkipped: progress.chunksSkipped,
      durationMs: Date.now() - startTime.getTime(),
    };
  } catch (error) {
    progress.state = isCancellation(error) ? 'cancelled' : 'failed';
    progress.error = describeFailure(error);
    if (isCancellation(error)) throw error;
    throw ApplicationFailure.create({
      type: 'BatchScoringFailed',
      message: `Batch scoring of '${input.input}' with ${input.modelUri} failed: ${progress.error}`,
      nonRetryable: true,
      cause: error as Error,
    });
  } finally {
    showDetails();
  }
}

function detailsMarkdown(progress: BatchScoringProgress): string {
  const lines = [
    `**${progress.input} → ${progress.output}** — ${progress.state}, ${progress.rowsDone} of ${progress.totalRows} rows, ${progress.chunksDone} of ${progress.totalChunks} chunks` +
      (progress.chunksSkipped ? ` (${progress.chunksSkipped} already scored)` : ''),
    `Model: \`${progress.modelUri}\``,
  ];
  if (progress.running.length > 0)
    lines.push(`Running: ${progress.running.slice(0, 20).join(', ')}`);
  if (progress.error) lines.push(`Error: ${progress.error.slice(0, 2_000)}`);
  return lines.join('\n\n');
}
