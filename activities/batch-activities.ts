import { temporalActivity } from '../src/temporal/lazy-modules.js';
import { createHash } from 'node:crypto';
import {
  BatchInputError,
  coarsen,
  describeSource,
  readChunk,
} from '../src/batch/dataset-chunks.js';
import { ModelCache, pinModelUri } from '../src/batch/model-cache.js';
import {
  partExists,
  prepareRunFolder,
  readManifest,
  readPart,
  removeRunFolder,
  runFolder,
  writePart,
} from '../src/batch/run-folder.js';
import { DEFAULT_CHUNK_SIZE } from '../src/batch/stream-predict.js';
import type {
  BatchPlan,
  BatchScoringInput,
  FinishBatchInput,
  ScoreChunkInput,
  ScoreChunkResult,
} from '../src/batch/types.js';
import { DEFAULT_CONFIG_ENV } from '../src/constants.js';
import { DatasetNotFoundError } from '../src/datasets/errors.js';
import type { Session } from '../src/session.js';
import { classifyFailures } from './failures.js';
import { assertServes, type RunIdentity } from '../src/temporal/identity.js';
import type { SessionCache } from './session-cache.js';
import { heartbeatPeriod } from './training-activities.js';

/** Chunks per run at most: bigger inputs get bigger chunks, so the workflow history stays small. */
export const MAX_CHUNKS = 2_000;

/** What the batch scoring activities need from the worker that hosts them. */
export interface BatchActivityDeps {
  sessions: SessionCache;
  /** The configuration environment this worker serves. */
  env: string;
  /** Folder of run folders (parts); every worker of a run must share it. */
  batchDir: string;
  heartbeatIntervalMs: number;
  /** Models by URI, loaded once per worker process. @default a new ModelCache */
  models?: ModelCache;
}

/** Runs `body` with a heartbeat every period (so a dead worker or a cancellation is noticed). */
async function heartbeating<T>(intervalMs: number, body: () => Promise<T>): Promise<T> {
  const activity = temporalActivity().Context.current();
  const timer = setInterval(
    () => activity.heartbeat(),
    heartbeatPeriod(intervalMs, activity.info.heartbeatTimeoutMs),
  );
  try {
    return await body();
  } finally {
    clearInterval(timer);
  }
}

function fingerprint(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The activities of the batch scoring workflow (plan → one per chunk → finish), built from their
 * dependencies. Records and predictions never pass through Temporal: chunks read their rows from
 * the input and write their predictions as part files in the run's folder.
 */
export function createBatchActivities(deps: BatchActivityDeps) {
  const models = deps.models ?? new ModelCache();
  /** The run's session once this worker is known to serve it (else the task is handed back). */
  const sessionFor = async (
    env: string,
    runtimeParams: Record<string, unknown>,
    identity: Partial<RunIdentity> | undefined,
  ): Promise<Session> => {
    const session = await deps.sessions.get(deps.env, env === deps.env ? runtimeParams : {});
    assertServes(session, { ...identity, env });
    return session;
  };
  const datasetOf = (session: Session, name: string) => {
    const dataset = session.catalog.getDataset(name);
    if (!dataset) {
      // The catalog's own error names close matches and the known datasets.
      return session.catalog.load(name).then(() => {
        throw new DatasetNotFoundError(`Dataset '${name}' not found in the catalog.`, {
          dataset: name,
        });
      });
    }
    return Promise.resolve(dataset);
  };

  return {
    /**
     * Checks the datasets, pins and loads the model, scans the input (row count, chunk layout)
     * and prepares the run's folder: parts of an earlier run with the same inputs are kept.
     */
    async planBatchScoring(input: BatchScoringInput & { workflowId: string }): Promise<BatchPlan> {
      return heartbeating(deps.heartbeatIntervalMs, () =>
        classifyFailures(async () => {
          const env = input.env ?? DEFAULT_CONFIG_ENV;
          const runtimeParams = input.runtimeParams ?? {};
          const session = await sessionFor(env, runtimeParams, input.identity);
          const dataset = await datasetOf(session, input.input);
          await datasetOf(session, input.output);
          const requested = input.chunkSize ?? DEFAULT_CHUNK_SIZE;
          if (!Number.isInteger(requested) || requested < 1)
            throw new BatchInputError(`chunkSize must be a positive integer, got ${requested}.`);
          const modelUri = await pinModelUri(
            input.modelUri,
            session.mlflowClient ? { client: session.mlflowClient } : {},
          );
          await models.get(modelUri);
          const source = await describeSource(dataset, input.input, requested);
          const factor = Math.max(1, Math.ceil(Math.ceil(source.numRows / requested) / MAX_CHUNKS));
          const chunkSize = requested * factor;
          const layout = coarsen(source.layout, factor);
          const chunkCount = Math.ceil(source.numRows / chunkSize);
          const runDir = runFolder(deps.batchDir, input.workflowId);
          const print = fingerprint([
            modelUri,
            input.input,
            input.output,
            env,
            runtimeParams,
            input.params ?? {},
            chunkSize,
            source.version,
          ]);
          const { reused } = await prepareRunFolder(runDir, {
            fingerprint: print,
            layout,
            numRows: source.numRows,
            chunkSize,
            createdAt: new Date().toISOString(),
          });
          temporalActivity().Context.current().log.info('batch scoring planned', {
            modelUri,
            rows: source.numRows,
            chunks: chunkCount,
            chunkSize,
            reusedParts: reused,
          });
          return {
            modelUri,
            numRows: source.numRows,
            chunkSize,
            chunkCount,
            runDir,
            reader: layout.reader,
          };
        }),
      );
    },

    /** Scores rows [rowStart, rowEnd) into the chunk's part; a chunk whose part exists is skipped. */
    async scoreChunk(input: ScoreChunkInput): Promise<ScoreChunkResult> {
      const started = Date.now();
      return heartbeating(deps.heartbeatIntervalMs, () =>
        classifyFailures(async () => {
          if (await partExists(input.runDir, input.index)) {
            return {
              index: input.index,
              rows: input.rowEnd - input.rowStart,
              skipped: true,
              durationMs: Date.now() - started,
            };
          }
          const manifest = await readManifest(input.runDir);
          if (!manifest)
            throw new Error(
              `The run folder ${input.runDir} has no manifest: the plan activity did not run on a disk this worker shares.`,
            );
          const session = await sessionFor(input.env, input.runtimeParams, input.identity);
          const dataset = await datasetOf(session, input.input);
          const [model, rows] = await Promise.all([
            models.get(input.modelUri),
            readChunk(
              manifest.layout,
              dataset,
              input.input,
              manifest.fingerprint,
              input.index,
              input.rowStart,
              input.rowEnd,
            ),
          ]);
          const predictions = await Promise.race([
            model.predict(rows, input.params),
            temporalActivity().Context.current().cancelled,
          ]);
          if (!Array.isArray(predictions) || predictions.length !== rows.length) {
            const got = Array.isArray(predictions)
              ? `${predictions.length} predictions`
              : typeof predictions;
            throw new BatchInputError(
              `The model returned ${got} for ${rows.length} records: batch scoring needs one prediction per record.`,
            );
          }
          await writePart(input.runDir, input.index, predictions);
          return {
            index: input.index,
            rows: rows.length,
            skipped: false,
            durationMs: Date.now() - started,
          };
        }),
      );
    },

    /** Concatenates the parts in order, saves them through the catalog, then removes the run folder. */
    async finishBatchScoring(input: FinishBatchInput): Promise<{ rows: number }> {
      return heartbeating(deps.heartbeatIntervalMs, () =>
        classifyFailures(async () => {
          const session = await sessionFor(input.env, input.runtimeParams, input.identity);
          const rows: unknown[] = [];
          for (let index = 0; index < input.chunkCount; index++) {
            if (!(await partExists(input.runDir, index))) {
              throw new BatchInputError(
                `Part ${index} is missing from ${input.runDir}: run the workflow again with the same id to recompute it.`,
              );
            }
            await readPart(input.runDir, index, rows);
          }
          await session.catalog.save(input.output, rows);
          if (!input.keepParts) await removeRunFolder(input.runDir);
          return { rows: rows.length };
        }),
      );
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
