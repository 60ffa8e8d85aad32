/**
 * Errors of the scoring server. Each carries the MLflow `error_code` and the HTTP status it is
 * answered with, so the server renders every failure as MLflow does: `{"error_code", "message"}`.
 */

/** MLflow error codes used by the scoring protocol (names from `mlflow.protos.databricks_pb2`). */
export type ServingErrorCode =
  'BAD_REQUEST' | 'INVALID_PARAMETER_VALUE' | 'REQUEST_LIMIT_EXCEEDED' | 'INTERNAL_ERROR';

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
      `Request body is larger than the server's limit of ${limitBytes} bytes; send fewer records per request or raise bodyLimitBytes`,
      'REQUEST_LIMIT_EXCEEDED',
      413,
    );
  }
}
