/**
 * Serving: the MLflow scoring protocol over HTTP for a loaded model.
 *
 * - {@link createScoringServer} builds the fastify app; {@link serveModel} listens (cluster, signals).
 * - Limits and leniency: {@link ScoringServerOptions} (body size, records, columns, in-flight
 *   requests, `strict`), compiled by {@link compileScoringServerOptions}.
 * - {@link readScoringRequest} (time-sliced) and {@link parseScoringRequest} read `dataframe_split` / `dataframe_records` / `instances` / `inputs` / CSV.
 * - Errors: {@link ServingError} and subclasses carry MLflow's `error_code` and the HTTP status.
 */
export type { ParsedRequest, ScoringModel, ScoringModelMetadata } from './types.js';
export { createScoringServer, toServingError, PACKAGE_VERSION } from './server.js';
export {
  compileScoringServerOptions,
  parseByteSize,
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_MAX_COLUMNS,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_IN_FLIGHT_BYTES,
  DEFAULT_MAX_RECORDS,
  DEFAULT_THREAD_THRESHOLD_BYTES,
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_SLICE_MS,
} from './options.js';
export type {
  CompiledScoringServerOptions,
  ScoringServerOptions,
  ThreadModelSource,
} from './options.js';
export { serveModel } from './serve.js';
export type { ServeOptions, ServingHandle } from './serve.js';
export {
  readScoringRequest,
  parseScoringRequest,
  parseJsonRequest,
  parseCsvRequest,
  parseContentType,
  INPUT_FORMATS,
  SUPPORTED_CONTENT_TYPES,
  CONTENT_TYPE_CSV,
  CONTENT_TYPE_JSON,
} from './parse-request.js';
export type { InputFormat, ReadRequestOptions } from './parse-request.js';
export {
  ServingError,
  BadRequestError,
  InvalidParameterError,
  UnsupportedMediaTypeError,
  PayloadTooLargeError,
  RequestLimitError,
  ServerBusyError,
  ServingStartupError,
} from './errors.js';
export type { ServingErrorCode } from './errors.js';
