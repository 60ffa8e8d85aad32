/**
 * Streaming `predict`: a file scored chunk by chunk gives exactly what `model.predict` gives on the
 * whole file, for every input format (CSV, Parquet, JSON array, JSON Lines, MLflow payload) and
 * output format (JSON, JSON Lines, CSV, Parquet), whatever the chunk size.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rechunk } from '../../src/batch/readers.js';
import { readCsvChunks, readCsvRange, scanCsv } from '../../src/batch/csv-chunks.js';
import { streamPredict } from '../../src/batch/stream-predict.js';
import { buildProgram } from '../../src/cli/main.js';
import { CSVDataset } from '../../src/datasets/csv-dataset.js';
import { ParquetDataset } from '../../src/datasets/parquet-dataset.js';
import {
  makeTickets,
  packageExampleModel,
  readJson,
  tempDir,
  writeTicketsCsv,
  type ExampleModel,
  type Ticket,
} from './support.js';

let workDir: string;
let example: ExampleModel;
let tickets: Ticket[];
let expected: unknown[];
let csvFile: string;
let parquetFile: string;

beforeAll(async () => {
  workDir = await tempDir('tm-stream-predict-');
  example = await packageExampleModel(workDir);
  tickets = makeTickets(example.tickets, 2_345);
  csvFile = join(workDir, 'tickets.csv');
  parquetFile = join(workDir, 'tickets.parquet');
  await writeTicketsCsv(csvFile, tickets);
  await new ParquetDataset({ filepath: parquetFile, saveArgs: { row_group_size: 300 } }).save(
    tickets as unknown as Record<string, unknown>[],
  );
  // The reference: the whole file, loaded as the catalog loads it, in one predict call.
  expected = (await example.model.predict(
    await new CSVDataset({ filepath: csvFile }).load(),
  )) as unknown[];
}, 180_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const readJsonLines = async (path: string): Promise<unknown[]> =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);

describe('streamPredict', () => {
  it('scores a CSV file in chunks into the same predictions as model.predict on the whole file', async () => {
    expect(expected).toHaveLength(2_345);
    const output = join(workDir, 'csv-out.json');
    const seen: number[] = [];
    const result = await streamPredict({
      model: example.model,
      input: csvFile,
      output,
      chunkSize: 500,
      onProgress: (done) => seen.push(done),
    });
    expect(result).toMatchObject({ rows: 2_345, chunks: 5, total: 2_345 });
    expect(seen).toEqual([0, 500, 1_000, 1_500, 2_000, 2_345]);
    expect(await readJson(output)).toEqual(expected);
  });

  it('scores a Parquet file (row groups of 300, chunks of 500) into the same predictions', async () => {
    const output = join(workDir, 'parquet-out.parquet');
    const result = await streamPredict({
      model: example.model,
      input: parquetFile,
      output,
      chunkSize: 500,
    });
    expect(result).toMatchObject({ rows: 2_345, chunks: 5, total: 2_345 });
    expect(await new ParquetDataset({ filepath: output }).load()).toEqual(expected);
  });

  it('gives the same output whatever the chunk boundaries', async () => {
    for (const chunkSize of [1, 7, 300, 2_345, 100_000]) {
      const output = join(workDir, `chunks-${chunkSize}.jsonl`);
      const result = await streamPredict({
        model: example.model,
        input: csvFile,
        output,
        chunkSize,
      });
      expect(result.chunks).toBe(Math.ceil(2_345 / chunkSize));
      expect(await readJsonLines(output)).toEqual(expected);
    }
  });

  it('writes CSV predictions that read back typed as the predictions', async () => {
    const output = join(workDir, 'out.csv');
    await streamPredict({ model: example.model, input: parquetFile, output, chunkSize: 1_000 });
    expect(await new CSVDataset({ filepath: output }).load()).toEqual(expected);
  });

  it('streams a JSON array and JSON Lines input element by element', async () => {
    const arrayFile = join(workDir, 'tickets.json');
    await writeFile(arrayFile, JSON.stringify(tickets, null, 1));
    const linesFile = join(workDir, 'tickets.jsonl');
    await writeFile(linesFile, tickets.map((ticket) => JSON.stringify(ticket)).join('\n') + '\n');
    for (const input of [arrayFile, linesFile]) {
      const output = join(workDir, 'from-json.json');
      const result = await streamPredict({ model: example.model, input, output, chunkSize: 333 });
      expect(result.rows).toBe(2_345);
      expect(await readJson(output)).toEqual(expected);
    }
  });

  it('reads a small MLflow scoring payload whole, with its params, and --params over them', async () => {
    const payload = join(workDir, 'payload.json');
    const five = tickets.slice(0, 5);
    await writeFile(
      payload,
      JSON.stringify({
        dataframe_split: {
          columns: ['ticket_id', 'subject', 'body'],
          data: five.map((t) => [t.ticket_id, t.subject, t.body]),
        },
        params: { min_confidence: 0.999999 },
      }),
    );
    const output = join(workDir, 'payload-out.json');
    await streamPredict({ model: example.model, input: payload, output });
    expect(await readJson(output)).toEqual(
      await example.model.predict(five, { min_confidence: 0.999999 }),
    );
    await streamPredict({
      model: example.model,
      input: payload,
      output,
      params: { min_confidence: 0.1 },
    });
    expect(await readJson(output)).toEqual(
      await example.model.predict(five, { min_confidence: 0.1 }),
    );
  });

  it('leaves no partial output behind when the model fails mid-file', async () => {
    const output = join(workDir, 'failed.jsonl');
    let calls = 0;
    const failing = {
      predict: async (rows: unknown) =>
        ++calls === 3 ? Promise.reject(new Error('boom')) : example.model.predict(rows),
    };
    await expect(
      streamPredict({ model: failing, input: csvFile, output, chunkSize: 500 }),
    ).rejects.toThrow('boom');
    await expect(readFile(output)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('CSV chunks', () => {
  it('types each column over the whole file, as CSVDataset does, whatever chunk a cell is in', async () => {
    const file = join(workDir, 'typed.csv');
    // `code` is numeric for 999 rows and text in the last one: a string column, in every chunk.
    const lines = ['id,code,flag,empty,"quoted, text"'];
    for (let i = 0; i < 1_000; i++)
      lines.push(
        `${i},${i === 999 ? 'X1' : i},${i % 2 === 0},,"line ${i}\nwith ""quotes"", commas"`,
      );
    await writeFile(file, lines.join('\n') + '\n');
    const whole = await new CSVDataset({ filepath: file }).load();
    const scan = await scanCsv(file, {}, 128);
    expect(scan).toMatchObject({
      numRows: 1_000,
      kinds: ['number', 'string', 'boolean', 'number', 'string'],
    });
    const chunked: unknown[] = [];
    for await (const chunk of readCsvChunks(file, scan, 128)) chunked.push(...chunk);
    expect(chunked).toEqual(whole);
    // Byte ranges of the scan read exactly their chunk.
    const third = await readCsvRange(file, scan, scan.offsets[2]!, scan.offsets[3]!);
    expect(third).toEqual((whole as unknown[]).slice(256, 384));
  });

  it('re-slices chunks of any sizes into exact ones', async () => {
    async function* pieces() {
      yield [1, 2, 3];
      yield [4];
      yield [5, 6, 7, 8, 9];
    }
    const out: number[][] = [];
    for await (const chunk of rechunk(pieces(), 4)) out.push(chunk);
    expect(out).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  });
});

describe('temporal-mlflow predict', () => {
  it('streams a CSV file into a Parquet output with --chunk-size', async () => {
    const output = join(workDir, 'cli-out.parquet');
    await buildProgram().parseAsync([
      'node',
      'temporal-mlflow',
      'predict',
      '-m',
      example.modelDir,
      '-i',
      csvFile,
      '-o',
      output,
      '--chunk-size',
      '400',
      '--no-progress',
    ]);
    expect(await new ParquetDataset({ filepath: output }).load()).toEqual(expected);
  });

  it('refuses a bad --chunk-size and an unknown extension with a clear message', async () => {
    const run = (args: string[]) =>
      buildProgram().parseAsync([
        'node',
        'temporal-mlflow',
        'predict',
        '-m',
        example.modelDir,
        ...args,
        '--no-progress',
      ]);
    await expect(run(['-i', csvFile, '--chunk-size', '0'])).rejects.toThrow(
      "--chunk-size must be a positive integer, got '0'.",
    );
    await expect(run(['-i', join(workDir, 'tickets.xlsx')])).rejects.toThrow(
      'expected a .csv, .parquet, .json or .jsonl file',
    );
    await expect(run(['-i', csvFile, '-o', join(workDir, 'out.txt')])).rejects.toThrow(
      'expected a .json, .jsonl, .csv or .parquet output',
    );
  });
});
