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
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { CodecDecryptError, CodecKeyError, createEncryptionCodec } from './codec.js';

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
  /** Largest request body in bytes. @default 16 MiB */
  bodyLimit?: number;
  /** Log requests with fastify's logger. @default false */
  logger?: boolean;
}

/** Options of {@link serveCodec}. */
export interface ServeCodecOptions extends CodecServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
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
export function createCodecServer(options: CodecServerOptions = {}): FastifyInstance {
  const codec = options.codec ?? createEncryptionCodec();
  const origins = new Set(options.corsOrigins ?? []);
  const anyOrigin = origins.has('*');
  const app = Fastify({
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
  const app = createCodecServer(options);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 8888 });
  const { port } = app.server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return { app, url: `http://${urlHost}:${port}`, close: () => app.close() };
}
