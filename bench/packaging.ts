/**
 * Packaging and predict benchmark on the example project (examples/support-tickets), against the
 * real MLflow server:
 *   - packaging the inference pipeline as an MLflow model (logPipelineModel), broken down by stage
 *     (create, artifacts, bundle, verify, upload, finalize, register), median of 3 repetitions;
 *     target: bundle + upload + register ≤ 3 s;
 *   - `predict` latency after `loadModel`: 1 record (median of 200 calls, target ≤ 1 ms) and 10,000
 *     records (median of 10 calls, target ≤ 200 ms).
 * Run: node --import tsx bench/packaging.ts   (MLFLOW_TRACKING_URI, else .local/services.env)
 * Each repetition logs to its own run of the `temporal-mlflow-bench` experiment and registers a
 * version of `temporal-mlflow-bench-router` (the example's own registered model is left alone).
 * Writes bench/results/packaging.json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MlflowClient } from '../src/mlflow/client.js';
import { loadModel } from '../src/model/load-model.js';
import { logPipelineModel, type PackagingStage } from '../src/model/log-model.js';
import { isPipelineMl } from '../src/model/pipeline-ml.js';
import { runPipelineLocally } from '../src/runner/local-runner.js';
import { Session } from '../src/session.js';
import { median, writeResults } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const exampleDir = join(root, 'examples', 'support-tickets');
const REPETITIONS = 3;
const ONE_RECORD_RUNS = 200;
const MANY_RECORDS = 10_000;
const MANY_RECORDS_RUNS = 10;
const STAGES: PackagingStage[] = [
  'create',
  'artifacts',
  'bundle',
  'verify',
  'upload',
  'finalize',
  'register',
];
const TARGETS = { packagingMs: 3_000, predict1Ms: 1, predict10kMs: 200 };

import { serviceAddress } from '../test/support/services.js';
const trackingUri = (): string => serviceAddress('MLFLOW_TRACKING_URI');

const round = (ms: number, digits = 1): number => Number(ms.toFixed(digits));

/** 10,000 tickets from the example's 600: repeated, with new ids and the words of each body rotated. */
function manyTickets(
  tickets: readonly Record<string, unknown>[],
  count: number,
): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const ticket = tickets[i % tickets.length]!;
    const words = String(ticket.body).split(' ');
    const shift = Math.floor(i / tickets.length) % Math.max(1, words.length);
    return {
      ticket_id: `B${String(i).padStart(5, '0')}`,
      subject: ticket.subject,
      body: [...words.slice(shift), ...words.slice(0, shift)].join(' '),
    };
  });
}

async function timeCalls(count: number, call: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}

async function main(): Promise<void> {
  process.env.MLFLOW_TRACKING_URI = trackingUri();
  const client = new MlflowClient({ trackingUri: process.env.MLFLOW_TRACKING_URI });
  const session = await Session.open({ projectDir: exampleDir });
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered))
    throw new Error('the example __default__ pipeline is not a PipelineML');

  // The fitted artifacts packaging copies: fit them once with the local runner (no tracking).
  const fitStarted = performance.now();
  await runPipelineLocally({
    pipeline: registered.training.toOutputs('vocabulary', 'classifier'),
    catalog: session.catalog,
    run: {
      runId: 'bench-packaging',
      pipelineName: '__default__',
      env: 'local',
      projectDir: exampleDir,
      runtimeParams: {},
    },
  });
  console.log(
    `fitted vocabulary and classifier in ${(performance.now() - fitStarted).toFixed(0)} ms`,
  );

  const experiment = await client.experiments.getOrCreate('temporal-mlflow-bench');
  const repetitions: Record<PackagingStage, number>[] = [];
  const totals: number[] = [];
  let modelUri = '';
  for (let rep = 0; rep < REPETITIONS; rep++) {
    const run = await client.runs.create({
      experimentId: experiment.experiment_id,
      runName: `bench-packaging-${rep}`,
    });
    const stages = Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<
      PackagingStage,
      number
    >;
    const started = performance.now();
    const ref = await logPipelineModel({
      session,
      client,
      pipelineName: '__default__',
      pipelineMl: registered,
      runId: run.info.run_id,
      packagingKey: `bench-${run.info.run_id}`,
      registeredModelName: 'temporal-mlflow-bench-router',
      alias: 'champion',
      onStage: (stage, ms) => (stages[stage] += ms),
    });
    totals.push(performance.now() - started);
    await client.runs.end(run.info.run_id, 'FINISHED');
    repetitions.push(stages);
    modelUri = ref.modelUri;
    console.log(
      `repetition ${rep + 1}: ${totals.at(-1)!.toFixed(0)} ms (${STAGES.map((s) => `${s} ${stages[s].toFixed(0)}`).join(', ')})`,
    );
  }
  const stageMedians = Object.fromEntries(
    STAGES.map((stage) => [stage, round(median(repetitions.map((r) => r[stage])))]),
  ) as Record<PackagingStage, number>;
  const packagingMs = round(median(repetitions.map((r) => r.bundle + r.upload + r.register)));
  const totalMs = round(median(totals));

  // Predict latency, after loading the last logged model from MLflow (downloaded to a fresh cache).
  const cacheDir = await mkdtemp(join(tmpdir(), 'tm-bench-cache-'));
  const loadStarted = performance.now();
  const model = await loadModel(modelUri, { client, cacheDir });
  const loadMs = performance.now() - loadStarted;
  const tickets = (await session.catalog.load('instances')) as Record<string, unknown>[];
  const one = [tickets[0]!];
  const many = manyTickets(tickets, MANY_RECORDS);
  for (let i = 0; i < 50; i++) await model.predict(one); // warm-up
  for (let i = 0; i < 2; i++) await model.predict(many);
  const oneTimes = await timeCalls(ONE_RECORD_RUNS, () => model.predict(one));
  const manyTimes = await timeCalls(MANY_RECORDS_RUNS, () => model.predict(many));
  const answers = (await model.predict(many)) as unknown[];
  if (answers.length !== MANY_RECORDS)
    throw new Error(`predict returned ${answers.length} answers for ${MANY_RECORDS} records`);
  await rm(cacheDir, { recursive: true, force: true });

  const predict1Ms = round(median(oneTimes), 3);
  const predict10kMs = round(median(manyTimes));
  const rows = [
    ...STAGES.map((stage) => ({
      measure: `packaging: ${stage}`,
      median: `${stageMedians[stage]} ms`,
      target: '',
    })),
    {
      measure: 'packaging: bundle + upload + register',
      median: `${packagingMs} ms`,
      target: `≤ ${TARGETS.packagingMs} ms ${packagingMs <= TARGETS.packagingMs ? 'met' : 'MISSED'}`,
    },
    { measure: 'packaging: total (logPipelineModel)', median: `${totalMs} ms`, target: '' },
    {
      measure: 'loadModel (download + import + artifacts)',
      median: `${round(loadMs)} ms (once)`,
      target: '',
    },
    {
      measure: `predict, 1 record (${ONE_RECORD_RUNS} calls)`,
      median: `${predict1Ms} ms`,
      target: `≤ ${TARGETS.predict1Ms} ms ${predict1Ms <= TARGETS.predict1Ms ? 'met' : 'MISSED'}`,
    },
    {
      measure: `predict, ${MANY_RECORDS.toLocaleString('en')} records (${MANY_RECORDS_RUNS} calls)`,
      median: `${predict10kMs} ms`,
      target: `≤ ${TARGETS.predict10kMs} ms ${predict10kMs <= TARGETS.predict10kMs ? 'met' : 'MISSED'}`,
    },
  ];
  console.table(rows);

  writeResults('packaging', {
    trackingUri: client.trackingUri,
    project: 'examples/support-tickets',
    repetitions: REPETITIONS,
    packaging: {
      stageMediansMs: stageMedians,
      bundleUploadRegisterMs: packagingMs,
      totalMs,
      perRepetitionMs: repetitions.map((r, i) => ({
        ...Object.fromEntries(STAGES.map((s) => [s, round(r[s])])),
        total: round(totals[i]!),
      })),
      targetMs: TARGETS.packagingMs,
      met: packagingMs <= TARGETS.packagingMs,
    },
    loadModelMs: round(loadMs),
    predict: {
      oneRecord: {
        runs: ONE_RECORD_RUNS,
        medianMs: predict1Ms,
        p90Ms: round([...oneTimes].sort((a, b) => a - b)[Math.floor(ONE_RECORD_RUNS * 0.9)]!, 3),
        targetMs: TARGETS.predict1Ms,
        met: predict1Ms <= TARGETS.predict1Ms,
      },
      tenThousandRecords: {
        runs: MANY_RECORDS_RUNS,
        medianMs: predict10kMs,
        minMs: round(Math.min(...manyTimes)),
        targetMs: TARGETS.predict10kMs,
        met: predict10kMs <= TARGETS.predict10kMs,
      },
    },
  });
}

await main();
