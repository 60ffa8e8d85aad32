/**
 * Errors of the scoring server. Each carries the MLflow `error_code` and the HTTP status it is
 * answered with, so the server renders every failure as MLflow does: `{"error_code", "message"}`.
 */

import type { FastifyError } from 'fastify';
import { SignatureValidationError } from '../model/signature.js';
import { DEFAULT_BODY_LIMIT_BYTES } from './options.js';

/** MLflow error codes used by the scoring protocol (names from `mlflow.protos.databricks_pb2`). */
export type ServingErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_PARAMETER_VALUE'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'TEMPORARILY_UNAVAILABLE'
  | 'INTERNAL_ERROR';

/** Base class of serving failures: an MLflow error code, an HTTP status and a message naming the problem. */
export class ServingError extends Error {
  override readonly name: string = 'ServingError';
  constructor(
    message: string,
    readonly errorCode: ServingErrorCode = 'BAD_REQUEST',
    readonly status: number = 400,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The MLflow error body. */
  toJSON(): { error_code: ServingErrorCode; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

/** A request body that cannot be read as one of the scoring protocol's formats (HTTP 400). */
export class BadRequestError extends ServingError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'BAD_REQUEST', 400, options);
  }
}

/** Params that do not match the model's params schema (HTTP 400, `INVALID_PARAMETER_VALUE`). */
export class InvalidParameterError extends ServingError {
  override readonly name = 'InvalidParameterError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'INVALID_PARAMETER_VALUE', 400, options);
  }
}

/** A Content-Type the server does not read (HTTP 415). */
export class UnsupportedMediaTypeError extends ServingError {
  override readonly name = 'UnsupportedMediaTypeError';
  constructor(
    message: string,
    readonly contentType: string | undefined,
  ) {
    super(message, 'BAD_REQUEST', 415);
  }
}

/** A request body over the server's limit (HTTP 413). */
export class PayloadTooLargeError extends ServingError {
  override readonly name = 'PayloadTooLargeError';
  constructor(readonly limitBytes: number) {
    super(
      `Request body is larger than the server's limit of ${limitBytes} bytes; send fewer records per request or raise bodyLimitBytes (serve --body-limit)`,
      'REQUEST_LIMIT_EXCEEDED',
      413,
    );
  }
}

/** Which per-request limit a {@link RequestLimitError} is about, with the option that sets it. */
export const REQUEST_LIMITS = {
  records: { option: 'maxRecords', flag: '--max-records' },
  columns: { option: 'maxColumns', flag: '--max-columns' },
  params: { option: 'maxColumns', flag: '--max-columns' },
} as const;

/**
 * A request with more records, columns or params than the server accepts (HTTP 400,
 * `REQUEST_LIMIT_EXCEEDED`): answered as soon as the limit is passed, before the rest is read.
 */
export class RequestLimitError extends ServingError {
  override readonly name = 'RequestLimitError';
  constructor(
    readonly what: keyof typeof REQUEST_LIMITS,
    readonly limit: number,
    readonly received?: number,
  ) {
    const { option, flag } = REQUEST_LIMITS[what];
    super(
      `The request has ${received === undefined ? `more than ${limit}` : received} ${what}; this server accepts at most ${limit} per request (${option}, serve ${flag}): split it into smaller requests`,
      'REQUEST_LIMIT_EXCEEDED',
      400,
    );
  }
}

/** Every request slot of this worker is taken (HTTP 503 with `Retry-After`); retry later. */
export class ServerBusyError extends ServingError {
  override readonly name = 'ServerBusyError';
  constructor(
    readonly maxInFlight: number,
    readonly retryAfterSeconds: number,
    /** Set when the body bytes held, not the request count, are at their limit. */
    readonly maxInFlightBytes?: number,
  ) {
    super(
      maxInFlightBytes === undefined
        ? `The server is busy: ${maxInFlight} requests are already being processed by this worker (maxInFlight, serve --max-in-flight); retry after ${retryAfterSeconds} s`
        : `The server is busy: the requests this worker holds would pass ${maxInFlightBytes} bytes of body with this one (maxInFlightBytes, serve --max-in-flight-bytes); retry after ${retryAfterSeconds} s`,
      'TEMPORARILY_UNAVAILABLE',
      503,
    );
  }
}

/** `serveModel` could not start: the model did not load (in the process or in a worker). */
export class ServingStartupError extends Error {
  override readonly name = 'ServingStartupError';
  constructor(
    message: string,
    /** The pid of the worker that failed, when the model was loaded in a cluster worker. */
    readonly workerPid?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Renders any failure as MLflow's error body and status (`bodyLimit` names the limit in 413 messages). */
export function toServingError(
  err: unknown,
  bodyLimit: number = DEFAULT_BODY_LIMIT_BYTES,
): ServingError {
  if (err instanceof ServingError) return err;
  if (err instanceof SignatureValidationError) {
    // As MLflow: schema enforcement failures (inputs or params) are INVALID_PARAMETER_VALUE.
    return new InvalidParameterError(err.message, { cause: err });
  }
  const fe = err as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new PayloadTooLargeError(bodyLimit);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ServingError(fe.message ?? 'Bad request', 'BAD_REQUEST', fe.statusCode);
  }
  return new ServingError(
    `Internal error: ${(err as Error)?.message ?? String(err)}`,
    'INTERNAL_ERROR',
    500,
    { cause: err },
  );
}
