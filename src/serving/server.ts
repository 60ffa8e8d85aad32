/**
 * The MLflow-compatible scoring server: `GET /ping`, `GET /health`, `GET /version`,
 * `POST /invocations` → `{"predictions": ...}`, with MLflow's JSON errors `{"error_code", "message"}`.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignatureValidationError } from '../model/signature.js';
import { enforceInputs, enforceParams } from './enforce-schema.js';
import {
  BadRequestError,
  InvalidParameterError,
  PayloadTooLargeError,
  ServerBusyError,
  ServingError,
} from './errors.js';
import { DEFAULT_BODY_LIMIT_BYTES, compileScoringServerOptions } from './options.js';
import type { ScoringServerOptions } from './options.js';
import { parseContentType, readScoringRequest } from './parse-request.js';
import { runSliced, type Sliced } from './slicing.js';
import type { ScoringModel } from './types.js';

export type { ScoringServerOptions } from './options.js';
export { DEFAULT_BODY_LIMIT_BYTES } from './options.js';

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

/** Predictions of more rows than this are serialised a slice at a time. */
const STRINGIFY_ROWS = 2000;

/** `{"predictions": ...}` as sliced work: a long list is serialised a few thousand rows at a time. */
function* stringifyPredictions(predictions: unknown): Sliced<string> {
  if (!Array.isArray(predictions) || predictions.length <= STRINGIFY_ROWS)
    return `{"predictions":${JSON.stringify(predictions ?? null)}}`;
  const parts: string[] = [];
  for (let i = 0; i < predictions.length; i += STRINGIFY_ROWS) {
    const json = JSON.stringify(predictions.slice(i, i + STRINGIFY_ROWS));
    parts.push(json.slice(1, -1));
    yield;
  }
  return `{"predictions":[${parts.filter((p) => p.length > 0).join(',')}]}`;
}

const IN_FLIGHT = Symbol('inFlight');
type Counted = FastifyRequest & { [IN_FLIGHT]?: boolean };

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
 * the model signature before `predict` (as MLflow does, or strictly with `strict`); an error thrown
 * by `predict` is answered, as MLflow does, with 400 `BAD_REQUEST` and its message (a
 * {@link ServingError} keeps its own code and status). Bodies are read in time slices, so health
 * checks are answered while large requests are processed; at most `maxInFlight` requests are
 * processed at once, the next ones are answered 503 with `Retry-After`.
 */
export function createScoringServer(
  model: ScoringModel,
  options: ScoringServerOptions = {},
): FastifyInstance {
  const opts = compileScoringServerOptions(options);
  const bodyLimit = opts.bodyLimitBytes;
  const app = Fastify({
    logger: opts.logger,
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

  let inFlight = 0;
  const release = (req: Counted) => {
    if (req[IN_FLIGHT]) {
      req[IN_FLIGHT] = false;
      inFlight--;
    }
  };
  app.addHook('onResponse', (req, _reply, done) => {
    release(req);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    release(req);
    done();
  });

  app.post(
    '/invocations',
    {
      // Before the body is read: refuse when every slot is taken, or for an unsupported Content-Type.
      onRequest: (req: Counted, reply, done) => {
        if (inFlight >= opts.maxInFlight) {
          void reply
            .code(503)
            .header('retry-after', String(opts.retryAfterSeconds))
            .header('connection', 'close')
            .type('application/json')
            .send(
              JSON.stringify(
                new ServerBusyError(opts.maxInFlight, opts.retryAfterSeconds).toJSON(),
              ),
            );
          return;
        }
        inFlight++;
        req[IN_FLIGHT] = true;
        try {
          parseContentType(req.headers['content-type']);
          done();
        } catch (e) {
          done(e as Error);
        }
      },
    },
    async (req, reply) => {
      const body = req.body as string | undefined;
      req.body = undefined; // the records replace it: let a large body be collected early
      const parsed = await readScoringRequest(body, req.headers['content-type'], inputs, opts);
      const records = await runSliced(
        enforceInputs(parsed.records, inputs, opts.strict, parsed.columns),
        opts.sliceMs,
      );
      const { params, ignored } = enforceParams(parsed.params, paramsSchema, opts.strict);
      if (ignored.length > 0)
        req.log.warn(
          `Unrecognized params ${ignored.map((p) => `'${p}'`).join(', ')} are ignored (the model declares ${paramsSchema?.length ? paramsSchema.map((p) => `'${p.name}'`).join(', ') : 'no params'})`,
        );
      for (const warning of parsed.warnings ?? []) req.log.warn(warning);
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
      const answer = await runSliced(stringifyPredictions(predictions), opts.sliceMs);
      return reply.type('application/json').send(answer);
    },
  );
  return app;
}
