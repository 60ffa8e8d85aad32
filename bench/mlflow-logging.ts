/**
 * MLflow logging benchmark against the real tracking server:
 *   - 10,000 metrics (10 keys × 1,000 steps) through chunked log-batch (target ≤ 5 s),
 *   - 1,000 params,
 *   - a 200 MB artifact uploaded (and downloaded back) with streaming: the RSS increase while it
 *     runs is sampled every 50 ms (target ≤ 100 MB).
 * Run: node --import tsx bench/mlflow-logging.ts   (MLFLOW_TRACKING_URI, else .local/services.env)
 * Writes bench/results/mlflow-logging.json.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MlflowClient } from '../src/mlflow/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MB = 1024 * 1024;
const FILE_MB = 200;

import { serviceAddress } from '../test/support/services.js';
const trackingUri = (): string => serviceAddress('MLFLOW_TRACKING_URI');

/** Peak RSS above the baseline while `work` runs, sampled every 50 ms. */
async function withRssSampling<T>(
  work: () => Promise<T>,
): Promise<{ result: T; baselineMb: number; peakIncreaseMb: number }> {
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, baselineMb: baseline / MB, peakIncreaseMb: (peak - baseline) / MB };
  } finally {
    clearInterval(timer);
  }
}

async function writeBigFile(path: string, sizeMb: number): Promise<void> {
  const chunk = Buffer.alloc(MB);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) % 251;
  const out = createWriteStream(path);
  for (let i = 0; i < sizeMb; i++) {
    chunk[0] = i % 256; // vary the content a little
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const client = new MlflowClient({ trackingUri: trackingUri() });
  const experiment = await client.experiments.getOrCreate(`bench-mlflow-logging-${Date.now()}`);
  const run = await client.runs.create({
    experimentId: experiment.experiment_id,
    runName: 'bench',
  });
  const runId = run.info.run_id;

  const metrics = Array.from({ length: 10_000 }, (_, i) => ({
    key: `metric_${i % 10}`,
    value: Math.sin(i),
    step: Math.floor(i / 10),
  }));
  let started = performance.now();
  await client.runs.logBatch(runId, { metrics });
  const metricsMs = performance.now() - started;

  const params = Array.from({ length: 1_000 }, (_, i) => ({
    key: `param_${i}`,
    value: `value-${i}`,
  }));
  started = performance.now();
  await client.runs.logBatch(runId, { params });
  const paramsMs = performance.now() - started;

  const check = await client.runs.getMetricHistory(runId, 'metric_3');
  if (check.length !== 1000)
    throw new Error(`expected 1000 values of metric_3, found ${check.length}`);

  const work = join(tmpdir(), `mlflow-bench-${process.pid}`);
  await mkdir(work, { recursive: true });
  const file = join(work, 'big.bin');
  await writeBigFile(file, FILE_MB);
  const bytes = (await stat(file)).size;

  started = performance.now();
  const upload = await withRssSampling(() => client.artifacts.uploadFile(runId, file, 'bench'));
  const uploadMs = performance.now() - started;

  const back = join(work, 'back.bin');
  started = performance.now();
  const download = await withRssSampling(() =>
    client.artifacts.downloadFile(runId, 'bench/big.bin', back),
  );
  const downloadMs = performance.now() - started;
  const backBytes = (await stat(back)).size;
  if (backBytes !== bytes) throw new Error(`downloaded ${backBytes} bytes, expected ${bytes}`);
  await rm(work, { recursive: true, force: true });
  await client.runs.end(runId);

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    trackingUri: client.trackingUri,
    runId,
    metrics: {
      count: metrics.length,
      elapsedMs: round(metricsMs),
      perSecond: Math.round(metrics.length / (metricsMs / 1000)),
      targetMs: 5000,
    },
    params: {
      count: params.length,
      elapsedMs: round(paramsMs),
      perSecond: Math.round(params.length / (paramsMs / 1000)),
    },
    upload: {
      sizeMb: bytes / MB,
      elapsedMs: round(uploadMs),
      throughputMbPerS: round(bytes / MB / (uploadMs / 1000)),
      baselineRssMb: round(upload.baselineMb),
      peakRssIncreaseMb: round(upload.peakIncreaseMb),
      targetPeakRssIncreaseMb: 100,
    },
    download: {
      sizeMb: bytes / MB,
      elapsedMs: round(downloadMs),
      throughputMbPerS: round(bytes / MB / (downloadMs / 1000)),
      peakRssIncreaseMb: round(download.peakIncreaseMb),
    },
  };
  const pass = metricsMs <= 5000 && upload.peakIncreaseMb <= 100;
  console.log(
    `metrics : ${results.metrics.count} in ${results.metrics.elapsedMs} ms (${results.metrics.perSecond}/s; target ≤ 5000 ms)`,
  );
  console.log(
    `params  : ${results.params.count} in ${results.params.elapsedMs} ms (${results.params.perSecond}/s)`,
  );
  console.log(
    `upload  : ${results.upload.sizeMb} MB in ${results.upload.elapsedMs} ms (${results.upload.throughputMbPerS} MB/s), ` +
      `peak RSS +${results.upload.peakRssIncreaseMb} MB (target ≤ 100 MB)`,
  );
  console.log(
    `download: ${results.download.sizeMb} MB in ${results.download.elapsedMs} ms (${results.download.throughputMbPerS} MB/s), ` +
      `peak RSS +${results.download.peakRssIncreaseMb} MB`,
  );
  console.log(pass ? 'targets met' : 'TARGETS MISSED');
  const out = join(root, 'bench', 'results', 'mlflow-logging.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ ...results, targetsMet: pass }, null, 2)}\n`);
  if (!pass) process.exitCode = 1;
}

await main();
