/**
 * A TLS-terminating gRPC proxy in front of the Temporal dev server (which has no TLS of its own),
 * doing what an ingress (nginx `grpc_pass`, Envoy, a cloud load balancer) does in production:
 * TLS with ALPN h2, client certificates required and checked against a CA (mTLS), and an API key
 * checked in the `authorization: Bearer <key>` header. Every accepted stream is forwarded as
 * h2c to the upstream, headers, messages and trailers alike; one upstream connection per client
 * connection.
 */
import http2, {
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
} from 'node:http2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface GrpcTlsProxyOptions {
  /** `host:port` of the plaintext gRPC server. */
  upstream: string;
  serverCert: string;
  serverKey: string;
  /** CA whose client certificates are accepted. */
  clientCa: string;
  /** The API key clients must send as `authorization: Bearer <key>`. */
  apiKey: string;
}

export interface GrpcTlsProxy {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** What the proxy refused, for assertions: `tls: <reason>` or `api key: <path>`. */
  readonly refusals: string[];
  close(): Promise<void>;
}

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, HTTP2_HEADER_STATUS } = http2.constants;
const UNAUTHENTICATED = '16';
const UNAVAILABLE = '14';

/** Request headers for the upstream: pseudo-headers and hop-by-hop ones are the proxy's own. */
function forwardedRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') && name !== ':method' && name !== ':path') continue;
    if (name === 'connection' || name === 'host') continue;
    out[name] = value;
  }
  return out;
}

/** A gRPC error answered by the proxy itself (trailers-only response). */
function grpcError(code: string, message: string): OutgoingHttpHeaders {
  return {
    [HTTP2_HEADER_STATUS]: 200,
    'content-type': 'application/grpc',
    'grpc-status': code,
    // gRPC's percent-encoding: only '%' and bytes outside printable ASCII.
    'grpc-message': message.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c)),
  };
}

export async function startGrpcTlsProxy(options: GrpcTlsProxyOptions): Promise<GrpcTlsProxy> {
  const refusals: string[] = [];
  const sessions = new Set<ServerHttp2Session | ClientHttp2Session>();
  const server = http2.createSecureServer({
    cert: readFileSync(options.serverCert),
    key: readFileSync(options.serverKey),
    ca: readFileSync(options.clientCa),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    allowHTTP1: false,
  });
  server.on('tlsClientError', (error: Error) => refusals.push(`tls: ${error.message}`));
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    let upstream: ClientHttp2Session | undefined;
    const upstreamSession = (): ClientHttp2Session => {
      if (!upstream || upstream.closed || upstream.destroyed) {
        const created = http2.connect(`http://${options.upstream}`);
        created.on('error', () => undefined);
        sessions.add(created);
        created.once('close', () => sessions.delete(created));
        upstream = created;
      }
      return upstream;
    };
    session.on('error', () => undefined);
    session.once('close', () => {
      sessions.delete(session);
      upstream?.close();
    });
    session.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      if (headers.authorization !== `Bearer ${options.apiKey}`) {
        refusals.push(`api key: ${String(headers[':path'])}`);
        stream.respond(
          grpcError(
            UNAUTHENTICATED,
            headers.authorization
              ? 'the proxy refused the API key (authorization: Bearer <key> does not match)'
              : 'the proxy requires an API key (authorization: Bearer <key>)',
          ),
          { endStream: true },
        );
        return;
      }
      const up = upstreamSession().request(forwardedRequestHeaders(headers));
      up.on('error', () => {
        if (!stream.headersSent && !stream.closed) {
          stream.respond(grpcError(UNAVAILABLE, `upstream ${options.upstream} unavailable`), {
            endStream: true,
          });
        } else if (!stream.closed) stream.close(NGHTTP2_INTERNAL_ERROR);
      });
      let trailers: OutgoingHttpHeaders | undefined;
      up.on('trailers', (received) => {
        trailers = { ...received };
      });
      up.on('response', (received, flags) => {
        if (stream.closed) return;
        const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        stream.respond(
          { ...received },
          endStream ? { endStream: true } : { waitForTrailers: true },
        );
        if (!endStream) up.pipe(stream);
      });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers ?? {}));
      stream.pipe(up);
      stream.once('close', () => {
        if (!up.closed) up.close(NGHTTP2_CANCEL);
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    refusals,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
