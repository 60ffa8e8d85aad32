/**
 * Serving: the MLflow scoring protocol over HTTP for a loaded model.
 *
 * - {@link createScoringServer} builds the fastify app; {@link serveModel} listens (cluster, signals).
 * - {@link parseScoringRequest} reads `dataframe_split` / `dataframe_records` / `instances` / `inputs` / CSV.
 * - Errors: {@link ServingError} and subclasses carry MLflow's `error_code` and the HTTP status.
 */
export type { ParsedRequest, ScoringModel, ScoringModelMetadata } from './types.js';
export {
  createScoringServer,
  toServingError,
  DEFAULT_BODY_LIMIT_BYTES,
  PACKAGE_VERSION,
} from './server.js';
export type { ScoringServerOptions } from './server.js';
export { serveModel } from './serve.js';
export type { ServeOptions, ServingHandle } from './serve.js';
export {
  parseScoringRequest,
  parseJsonRequest,
  parseCsvRequest,
  parseContentType,
  INPUT_FORMATS,
  SUPPORTED_CONTENT_TYPES,
  CONTENT_TYPE_CSV,
  CONTENT_TYPE_JSON,
} from './parse-request.js';
export type { InputFormat } from './parse-request.js';
export {
  ServingError,
  BadRequestError,
  InvalidParameterError,
  UnsupportedMediaTypeError,
  PayloadTooLargeError,
} from './errors.js';
export type { ServingErrorCode } from './errors.js';
