/**
 * The JS side of the python_function shim: a line-delimited JSON protocol on stdin/stdout.
 *
 * Request (one line):  `{"id": <n>, "records": [{...}, ...], "params": {...} | null}`
 * Response (one line): `{"id": <n>, "predictions": ...}` or
 *                      `{"id": <n>, "error": {"type": "<Error name>", "message": "..."}}`
 *
 * A bad line or a failing predict answers an error and the loop goes on; it ends when input ends.
 * Requests are answered in order (the Python side sends one at a time, under a lock).
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { ScoringModel } from '../../serving/types.js';

/** The protocol's request line. */
export interface StdioRequest {
  id: number | string | null;
  records: Record<string, unknown>[];
  params?: Record<string, unknown> | null;
}

/** The protocol's response line. */
export type StdioResponse =
  | { id: StdioRequest['id']; predictions: unknown }
  | { id: StdioRequest['id']; error: { type: string; message: string } };

function errorResponse(id: StdioRequest['id'], type: string, message: string): StdioResponse {
  return { id, error: { type, message } };
}

async function answer(model: ScoringModel, line: string): Promise<StdioResponse> {
  let req: Partial<StdioRequest>;
  try {
    req = JSON.parse(line) as Partial<StdioRequest>;
  } catch (e) {
    return errorResponse(
      null,
      'ProtocolError',
      `Invalid JSON request line: ${(e as Error).message}`,
    );
  }
  const id = req?.id ?? null;
  if (typeof req !== 'object' || req === null || !Array.isArray(req.records)) {
    return errorResponse(
      id,
      'ProtocolError',
      'A request line must be {"id": n, "records": [...], "params": {...}}',
    );
  }
  try {
    const predictions = await model.predict(req.records, req.params ?? undefined);
    return { id, predictions: predictions ?? null };
  } catch (e) {
    const err = e as Error;
    return errorResponse(id, err?.name ?? 'Error', err?.message ?? String(e));
  }
}

/**
 * Serves `model` over the stdio protocol until `input` ends. Resolves when every request has been
 * answered.
 */
export async function runStdioServer(
  model: ScoringModel,
  input: Readable = process.stdin,
  output: Writable = process.stdout,
): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const response = await answer(model, line);
    let text: string;
    try {
      text = JSON.stringify(response);
    } catch (e) {
      text = JSON.stringify(
        errorResponse(
          response.id,
          'SerializationError',
          `Predictions are not JSON-serialisable: ${(e as Error).message}`,
        ),
      );
    }
    if (!output.write(`${text}\n`))
      await new Promise<void>((resolve) => output.once('drain', () => resolve()));
  }
}
