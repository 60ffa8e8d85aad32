/**
 * A codec server: Temporal's remote codec protocol over HTTP, so the Temporal Web UI and CLI can
 * show encrypted payloads in clear (and encode input typed in the UI) without the keys ever
 * reaching the Temporal server.
 *
 * Protocol: `POST .../encode` and `POST .../decode` with the protobuf JSON of `Payloads`
 * (`{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`) answer the same
 * shape. Only the last path segment counts, so `/<namespace>/decode` works for the CLI's
 * `--codec-endpoint 'http://host:8888/{namespace}'`; the UI sends the namespace in `X-Namespace`.
 * Browsers call it cross-origin from the UI, so the UI's origin must be listed in `corsOrigins`.
 *
 * Point the UI at it with `TEMPORAL_CODEC_ENDPOINT` (UI server), `--ui-codec-endpoint` (dev
 * server) or the UI's "Codec Server" settings; the CLI with `--codec-endpoint`.
 *
 * Anyone who reaches a codec server can decrypt and encrypt, so it listens on 127.0.0.1 by
 * default and, given a `token`, answers 401 to every encode/decode that does not carry it as
 * `Authorization: Bearer <token>` (the Temporal CLI's `--codec-auth`) or as the session cookie
 * `GET /login` sets for browsers (the Temporal UI sends it with "include cross-origin
 * credentials"). `serveCodec` refuses to listen beyond loopback with no token and no `authorize`
 * hook unless `allowUnauthenticated` is set.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createRequire } from 'node:module';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { CodecDecryptError, CodecKeyError, createEncryptionCodec } from './codec.js';

/** The environment variable holding the codec server's bearer token (CLI and compose). */
export const CODEC_TOKEN_ENV = 'TEMPORAL_MLFLOW_CODEC_TOKEN';
/** The cookie `/login` sets for browsers (it holds a value derived from the token, not the token). */
export const CODEC_SESSION_COOKIE = 'temporal_mlflow_codec_session';

/** The codec server's options are unsafe or contradictory (e.g. public without authentication). */
export class CodecServerConfigError extends Error {
  override readonly name = 'CodecServerConfigError';
}

/** Headers the Temporal UI and CLI send to a codec server. */
const ALLOWED_HEADERS = ['Content-Type', 'X-Namespace', 'Authorization'];
const ALLOWED_METHODS = ['POST', 'OPTIONS'];

/** Options of {@link createCodecServer}. */
export interface CodecServerOptions {
  /** The codec to run. @default createEncryptionCodec() (keys from the environment) */
  codec?: PayloadCodec;
  /**
   * Browser origins allowed to call the server — the Temporal UI's, e.g. `http://localhost:8080`.
   * `'*'` allows any origin. Non-browser clients (the CLI) need none.
   * @default []
   */
  corsOrigins?: readonly string[];
  /**
   * Called before every encode/decode with the request's namespace and headers (the UI can pass
   * the user's access token as `Authorization`); return false to answer 403.
   * @default every request allowed — keep the server on a private network
   */
  authorize?: (request: {
    namespace: string | undefined;
    headers: FastifyRequest['headers'];
  }) => boolean | Promise<boolean>;
  /**
   * Bearer token every encode/decode must carry: `Authorization: Bearer <token>`, or the session
   * cookie `GET /login` sets once the token was typed there. Others get 401. Read it from
   * `TEMPORAL_MLFLOW_CODEC_TOKEN`; never log it. Checked before `authorize`.
   * @default undefined — no token required
   */
  token?: string;
  /** Largest request body in bytes. @default 16 MiB */
  bodyLimit?: number;
  /** Log requests with fastify's logger. @default false */
  logger?: boolean;
}

/** Options of {@link serveCodec}. */
export interface ServeCodecOptions extends CodecServerOptions {
  /** Interface to listen on; anything but loopback needs `token` or `authorize`. @default '127.0.0.1' */
  host?: string;
  /** Listen beyond loopback with neither `token` nor `authorize` (behind your own gateway). @default false */
  allowUnauthenticated?: boolean;
  /** @default 8888 (0 = any free port) */
  port?: number;
}

/** A listening codec server. */
export interface CodecServerHandle {
  readonly app: FastifyInstance;
  /** Base URL to give the UI (`TEMPORAL_CODEC_ENDPOINT`) or the CLI (`--codec-endpoint`). */
  readonly url: string;
  close(): Promise<void>;
}

const jsonPayloadSchema = z.object({
  metadata: z.record(z.string(), z.string()).nullish(),
  data: z.string().nullish(),
});
const payloadsBodySchema = z.object({ payloads: z.array(jsonPayloadSchema) });
type JsonPayload = z.infer<typeof jsonPayloadSchema>;

/** Protobuf JSON → Payload (bytes fields are base64, standard or URL-safe). */
export function payloadFromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(data ?? '', 'base64'),
  };
}

/** Payload → protobuf JSON (empty `data` omitted, as protobuf JSON does). */
export function payloadToJson({ metadata, data }: Payload): JsonPayload {
  const json: JsonPayload = {
    metadata: Object.fromEntries(
      Object.entries(metadata ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value).toString('base64'),
      ]),
    ),
  };
  if (data && data.length > 0) json.data = Buffer.from(data).toString('base64');
  return json;
}

/** A fastify app serving the codec protocol (not listening yet; see {@link serveCodec}). */
/** SHA-256 of a secret, so comparisons run in constant time whatever the lengths. */
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
const sameSecret = (a: string, b: Buffer): boolean => timingSafeEqual(digest(a), b);

/** The session cookie's value for `token`: derived, so the cookie is not the token itself. */
export function codecSessionValue(token: string): string {
  return createHmac('sha256', token).update(CODEC_SESSION_COOKIE).digest('base64url');
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

const LOGIN_PAGE = `<!doctype html><meta charset="utf-8"><title>temporal-mlflow codec server</title>
<form method="post" action="login" style="font-family:sans-serif;margin:3em">
<p>Codec server token (<code>${CODEC_TOKEN_ENV}</code>):</p>
<input type="password" name="token" autofocus autocomplete="off" size="48">
<button type="submit">Sign in</button>
<p>Then enable "Include cross-origin credentials" in the Temporal UI's codec server settings.</p>
</form>`;

const require = createRequire(import.meta.url);

/** fastify, loaded when a codec server is made rather than with the package. */
const loadFastify = (): typeof Fastify =>
  (require('fastify') as { default: typeof Fastify }).default;

export function createCodecServer(options: CodecServerOptions = {}): FastifyInstance {
  const codec = options.codec ?? createEncryptionCodec();
  if (options.token !== undefined && options.token.trim() === '') {
    throw new CodecServerConfigError(
      `The codec server token is empty: set ${CODEC_TOKEN_ENV} to a long random value (e.g. \`openssl rand -base64 32\`), or leave it unset.`,
    );
  }
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  const sessionDigest =
    options.token === undefined ? undefined : digest(codecSessionValue(options.token));
  /** True when the request carries the token (header) or the session cookie. */
  const authenticated = (request: FastifyRequest): boolean => {
    if (tokenDigest === undefined || sessionDigest === undefined) return true;
    const header = request.headers.authorization;
    const bearer =
      typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim())?.[1] : undefined;
    if (bearer !== undefined && sameSecret(bearer, tokenDigest)) return true;
    const cookie = cookieValue(request.headers.cookie, CODEC_SESSION_COOKIE);
    return cookie !== undefined && sameSecret(cookie, sessionDigest);
  };
  const origins = new Set(options.corsOrigins ?? []);
  const anyOrigin = origins.has('*');
  const app = loadFastify()({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
  });

  /** Sets CORS headers when the request comes from an allowed origin; false when it comes from another. */
  const applyCors = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = request.headers.origin;
    reply.header('Vary', 'Origin');
    if (!origin) return true;
    if (!anyOrigin && !origins.has(origin)) return false;
    // Echo the origin (never '*') so the UI's "include cross-origin credentials" option works.
    reply.header('Access-Control-Allow-Origin', origin);
    reply.header('Access-Control-Allow-Credentials', 'true');
    return true;
  };

  const operationOf = (url: string): 'encode' | 'decode' | undefined => {
    const last = url.split('?')[0]?.replace(/\/+$/, '').split('/').pop();
    return last === 'encode' || last === 'decode' ? last : undefined;
  };
  const namespaceOf = (request: FastifyRequest): string | undefined => {
    const header = request.headers['x-namespace'];
    if (typeof header === 'string' && header) return header;
    const segments = request.url.split('?')[0]?.split('/').filter(Boolean) ?? [];
    return segments.length >= 2
      ? decodeURIComponent(segments[segments.length - 2] as string)
      : undefined;
  };

  app.get('/health', async () => ({ status: 'ok' }));

  // Browsers cannot add an Authorization header to the UI's calls: they sign in here once, and
  // the UI sends the cookie along when "include cross-origin credentials" is on.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.get('/login', async (_request, reply) => reply.type('text/html').send(LOGIN_PAGE));
  app.post('/login', async (request, reply) => {
    const token = (request.body as { token?: unknown } | undefined)?.token;
    if (options.token === undefined || tokenDigest === undefined)
      return reply.code(404).send({ error: 'This codec server has no token to sign in with.' });
    if (typeof token !== 'string' || !sameSecret(token, tokenDigest)) {
      return reply.code(401).type('text/html').send(`${LOGIN_PAGE}<p>Wrong token.</p>`);
    }
    // Same-site (the UI and the codec server on one host name) is enough for SameSite=Strict.
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header(
      'Set-Cookie',
      `${CODEC_SESSION_COOKIE}=${codecSessionValue(options.token)}; HttpOnly; SameSite=Strict; Path=/${secure}`,
    );
    return reply
      .type('text/html')
      .send('<p>Signed in to the codec server. Go back to the Temporal UI.</p>');
  });

  app.options('/*', async (request, reply) => {
    if (!operationOf(request.url))
      return reply.code(404).send({ error: 'Not found: use .../encode or .../decode.' });
    if (!applyCors(request, reply)) {
      return reply
        .code(403)
        .send({ error: `Origin ${request.headers.origin} is not allowed (corsOrigins).` });
    }
    reply.header('Access-Control-Allow-Methods', ALLOWED_METHODS.join(', '));
    reply.header('Access-Control-Allow-Headers', ALLOWED_HEADERS.join(', '));
    reply.header('Access-Control-Max-Age', '600');
    return reply.code(204).send();
  });

  app.post('/*', async (request, reply) => {
    const operation = operationOf(request.url);
    if (!operation)
      return reply.code(404).send({ error: 'Not found: use .../encode or .../decode.' });
    if (!applyCors(request, reply)) {
      return reply
        .code(403)
        .send({ error: `Origin ${request.headers.origin} is not allowed (corsOrigins).` });
    }
    if (!authenticated(request)) {
      reply.header('WWW-Authenticate', 'Bearer realm="temporal-mlflow codec server"');
      return reply.code(401).send({
        error:
          'Missing or wrong token: send Authorization: Bearer <token> (Temporal CLI: --codec-auth ' +
          `"Bearer $${CODEC_TOKEN_ENV}"), or sign in at /login for the Temporal UI.`,
      });
    }
    if (
      options.authorize &&
      !(await options.authorize({ namespace: namespaceOf(request), headers: request.headers }))
    ) {
      return reply.code(403).send({ error: 'Not authorized.' });
    }
    const body = payloadsBodySchema.safeParse(request.body);
    if (!body.success) {
      const issues = body.error.issues.map(
        (issue) => `✖ ${issue.message} → at ${issue.path.join('.') || '(body)'}`,
      );
      return reply.code(400).send({
        error: `Expected {"payloads":[{"metadata":{...},"data":"<base64>"}]}.\n${issues.join('\n')}`,
      });
    }
    const payloads = body.data.payloads.map(payloadFromJson);
    try {
      const result =
        operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      return reply
        .code(200)
        .type('application/json')
        .send({ payloads: result.map(payloadToJson) });
    } catch (error) {
      if (error instanceof CodecDecryptError || error instanceof CodecKeyError) {
        return reply.code(400).send({ error: error.message });
      }
      request.log.error(error);
      return reply
        .code(500)
        .send({ error: `Could not ${operation} payloads: ${(error as Error).message}` });
    }
  });

  return app;
}

/** Starts a codec server and resolves once it listens. */
export async function serveCodec(options: ServeCodecOptions = {}): Promise<CodecServerHandle> {
  const host = options.host ?? '127.0.0.1';
  if (
    !isLoopback(host) &&
    options.token === undefined &&
    options.authorize === undefined &&
    !options.allowUnauthenticated
  ) {
    throw new CodecServerConfigError(
      `Refusing to serve the codec on ${host} without authentication: anyone who reaches it could decrypt ` +
        `and encrypt payloads. Set ${CODEC_TOKEN_ENV} (a long random value; clients send it as ` +
        `Authorization: Bearer <token>), listen on 127.0.0.1, or pass allowUnauthenticated ` +
        `(--insecure-no-token) when a gateway in front authenticates.`,
    );
  }
  const app = createCodecServer(options);
  await app.listen({ host, port: options.port ?? 8888 });
  const { port } = app.server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { app, url: `http://${urlHost}:${port}`, close: () => app.close() };
}

/** True for the loopback interface (`127.0.0.0/8`, `::1`, `localhost`). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}
