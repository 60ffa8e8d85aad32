/**
 * The MLflow-compatible scoring server: `GET /ping`, `GET /health`, `GET /version`,
 * `POST /invocations` → `{"predictions": ...}`, with MLflow's JSON errors `{"error_code", "message"}`.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController } from 'fastify';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { SignatureValidationError, resolveParams, validateRecords } from '../model/signature.js';
import {
  BadRequestError,
  InvalidParameterError,
  PayloadTooLargeError,
  ServingError,
} from './errors.js';
import { parseContentType, parseScoringRequest } from './parse-request.js';
import type { ScoringModel } from './types.js';

/** Options of {@link createScoringServer}. */
export interface ScoringServerOptions {
  /** Largest accepted request body. @default 52_428_800 (50 MB) */
  bodyLimitBytes?: number;
  /** Fastify (pino) logger: `true`, pino options, or `false` for none. One line per request. @default false */
  logger?: boolean | FastifyServerOptions['logger'];
}

export const DEFAULT_BODY_LIMIT_BYTES = 50 * 1024 * 1024;

/** The `version` of this package's package.json (answered by `GET /version`). */
export const PACKAGE_VERSION: string = readPackageVersion();

function readPackageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const PING_BODY = '\n';

/** One log line per request (method, url, status, ms) instead of fastify's two. */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request');
  }
}

/** Renders any failure as MLflow's error body and status (`bodyLimit` names the limit in 413 messages). */
export function toServingError(err: unknown, bodyLimit = DEFAULT_BODY_LIMIT_BYTES): ServingError {
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

/**
 * Builds (does not start) a fastify scoring server for a loaded model. Inputs are checked against
 * the model signature before `predict`; an error thrown by `predict` is answered, as MLflow does,
 * with 400 `BAD_REQUEST` and its message (a {@link ServingError} keeps its own code and status).
 */
export function createScoringServer(
  model: ScoringModel,
  options: ScoringServerOptions = {},
): FastifyInstance {
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isInteger(bodyLimit) || bodyLimit <= 0)
    throw new TypeError(`bodyLimitBytes must be a positive integer, got ${bodyLimit}`);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    logController: new OneLinePerRequest(),
    return503OnClosing: true,
  });
  const inputs = model.signature?.inputs;
  const paramsSchema = model.signature?.params;
  const versionBody = JSON.stringify({
    version: PACKAGE_VERSION,
    flavor_version: model.metadata.flavorVersion,
    ...(model.metadata.modelId ? { model_id: model.metadata.modelId } : {}),
    ...(model.metadata.runId ? { run_id: model.metadata.runId } : {}),
  });

  // Bodies are read as UTF-8 text whatever their type; /invocations checks the type before reading.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const se = toServingError(err, bodyLimit);
    if (se.status >= 500) req.log.error({ err }, 'internal error');
    else if (se.cause && !(se.cause instanceof SignatureValidationError))
      req.log.warn({ err: se.cause }, se.message);
    void reply.code(se.status).type('application/json').send(JSON.stringify(se.toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type('application/json')
      .send(
        JSON.stringify({
          error_code: 'ENDPOINT_NOT_FOUND',
          message: `No route ${req.method} ${req.url}; routes: GET /ping, GET /health, GET /version, POST /invocations`,
        }),
      );
  });

  const ping = (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type('application/json').send(PING_BODY);
  app.get('/ping', ping);
  app.get('/health', ping);
  app.get('/version', (_req, reply) => reply.type('application/json').send(versionBody));

  app.post(
    '/invocations',
    {
      // Reject an unsupported Content-Type before reading the body.
      onRequest: (req, _reply, done) => {
        try {
          parseContentType(req.headers['content-type']);
          done();
        } catch (e) {
          done(e as Error);
        }
      },
    },
    async (req, reply) => {
      const parsed = parseScoringRequest(
        req.body as string | undefined,
        req.headers['content-type'],
        inputs,
      );
      const records = inputs ? validateRecords(parsed.records, inputs) : parsed.records;
      const params =
        paramsSchema || parsed.params ? resolveParams(parsed.params, paramsSchema) : undefined;
      let predictions: unknown;
      try {
        predictions = await model.predict(records, params);
      } catch (e) {
        if (e instanceof ServingError || e instanceof SignatureValidationError) throw e;
        const err = e as Error;
        throw new BadRequestError(
          `Encountered an unexpected error while evaluating the model. Verify that the input is compatible with the model for inference. Error: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`,
          { cause: e },
        );
      }
      return reply
        .type('application/json')
        .send(`{"predictions":${JSON.stringify(predictions ?? null)}}`);
    },
  );
  return app;
}
