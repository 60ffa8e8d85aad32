/**
 * Prediction outputs written chunk by chunk, by extension: `.json` (one array, written
 * incrementally, an element per line), `.jsonl` / `.ndjson`, `.csv` (columns of the first chunk) and
 * `.parquet` (a row group per chunk). Files are written next to their target and renamed into place
 * by `close()`, so a failed run never leaves a half-written output behind; `abort()` removes it.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, extname, resolve } from 'node:path';
import { stringifyCell, type Row } from '../datasets/table.js';
import { loadParquetWriter, ParquetRowWriter } from './parquet-chunks.js';

export type OutputFormat = 'json' | 'jsonl' | 'csv' | 'parquet';

export interface PredictionWriter {
  readonly format: OutputFormat;
  /** Appends one chunk's predictions (an array of predictions, or any value for JSON outputs). */
  write(predictions: unknown): Promise<void>;
  /** Completes the output (footer, closing bracket) and moves it into place. */
  close(): Promise<void>;
  /** Drops a partial output. */
  abort(): Promise<void>;
}

export class UnsupportedOutputError extends Error {
  override readonly name = 'UnsupportedOutputError';
}

export function outputFormatOf(file: string): OutputFormat {
  switch (extname(file).toLowerCase()) {
    case '.json':
      return 'json';
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.csv':
      return 'csv';
    case '.parquet':
    case '.pq':
      return 'parquet';
    default:
      throw new UnsupportedOutputError(
        `Cannot write ${file}: expected a .json, .jsonl, .csv or .parquet output.`,
      );
  }
}

/** Table rows of a chunk's predictions: records as they are, scalars as `{ prediction }`. */
function tableRows(predictions: unknown, format: OutputFormat): Row[] {
  if (!Array.isArray(predictions)) {
    throw new TypeError(
      `the model returned ${predictions === null ? 'null' : typeof predictions}, not an array of predictions: write it as .json instead of .${format}.`,
    );
  }
  return predictions.map((value) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)
      ? (value as Row)
      : { prediction: value },
  );
}

/** A text stream honouring backpressure. */
class TextSink {
  constructor(private readonly stream: NodeJS.WritableStream) {}
  async write(text: string): Promise<void> {
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }
}

/**
 * A writer of predictions to `file`, or to stdout as JSON when `file` is undefined.
 */
export async function createPredictionWriter(file: string | undefined): Promise<PredictionWriter> {
  const format: OutputFormat = file === undefined ? 'json' : outputFormatOf(file);
  const target = file === undefined ? undefined : resolve(file);
  const temp = target === undefined ? undefined : `${target}.${process.pid}.partial`;
  if (target) await mkdir(dirname(target), { recursive: true });

  let stream: WriteStream | undefined;
  const sink = (): TextSink => {
    if (temp === undefined) return new TextSink(process.stdout);
    stream ??= createWriteStream(temp, { encoding: 'utf8' });
    return new TextSink(stream);
  };
  const finish = async (): Promise<void> => {
    if (stream) {
      stream.end();
      await once(stream, 'finish');
    }
    if (temp && target) await rename(temp, target);
  };
  const abort = async (): Promise<void> => {
    stream?.destroy();
    if (temp) await rm(temp, { force: true });
  };

  if (format === 'parquet') {
    await loadParquetWriter();
    const writer = new ParquetRowWriter(temp!);
    return {
      format,
      write: async (predictions) => writer.write(tableRows(predictions, format)),
      close: async () => {
        writer.finish();
        await finish();
      },
      abort,
    };
  }

  if (format === 'csv') {
    let columns: string[] | undefined;
    return {
      format,
      async write(predictions) {
        const rows = tableRows(predictions, format);
        if (rows.length === 0) return;
        const header = columns === undefined;
        if (!columns) {
          const seen = new Set<string>();
          for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
          columns = [...seen];
        }
        const known = new Set(columns);
        const extra = rows.flatMap((row) => Object.keys(row)).find((key) => !known.has(key));
        if (extra !== undefined)
          throw new TypeError(
            `prediction column '${extra}' appears after the first chunk (columns: ${columns.join(', ')}): write .jsonl instead.`,
          );
        const records = rows.map((row) => columns!.map((name) => row[name] ?? null));
        const { stringify } = await import('csv-stringify/sync');
        await sink().write(
          stringify(records, {
            header,
            columns,
            cast: {
              boolean: String,
              date: (value) => value.toISOString(),
              object: stringifyCell,
              bigint: String,
            },
          }),
        );
      },
      close: async () => {
        if (columns === undefined) await sink().write('');
        await finish();
      },
      abort,
    };
  }

  if (format === 'jsonl') {
    return {
      format,
      async write(predictions) {
        const items = Array.isArray(predictions) ? predictions : [predictions];
        if (items.length > 0)
          await sink().write(items.map((item) => JSON.stringify(item)).join('\n') + '\n');
      },
      close: async () => {
        await sink().write('');
        await finish();
      },
      abort,
    };
  }

  // JSON: one array. A single non-array result (a model with several outputs scoring a small
  // input in one chunk) is written as that value, as a whole-file predict always did.
  let opened = false;
  let count = 0;
  let held: { value: unknown } | undefined;
  const open = async (): Promise<void> => {
    if (opened) return;
    opened = true;
    await sink().write('[');
    if (held) {
      await appendItems([held.value]);
      held = undefined;
    }
  };
  const appendItems = async (items: readonly unknown[]): Promise<void> => {
    if (items.length === 0) return;
    const text = items.map((item) => `\n  ${JSON.stringify(item) ?? 'null'}`).join(',');
    await sink().write((count > 0 ? ',' : '') + text);
    count += items.length;
  };
  return {
    format,
    async write(predictions) {
      if (!opened && !Array.isArray(predictions) && held === undefined && count === 0) {
        held = { value: predictions };
        return;
      }
      await open();
      await appendItems(Array.isArray(predictions) ? predictions : [predictions]);
    },
    async close() {
      if (held && !opened) await sink().write(JSON.stringify(held.value, null, 2) + '\n');
      else {
        await open();
        await sink().write(count > 0 ? '\n]\n' : ']\n');
      }
      await finish();
    },
    abort,
  };
}
