/**
 * Input files of `predict`, read in chunks of records by extension: `.csv` (two streaming passes:
 * a scan that types the columns and counts the rows, then the rows), `.parquet` (one row group at a
 * time), `.jsonl` / `.ndjson` (line by line) and `.json` (a top-level array streamed element by
 * element, or an MLflow scoring payload object read whole).
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { CSVLoadArgs } from '../datasets/csv-dataset.js';
import { parseJsonRequest } from '../serving/parse-request.js';
import { readCsvChunks, scanCsv } from './csv-chunks.js';
import { firstCharacter, readJsonArrayChunks, readJsonLinesChunks } from './json-chunks.js';
import { parquetInfo, readParquetRowGroups } from './parquet-chunks.js';

export type InputFormat = 'csv' | 'parquet' | 'json' | 'jsonl';

/** Records of an input file, in chunks. */
export interface RecordSource {
  format: InputFormat;
  /** Known up front for CSV, Parquet and payloads (a progress bar's total); undefined for JSON streams. */
  numRows: number | undefined;
  chunks: AsyncIterable<unknown[]>;
  /** `params` of an MLflow scoring payload, when the input is one. */
  payloadParams?: Record<string, unknown>;
}

export class UnsupportedInputError extends Error {
  override readonly name = 'UnsupportedInputError';
}

export function inputFormatOf(file: string): InputFormat {
  switch (extname(file).toLowerCase()) {
    case '.csv':
      return 'csv';
    case '.parquet':
    case '.pq':
      return 'parquet';
    case '.json':
      return 'json';
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    default:
      throw new UnsupportedInputError(
        `Cannot read ${file}: expected a .csv, .parquet, .json or .jsonl file.`,
      );
  }
}

/** Re-slices chunks of any sizes into chunks of exactly `size` (the last may be shorter). */
export async function* rechunk<T>(chunks: AsyncIterable<T[]>, size: number): AsyncGenerator<T[]> {
  let buffer: T[] = [];
  for await (const chunk of chunks) {
    if (buffer.length === 0 && chunk.length === size) {
      yield chunk;
      continue;
    }
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(size - buffer.length, chunk.length - at);
      buffer =
        buffer.length === 0 && take === chunk.length
          ? chunk
          : buffer.concat(chunk.slice(at, at + take));
      at += take;
      if (buffer.length === size) {
        yield buffer;
        buffer = [];
      }
    }
  }
  if (buffer.length > 0) yield buffer;
}

async function* single<T>(value: T[]): AsyncGenerator<T[]> {
  if (value.length > 0) yield value;
}

export interface OpenRecordSourceOptions {
  chunkSize: number;
  /** CSV parsing options (as a CSVDataset's `load_args`). */
  csv?: CSVLoadArgs;
}

/** Opens an input file for chunked reading (see the module doc). */
export async function openRecordSource(
  file: string,
  options: OpenRecordSourceOptions,
): Promise<RecordSource> {
  const path = resolve(file);
  const format = inputFormatOf(path);
  const size = options.chunkSize;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`chunk size must be a positive integer, got ${size}.`);
  switch (format) {
    case 'csv': {
      const scan = await scanCsv(path, options.csv, size);
      return {
        format,
        numRows: scan.numRows,
        chunks: readCsvChunks(path, scan, size, options.csv),
      };
    }
    case 'parquet': {
      const info = await parquetInfo(path);
      return { format, numRows: info.numRows, chunks: rechunk(readParquetRowGroups(path), size) };
    }
    case 'jsonl':
      return { format, numRows: undefined, chunks: readJsonLinesChunks(path, size) };
    case 'json': {
      if ((await firstCharacter(path)) === '{') {
        // An MLflow scoring payload (dataframe_split, dataframe_records, instances, inputs): read whole.
        const request = parseJsonRequest(await readFile(path, 'utf8'));
        const records = request.records as unknown[];
        return {
          format,
          numRows: records.length,
          chunks: rechunk(single(records), size),
          ...(request.params ? { payloadParams: request.params } : {}),
        };
      }
      return { format, numRows: undefined, chunks: rechunk(readJsonArrayChunks(path, size), size) };
    }
  }
}
