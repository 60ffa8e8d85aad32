/**
 * Reads a request body into one Buffer without ever holding the event loop: with a
 * `Content-Length`, the buffer is allocated once at that size and each chunk copied in as it
 * arrives (a 16 MB body costs no 16 MB copy at its end, as a concatenation would); without one
 * (chunked), chunks are collected and joined at the end. The body limit is enforced as bytes
 * arrive: a declared length over it is refused before anything is read.
 */
import type { IncomingMessage } from 'node:http';
import { ServingError, PayloadTooLargeError } from './errors.js';

/** Bodies below this size come from Node's shared pool (cheap to allocate, copied to move). */
const POOLED_BELOW = 4096;

/** The 400 of a body whose size differs from its `Content-Length` (fastify's words). */
function lengthMismatch(): ServingError {
  return new ServingError('Request body size did not match Content-Length', 'BAD_REQUEST', 400);
}

/** One body being read: its state lives on the stream, so its listeners are shared, not per-request closures. */
class BodyRead {
  received = 0;
  settled = false;
  readonly chunks: Buffer[] = [];
  constructor(
    readonly payload: NodeJS.ReadableStream,
    readonly limit: number,
    readonly target: Buffer | undefined,
    readonly done: (error: Error | null, body?: Buffer) => void,
  ) {}

  finish(error: Error | null, body?: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    const payload = this.payload as NodeJS.ReadableStream & { [READ]?: BodyRead };
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    payload.removeListener('close', onClose);
    payload[READ] = undefined;
    this.done(error, body);
  }
}

const READ = Symbol('bodyRead');
type Reading = NodeJS.ReadableStream & { [READ]?: BodyRead };

function onData(this: Reading, chunk: Buffer | string): void {
  const read = this[READ];
  if (!read || read.settled) return;
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  if (read.received + bytes.length > read.limit)
    return read.finish(new PayloadTooLargeError(read.limit));
  if (read.target) {
    if (read.received + bytes.length > read.target.length) return read.finish(lengthMismatch());
    bytes.copy(read.target, read.received);
  } else read.chunks.push(bytes);
  read.received += bytes.length;
}

function onEnd(this: Reading): void {
  const read = this[READ];
  if (!read) return;
  if (read.target) {
    if (read.received !== read.target.length) return read.finish(lengthMismatch());
    return read.finish(null, read.target);
  }
  const { chunks } = read;
  read.finish(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, read.received));
}

function onError(this: Reading, error: Error): void {
  const status = (error as { statusCode?: number }).statusCode;
  this[READ]?.finish(
    typeof status === 'number' && status >= 400
      ? error
      : new ServingError(`Reading the request body failed: ${error.message}`, 'BAD_REQUEST', 400),
  );
}

function onClose(this: Reading): void {
  this[READ]?.finish(
    new ServingError(
      'The client closed the connection before sending the whole body',
      'BAD_REQUEST',
      400,
    ),
  );
}

/** Reads `payload` (the request's body stream) to its end; `done` gets the body or an error. */
export function readBody(
  request: IncomingMessage,
  payload: NodeJS.ReadableStream,
  limit: number,
  done: (error: Error | null, body?: Buffer) => void,
): void {
  const header = request.headers['content-length'];
  const declared = header === undefined ? undefined : Number(header);
  if (declared !== undefined && declared > limit) return done(new PayloadTooLargeError(limit));
  const known = declared !== undefined && Number.isSafeInteger(declared) && declared >= 0;
  const target = known
    ? declared < POOLED_BELOW
      ? Buffer.allocUnsafe(declared)
      : Buffer.allocUnsafeSlow(declared)
    : undefined;
  const reading = payload as Reading;
  reading[READ] = new BodyRead(payload, limit, target, done);
  reading.on('data', onData);
  reading.on('end', onEnd);
  reading.on('error', onError);
  reading.on('close', onClose);
  reading.resume();
}
