/**
 * Streaming predict benchmark: 1,000,000 support tickets (the example's texts with new ids) scored
 * by the example's model, CSV in → JSON Lines out, in chunks of 10,000, in a child process whose
 * peak RSS (the kernel's maxRSS) is reported with rows/s. For comparison, the same file scored the
 * old way (whole file loaded, one predict call, one JSON array written) in another child.
 * Run: node --import tsx bench/batch-predict.ts [--rows 1000000] [--chunk-size 10000] [--model <dir>] [--no-whole]
 * Writes bench/results/batch-predict.json. Needs no server (the model is packaged locally).
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { streamPredict } from '../src/batch/stream-predict.js';
import { CSVDataset } from '../src/datasets/csv-dataset.js';
import { loadModel } from '../src/model/load-model.js';
import { packageExampleModel } from '../test/support/example-model.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const exampleDir = join(root, 'examples', 'support-tickets');
const MB = 1024 * 1024;

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

interface ChildReport {
  mode: 'streaming' | 'whole';
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  peakRssMb: number;
  /** RSS after the model is loaded, before scoring starts. */
  baselineRssMb: number;
}

/** In a child: score the file and report (the child's maxRSS is this run's alone). */
async function child(
  mode: 'streaming' | 'whole',
  modelDir: string,
  input: string,
  output: string,
  chunkSize: number,
): Promise<void> {
  const model = await loadModel(modelDir);
  const baselineRssMb = process.memoryUsage().rss / MB;
  const started = performance.now();
  let rows: number;
  if (mode === 'streaming') {
    rows = (await streamPredict({ model, input, output, chunkSize })).rows;
  } else {
    const records = (await new CSVDataset({ filepath: input }).load()) as unknown[];
    const predictions = (await model.predict(records)) as unknown[];
    await writeFile(output, JSON.stringify(predictions, null, 2) + '\n');
    rows = records.length;
  }
  const seconds = (performance.now() - started) / 1000;
  const report: ChildReport = {
    mode,
    rows,
    seconds: Math.round(seconds * 100) / 100,
    rowsPerSecond: Math.round(rows / seconds),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    baselineRssMb: Math.round(baselineRssMb),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function runChild(
  mode: 'streaming' | 'whole',
  modelDir: string,
  input: string,
  output: string,
  chunkSize: number,
): Promise<ChildReport | { mode: string; error: string }> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', self, '--child', mode, modelDir, input, output, String(chunkSize)],
      { cwd: root, maxBuffer: 16 * MB, timeout: 30 * 60_000 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport;
  } catch (error) {
    return { mode, error: (error as Error).message.slice(0, 500) };
  }
}

/** Trains the example locally and packages its model into `dir/model`. */
async function packageModel(
  dir: string,
): Promise<{ modelDir: string; base: Record<string, string>[] }> {
  const example = await packageExampleModel(dir);
  return {
    modelDir: example.modelDir,
    base: example.tickets as unknown as Record<string, string>[],
  };
}

/** Writes `rows` tickets cycling through the example's texts, streamed (never all in memory). */
async function writeTickets(
  path: string,
  base: readonly Record<string, string>[],
  rows: number,
): Promise<void> {
  const out = createWriteStream(path);
  out.write('ticket_id,subject,body\n');
  const batch = 10_000;
  for (let start = 0; start < rows; start += batch) {
    const records: string[][] = [];
    for (let i = start; i < Math.min(rows, start + batch); i++) {
      const source = base[i % base.length]!;
      records.push([
        `T-${String(i + 1).padStart(7, '0')}`,
        String(source.subject),
        String(source.body),
      ]);
    }
    if (!out.write(stringify(records))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    const at = process.argv.indexOf('--child');
    const [mode, modelDir, input, output, chunkSize] = process.argv.slice(at + 1);
    await child(mode as 'streaming' | 'whole', modelDir!, input!, output!, Number(chunkSize));
    return;
  }
  const rows = Number(flag('--rows') ?? 1_000_000);
  const chunkSize = Number(flag('--chunk-size') ?? 10_000);
  const work = await mkdtemp(join(tmpdir(), 'tm-bench-batch-'));
  try {
    const packaged = flag('--model')
      ? { modelDir: flag('--model')!, base: [] }
      : await packageModel(work);
    const base = packaged.base.length
      ? packaged.base
      : ((await new CSVDataset({
          filepath: join(exampleDir, 'data/01_raw/tickets.csv'),
        }).load()) as Record<string, string>[]);
    const input = join(work, 'tickets.csv');
    console.error(`writing ${rows} tickets to ${input}...`);
    await writeTickets(input, base, rows);
    const inputMb = (await stat(input)).size / MB;

    console.error(`streaming predict, chunks of ${chunkSize}...`);
    const streaming = await runChild(
      'streaming',
      packaged.modelDir,
      input,
      join(work, 'predictions.jsonl'),
      chunkSize,
    );
    const outputLines =
      'error' in streaming
        ? 0
        : (await readFile(join(work, 'predictions.jsonl'), 'utf8')).split('\n').filter(Boolean)
            .length;
    let whole: Awaited<ReturnType<typeof runChild>> | undefined;
    if (!process.argv.includes('--no-whole')) {
      console.error('whole-file predict (the old behaviour), for comparison...');
      whole = await runChild(
        'whole',
        packaged.modelDir,
        input,
        join(work, 'predictions.json'),
        chunkSize,
      );
    }
    const results = {
      benchmark: 'batch-predict',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      rows,
      chunkSize,
      input: { format: 'csv', sizeMb: Math.round(inputMb * 10) / 10 },
      output: { format: 'jsonl', lines: outputLines },
      streaming,
      ...(whole ? { wholeFile: whole } : {}),
    };
    await mkdir(join(root, 'bench', 'results'), { recursive: true });
    await writeFile(
      join(root, 'bench', 'results', 'batch-predict.json'),
      JSON.stringify(results, null, 2) + '\n',
    );
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
