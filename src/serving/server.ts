/**
 * The MLflow-compatible scoring server: `GET /ping`, `GET /health`, `GET /version`,
 * `POST /invocations` → `{"predictions": ...}`, with MLflow's JSON errors `{"error_code", "message"}`.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type Fastify from 'fastify';
import type { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignatureValidationError } from '../model/signature.js';
import { readBody } from './body.js';
import { ServerBusyError, toServingError } from './errors.js';
import { compileScoringServerOptions } from './options.js';
import type { ScoringServerOptions } from './options.js';
import { lazyChildLogger } from './lazy-logger.js';
import { parseContentType, SUPPORTED_CONTENT_TYPES } from './parse-request.js';
import { RequestScorer, type RunWork, type Scored } from './scoring.js';
import { BackToBack } from './back-to-back.js';
import { folderSource, ScoringThreadPool } from './scoring-threads.js';
import { runSliced } from './slicing.js';
import type { ScoringModel } from './types.js';
import { createRequire } from 'node:module';

export type { ScoringServerOptions } from './options.js';
export { DEFAULT_BODY_LIMIT_BYTES } from './options.js';
export { toServingError } from './errors.js';

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
const JSON_TYPE = 'application/json';
/** What fastify would make of JSON_TYPE (it adds the charset): set as is, it is not rebuilt per answer. */
const JSON_UTF8 = 'application/json; charset=utf-8';

const DEBUG_LEVELS = new Set(['debug', 'trace']);
const HELD = Symbol('held');
/** A request counted in flight, with the body bytes it reserved. */
type Counted = FastifyRequest & { [HELD]?: number };

/**
 * One log line per request (method, url, status, ms) instead of fastify's two, at debug level: a
 * line per request at info would cost a large share of the throughput. Failures are logged where
 * they are handled, at warn or error.
 */
function oneLinePerRequest(Base: typeof LogController): LogController {
  return new (class extends Base {
    override incomingRequest(): void {}
    override requestCompleted(
      error: Error | null | undefined,
      request: FastifyRequest,
      reply: FastifyReply,
    ): void {
      if (!error && !DEBUG_LEVELS.has(reply.log.level)) return;
      const line = {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      };
      if (error) reply.log.error({ ...line, err: error }, 'request errored');
      else reply.log.debug(line, 'request');
    }
  })();
}

const require = createRequire(import.meta.url);

/** fastify, loaded when a scoring server is made rather than with the package (CLI start-up). */
const loadFastify = (): { default: typeof Fastify; LogController: typeof LogController } =>
  require('fastify') as { default: typeof Fastify; LogController: typeof LogController };

/** Bodies smaller than this are parsed and checked without pausing (a fraction of a slice). */
const SYNC_BELOW_BYTES = 16 * 1024;

/** How long a refused body is read (and dropped) before the 413 is sent anyway. */
const DISCARD_TIMEOUT_MS = 30_000;

/** Reads the rest of a request body without keeping it, up to `maxBytes` or `timeoutMs`. */
function discardBody(raw: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('close', finish);
      raw.off('error', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    raw.on('data', onData);
    raw.on('end', finish);
    raw.on('close', finish);
    raw.on('error', finish);
    raw.resume();
  });
}

/**
 * Builds (does not start) a fastify scoring server for a loaded model. Inputs are checked against
 * the model signature before `predict` (as MLflow does, or strictly with `strict`); an error thrown
 * by `predict` is answered, as MLflow does, with 400 `BAD_REQUEST` and its message (a
 * `ServingError` keeps its own code and status).
 *
 * Requests whose body is `threadThresholdBytes` or more are scored in worker threads that load
 * their own copy of the model (see `threads`, `threadModel`); smaller ones on the event loop, in
 * time slices (small ones read in the same turn of the loop back to back, see `BackToBack`).
 * Health checks are answered meanwhile. At most `maxInFlight` requests, holding at most
 * `maxInFlightBytes` of body, are accepted at once; the next ones are answered 503 with
 * `Retry-After` before their body is read. The threads start with the server; `listen` (fastify's
 * `ready`) waits until they have loaded the model.
 */
export function createScoringServer(
  model: ScoringModel,
  options: ScoringServerOptions = {},
): FastifyInstance {
  const opts = compileScoringServerOptions(options);
  const bodyLimit = opts.bodyLimitBytes;
  const fastify = loadFastify();
  const app = fastify.default({
    logger: opts.logger,
    bodyLimit,
    logController: oneLinePerRequest(fastify.LogController),
    // A request's logger (with its reqId) is made when it logs, not for every request.
    childLoggerFactory: lazyChildLogger,
    return503OnClosing: true,
  });
  const scorer = new RequestScorer(model, opts);
  const runOnLoop: RunWork = (work) => runSliced(work, opts.sliceMs);
  const backToBack = new BackToBack<{ body: Buffer | undefined; contentType?: string }, Scored>(
    ({ body, contentType }) =>
      scorer.scoreNow(body === undefined ? '' : body.toString('utf8'), contentType),
    opts.sliceMs,
  );
  const threadModel =
    opts.threadModel ??
    (typeof model.metadata.dir === 'string' ? folderSource(model.metadata.dir) : undefined);
  let pool: ScoringThreadPool | undefined;
  app.addHook('onReady', async () => {
    if (opts.threads === 0 || !threadModel || pool) return;
    pool = new ScoringThreadPool(
      {
        source: threadModel,
        strict: opts.strict,
        maxRecords: opts.maxRecords,
        maxColumns: opts.maxColumns,
        bodyLimitBytes: bodyLimit,
      },
      opts.threads,
      (level, message) => app.log[level](message),
    );
    await pool.ready;
  });
  app.addHook('onClose', async () => {
    await pool?.close();
  });

  const versionBody = JSON.stringify({
    version: PACKAGE_VERSION,
    flavor_version: model.metadata.flavorVersion,
    ...(model.metadata.modelId ? { model_id: model.metadata.modelId } : {}),
    ...(model.metadata.runId ? { run_id: model.metadata.runId } : {}),
  });

  // Requests in flight and the body bytes they hold: counted before the body is read, released
  // once the handler has answered, or by the error handler (also when the client went away while
  // its body was being read).
  let inFlight = 0;
  let heldBytes = 0;
  const release = (req: Counted) => {
    const held = req[HELD];
    if (held !== undefined) {
      req[HELD] = undefined;
      inFlight--;
      heldBytes -= held;
    }
  };

  // Bodies are read as bytes whatever their type (a large one goes to a thread as is);
  // /invocations checks the type before reading.
  // The supported types are registered by name as well as '*': fastify caches the parser of a
  // named type per header, while a catch-all one is looked up (the header parsed) on every request.
  app.removeAllContentTypeParsers();
  for (const type of [[...SUPPORTED_CONTENT_TYPES], '*'])
    app.addContentTypeParser(type, (req, payload, done) =>
      readBody(req.raw, payload, bodyLimit, done),
    );

  app.setErrorHandler(async (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const se = toServingError(err, bodyLimit);
    if (se.status >= 500) req.log.error({ err }, 'internal error');
    else if (se.cause && !(se.cause instanceof SignatureValidationError))
      req.log.warn({ err: se.cause }, se.message);
    // A body over the limit is refused before it is read: read the rest (and drop it) before
    // answering, or the client, still sending, gets a connection reset instead of the 413.
    if (se.status === 413) await discardBody(req.raw, 4 * bodyLimit, DISCARD_TIMEOUT_MS);
    release(req);
    return reply.code(se.status).type(JSON_TYPE).send(JSON.stringify(se.toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type(JSON_TYPE)
      .send(
        JSON.stringify({
          error_code: 'ENDPOINT_NOT_FOUND',
          message: `No route ${req.method} ${req.url}; routes: GET /ping, GET /health, GET /version, POST /invocations`,
        }),
      );
  });

  const ping = (_req: FastifyRequest, reply: FastifyReply) => reply.type(JSON_TYPE).send(PING_BODY);
  app.get('/ping', ping);
  app.get('/health', ping);
  app.get('/version', (_req, reply) => reply.type(JSON_TYPE).send(versionBody));

  const busy = (reply: FastifyReply, bytes: boolean) =>
    void reply
      .code(503)
      .header('retry-after', String(opts.retryAfterSeconds))
      .header('connection', 'close')
      .type(JSON_TYPE)
      .send(
        JSON.stringify(
          new ServerBusyError(
            opts.maxInFlight,
            opts.retryAfterSeconds,
            bytes ? opts.maxInFlightBytes : undefined,
          ).toJSON(),
        ),
      );

  /** Scores a request whose body was read: in a thread when large, on the event loop otherwise. */
  const answer = async (req: Counted, reply: FastifyReply) => {
    const body = req.body as Buffer | undefined;
    req.body = undefined; // the records replace it: let a large body be collected early
    const contentType = req.headers['content-type'];
    if (pool?.available && body && body.length >= opts.threadThresholdBytes) {
      const threaded = await pool.score(body, contentType);
      for (const warning of threaded.warnings) req.log.warn(warning);
      if (threaded.log)
        req.log[threaded.log.level]({ err: threaded.log.error }, threaded.log.message);
      return reply.code(threaded.status).type(JSON_TYPE).send(threaded.json);
    }
    // A small body is scored in one go (well under a slice), back to back with the others read in
    // this turn of the loop; a larger one in time slices.
    const { json, warnings } =
      body === undefined || body.length < SYNC_BELOW_BYTES
        ? await backToBack.run({ body, contentType })
        : await scorer.score(body.toString('utf8'), contentType, runOnLoop);
    for (let i = 0; i < warnings.length; i++) req.log.warn(warnings[i]);
    return reply.type(JSON_UTF8).send(json);
  };
  app.post(
    '/invocations',
    {
      // Before the body is read: refuse when every slot (or the body budget) is taken, or for an
      // unsupported Content-Type.
      onRequest: (req: Counted, reply, done) => {
        const declared = Number(req.headers['content-length']);
        const bytes =
          Number.isSafeInteger(declared) && declared >= 0
            ? Math.min(declared, bodyLimit)
            : bodyLimit;
        if (inFlight >= opts.maxInFlight) return busy(reply, false);
        if (inFlight > 0 && heldBytes + bytes > opts.maxInFlightBytes) return busy(reply, true);
        inFlight++;
        heldBytes += bytes;
        req[HELD] = bytes;
        try {
          parseContentType(req.headers['content-type']);
          done();
        } catch (e) {
          done(e as Error);
        }
      },
    },
    // Not an async function: the answer is sent when it is ready, without a promise per request
    // for fastify to wait on; a failure goes to the error handler (which releases the slot too).
    (req: Counted, reply) => {
      answer(req, reply).then(
        () => release(req),
        (e: unknown) => void reply.send(e instanceof Error ? e : new Error(String(e))),
      );
    },
  );

  return app;
}
