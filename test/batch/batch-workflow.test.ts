/**
 * The batch scoring workflow on the real dev server: a catalog dataset scored in chunk activities
 * into another gives what `model.predict` gives on the whole dataset; a re-run with the same id
 * recomputes only the parts that are missing; a bad model URI fails at once, non-retryably, naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startBatchScoring, type StartBatchScoringOptions } from '../../src/batch/client.js';
import { runFolder } from '../../src/batch/run-folder.js';
import { buildProgram } from '../../src/cli/main.js';
import { ParquetDataset } from '../../src/datasets/parquet-dataset.js';
import { services } from '../support/services.js';
import { startHarness, type TemporalHarness } from '../support/temporal.js';
import {
  batchProject,
  makeTickets,
  packageExampleModel,
  readJson,
  tempDir,
  writeTicketsCsv,
  type ExampleModel,
} from './support.js';

const ROWS = 2_345;

let harness: TemporalHarness;
let storeDir: string;
let dataDir: string;
let example: ExampleModel;
let expected: unknown[];

beforeAll(async () => {
  const workDir = await tempDir('tm-batch-wf-');
  storeDir = join(workDir, 'store');
  dataDir = join(workDir, 'data');
  example = await packageExampleModel(workDir);
  const tickets = makeTickets(example.tickets, ROWS);
  await writeTicketsCsv(join(dataDir, 'tickets.csv'), tickets);
  await new ParquetDataset({
    filepath: join(dataDir, 'tickets.parquet'),
    saveArgs: { row_group_size: 400 },
  }).save(tickets as unknown as Record<string, unknown>[]);
  expected = (await example.model.predict(tickets)) as unknown[];
  harness = await startHarness({ projectDir: batchProject, storeDir });
}, 180_000);

afterAll(async () => harness?.close());

const options = (overrides: Partial<StartBatchScoringOptions> = {}): StartBatchScoringOptions => ({
  modelUri: example.modelDir,
  input: 'tickets',
  output: 'scored_tickets',
  runtimeParams: { batch_dir: dataDir },
  chunkSize: 250,
  taskQueue: harness.taskQueue,
  ...overrides,
});

describe('batchScoringWorkflow', () => {
  it('scores a CSV dataset into a JSON dataset, one activity per chunk, equal to model.predict', async () => {
    const handle = await startBatchScoring(harness.client, options());
    const result = await handle.result();
    expect(result).toMatchObject({
      rows: ROWS,
      chunks: 10,
      chunksComputed: 10,
      chunksSkipped: 0,
      modelUri: example.modelDir,
    });
    expect(await readJson(join(dataDir, 'scored.json'))).toEqual(expected);
    expect(await handle.progress()).toMatchObject({
      state: 'completed',
      rowsDone: ROWS,
      totalRows: ROWS,
      chunksDone: 10,
      totalChunks: 10,
      running: [],
    });

    // One activity per chunk, named by its rows; no record went through the history.
    const history = await handle.handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter(
        (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'scoreChunk',
      )
      .map(
        (event) =>
          event.userMetadata?.summary?.data &&
          Buffer.from(event.userMetadata.summary.data).toString('utf8'),
      );
    expect(summaries).toHaveLength(10);
    expect(summaries).toContain('"score rows 1–250"');
    expect(summaries).toContain('"score rows 2251–2345"');
    expect(proto.temporal.api.history.v1.History.encode(history).finish().length).toBeLessThan(
      100 * 1024,
    );
    // The run folder is removed once the output is saved.
    await expect(
      stat(runFolder(join(storeDir, '.batch-scoring'), handle.workflowId)),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('scores a Parquet dataset by row ranges into a Parquet dataset', async () => {
    const handle = await startBatchScoring(
      harness.client,
      options({
        input: 'tickets_parquet',
        output: 'scored_parquet',
        chunkSize: 600,
        maxParallelChunks: 2,
      }),
    );
    const result = await handle.result();
    expect(result).toMatchObject({ rows: ROWS, chunks: 4, chunksComputed: 4 });
    expect(await new ParquetDataset({ filepath: join(dataDir, 'scored.parquet') }).load()).toEqual(
      expected,
    );
  });

  it('re-run with the same workflow id after deleting one part recomputes only that part', async () => {
    const workflowId = `batch-resume-${Date.now()}`;
    const first = await (
      await startBatchScoring(harness.client, options({ workflowId, keepParts: true }))
    ).result();
    expect(first).toMatchObject({ chunksComputed: 10, chunksSkipped: 0 });
    const runDir = runFolder(join(storeDir, '.batch-scoring'), workflowId);
    const parts = (await readdir(runDir)).filter((name) => name.startsWith('part-')).sort();
    expect(parts).toHaveLength(10);
    const mtimes = new Map(
      await Promise.all(
        parts.map(async (name) => [name, (await stat(join(runDir, name))).mtimeMs] as const),
      ),
    );
    await rm(join(runDir, parts[3]!));
    await rm(join(dataDir, 'scored.json'));

    const second = await (
      await startBatchScoring(harness.client, options({ workflowId, keepParts: true }))
    ).result();
    expect(second).toMatchObject({ rows: ROWS, chunks: 10, chunksComputed: 1, chunksSkipped: 9 });
    for (const name of parts) {
      const mtime = (await stat(join(runDir, name))).mtimeMs;
      if (name === parts[3]) expect(mtime).toBeGreaterThan(mtimes.get(name)!);
      else expect(mtime).toBe(mtimes.get(name));
    }
    expect(await readJson(join(dataDir, 'scored.json'))).toEqual(expected);

    // Other inputs under the same id (another chunk size) discard the old parts instead of mixing them.
    const third = await (
      await startBatchScoring(harness.client, options({ workflowId, chunkSize: 1_000 }))
    ).result();
    expect(third).toMatchObject({ chunks: 3, chunksComputed: 3, chunksSkipped: 0 });
    expect(await readJson(join(dataDir, 'scored.json'))).toEqual(expected);
  });

  it('fails at once with a clear non-retryable error for a bad model URI', async () => {
    const missing = join(dataDir, 'no-such-model');
    const handle = await startBatchScoring(harness.client, options({ modelUri: missing }));
    const started = Date.now();
    const error = await handle.result().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure?.message).toContain(
      `Cannot load model '${missing}': no MLflow model folder there`,
    );
    const activity = failure?.cause as ActivityFailure | undefined;
    expect(activity).toBeInstanceOf(ActivityFailure);
    expect(activity?.cause).toMatchObject({ type: 'ModelLoadError', nonRetryable: true });
    expect(await handle.progress()).toMatchObject({ state: 'failed' });
    // Planned once: a non-retryable failure is not attempted again.
    const history = await handle.handle.fetchHistory();
    const attempts = (history.events ?? [])
      .filter((event) => event.activityTaskStartedEventAttributes)
      .map((event) => event.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([1]);
  });

  it('runs from the CLI: temporal-mlflow batch-predict --wait', async () => {
    await rm(join(dataDir, 'scored.json'), { force: true });
    await buildProgram().parseAsync([
      'node',
      'temporal-mlflow',
      'batch-predict',
      '-m',
      example.modelDir,
      '--input',
      'tickets',
      '--output',
      'scored_tickets',
      '--chunk-size',
      '1000',
      '--wait',
      '--project',
      batchProject,
      '--runtime-params',
      `batch_dir=${dataDir}`,
      '--address',
      services().TEMPORAL_ADDRESS,
      '--task-queue',
      harness.taskQueue,
    ]);
    expect(await readJson(join(dataDir, 'scored.json'))).toEqual(expected);
    // A dataset the local project does not have is refused before anything starts.
    await expect(
      buildProgram().parseAsync([
        'node',
        'temporal-mlflow',
        'batch-predict',
        '-m',
        example.modelDir,
        '--input',
        'tickets',
        '--output',
        'nope',
        '--project',
        batchProject,
        '--task-queue',
        harness.taskQueue,
      ]),
    ).rejects.toThrow("Dataset 'nope' is not in the catalog");
  });

  it('names an unknown dataset with the catalog error', async () => {
    const handle = await startBatchScoring(harness.client, options({ output: 'scored_tickts' }));
    const error = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(error.cause?.message).toContain(
      "Dataset 'scored_tickts' not found in the catalog. Did you mean 'scored_tickets'?",
    );
  });
});
