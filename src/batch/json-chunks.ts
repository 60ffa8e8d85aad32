/**
 * JSON inputs in chunks: a top-level JSON array is split into its elements while the file streams
 * (each element parsed on its own, so only one chunk of rows is ever in memory); JSON Lines are read
 * line by line. A JSON object is an MLflow scoring payload and is read whole (`readJsonPayload`).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** The first non-blank character of a file ('' when empty). */
export async function firstCharacter(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    for (let position = 0; ;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return '';
      const text = buffer
        .subarray(0, bytesRead)
        .toString('utf8')
        .replace(/^\uFEFF/, '');
      const match = /\S/.exec(text);
      if (match) return match[0];
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Error in a JSON input, with the file and what was expected. */
export class JsonInputError extends Error {
  override readonly name = 'JsonInputError';
}

/** The elements of a top-level JSON array, in chunks of `chunkSize`, parsed as the file streams. */
export async function* readJsonArrayChunks(
  path: string,
  chunkSize: number,
): AsyncGenerator<unknown[]> {
  let state: 'before' | 'value' | 'after' | 'done' = 'before';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let pending = '';
  // Characters of `pending` already scanned (their depth and string state are counted).
  let resumeAt = 0;
  let chunk: unknown[] = [];
  let index = 0;
  const finishElement = (text: string): void => {
    const trimmed = text.trim();
    if (trimmed === '')
      throw new JsonInputError(`${path}: empty element at index ${index} of the top-level array.`);
    try {
      chunk.push(JSON.parse(trimmed));
    } catch (error) {
      throw new JsonInputError(
        `${path}: element ${index} of the top-level array is not valid JSON (${(error as Error).message}).`,
      );
    }
    index++;
  };
  for await (const piece of createReadStream(path, { encoding: 'utf8' }) as AsyncIterable<string>) {
    const text = pending + piece;
    let start = 0;
    for (let i = resumeAt; i < text.length; i++) {
      const char = text[i]!;
      if (state === 'before') {
        if (char === '[') {
          state = 'value';
          start = i + 1;
        } else if (!/\s|\uFEFF/.test(char))
          throw new JsonInputError(`${path}: expected a JSON array of records.`);
        continue;
      }
      if (state === 'done') {
        if (!/\s/.test(char))
          throw new JsonInputError(`${path}: unexpected text after the top-level array.`);
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (char === '\\') escaped = true;
        else if (char === '"') inString = false;
        continue;
      }
      if (char === '"') inString = true;
      else if (char === '{' || char === '[') depth++;
      else if (char === '}' || char === ']') {
        if (depth > 0) depth--;
        else {
          // The array's closing bracket: the last element, unless the array is empty or ends with ','.
          const last = text.slice(start, i);
          if (last.trim() !== '' || index > 0 || chunk.length > 0) finishElement(last);
          state = 'done';
        }
      } else if (char === ',' && depth === 0) {
        finishElement(text.slice(start, i));
        start = i + 1;
      }
    }
    pending = state === 'value' ? text.slice(start) : '';
    resumeAt = pending.length;
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (state !== 'done')
    throw new JsonInputError(`${path}: the top-level array is not closed (truncated file?).`);
  if (chunk.length > 0) yield chunk;
}

/** JSON Lines: one JSON value per non-blank line, in chunks of `chunkSize`. */
export async function* readJsonLinesChunks(
  path: string,
  chunkSize: number,
): AsyncGenerator<unknown[]> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let chunk: unknown[] = [];
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    try {
      chunk.push(JSON.parse(line));
    } catch (error) {
      throw new JsonInputError(`${path}:${number}: not valid JSON (${(error as Error).message}).`);
    }
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
