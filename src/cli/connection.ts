import type { Client, Connection, ConnectionOptions } from '@temporalio/client';
import { temporalClient } from '../temporal/lazy-modules.js';
import { CODEC_KEY_ENV, dataConverterFromEnv } from '../temporal/codec.js';
import type { HttpEndpoint } from '../temporal/http-api.js';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { isIP, connect as connectTcp } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import type { Command } from 'commander';
import {
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  TEMPORAL_HTTP_ADDRESS_ENV,
} from '../constants.js';
import { CliUsageError } from './errors.js';

/** How to reach Temporal: flags, else TEMPORAL_* environment variables, else localhost. */
export interface ConnectionCommandOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServerName?: string;
  apiKey?: string;
  /** Temporal's HTTP API (`--http-address`): `train` starts and follows a run there. */
  httpAddress?: string;
}

export function addConnectionOptions(command: Command): Command {
  return (
    command
      .option(
        '--address <host:port>',
        'Temporal frontend (env TEMPORAL_ADDRESS)',
        process.env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS,
      )
      .option(
        '--namespace <ns>',
        'Temporal namespace (env TEMPORAL_NAMESPACE)',
        process.env.TEMPORAL_NAMESPACE ?? DEFAULT_TEMPORAL_NAMESPACE,
      )
      .option(
        '--task-queue <name>',
        "task queue of workers and train (env TEMPORAL_TASK_QUEUE; default: the project's own, temporal-mlflow/<project>/<env>)",
        process.env.TEMPORAL_TASK_QUEUE,
      )
      .option(
        '--tls-cert <file>',
        'client certificate for mTLS (env TEMPORAL_TLS_CLIENT_CERT_PATH)',
        process.env.TEMPORAL_TLS_CLIENT_CERT_PATH,
      )
      .option(
        '--tls-key <file>',
        'client key for mTLS (env TEMPORAL_TLS_CLIENT_KEY_PATH)',
        process.env.TEMPORAL_TLS_CLIENT_KEY_PATH,
      )
      .option(
        '--tls-ca <file>',
        'server CA certificate (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)',
        process.env.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
      )
      .option(
        '--tls-server-name <name>',
        'server name for TLS (env TEMPORAL_TLS_SERVER_NAME)',
        process.env.TEMPORAL_TLS_SERVER_NAME,
      )
      // No default from the environment here: commander would print the key in --help.
      .option(
        '--api-key <key>',
        'API key (env TEMPORAL_API_KEY; prefer the variable: flags show in ps)',
      )
  );
}

/** Connection options for the client and the worker's native connection. */
export function connectionOptionsFrom(
  options: ConnectionCommandOptions,
): ConnectionOptions & NativeConnectionOptions {
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) {
    throw new CliUsageError(
      '--tls-cert and --tls-key go together: give both for mTLS, or neither.',
    );
  }
  const apiKey = options.apiKey ?? process.env.TEMPORAL_API_KEY;
  const tls =
    options.tlsCert || options.tlsCa || options.tlsServerName || apiKey
      ? {
          ...(options.tlsCert && options.tlsKey
            ? {
                clientCertPair: {
                  crt: readFileSync(options.tlsCert),
                  key: readFileSync(options.tlsKey),
                },
              }
            : {}),
          ...(options.tlsCa ? { serverRootCACertificate: readFileSync(options.tlsCa) } : {}),
          ...(options.tlsServerName ? { serverNameOverride: options.tlsServerName } : {}),
        }
      : undefined;
  return {
    address: options.address ?? DEFAULT_TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}

/**
 * Temporal's HTTP API to start and follow a workflow without the gRPC client, or why there is none.
 * From `--http-address`, else TEMPORAL_HTTP_ADDRESS when the gRPC address is the environment's
 * too (an `--address` of another server never pairs with the environment's HTTP address). Not
 * used with a payload codec (the input would go unencrypted), nor over plain HTTP when the gRPC
 * connection has TLS settings or an API key.
 */
export function httpEndpointFrom(
  options: ConnectionCommandOptions,
): { endpoint: HttpEndpoint } | { skipped: string } {
  const envAddress = process.env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS;
  const given =
    options.httpAddress ??
    ((options.address ?? envAddress) === envAddress
      ? process.env[TEMPORAL_HTTP_ADDRESS_ENV]
      : undefined);
  if (!given) return { skipped: `no HTTP address (--http-address, ${TEMPORAL_HTTP_ADDRESS_ENV})` };
  if (process.env[CODEC_KEY_ENV]) return { skipped: `a payload codec is set (${CODEC_KEY_ENV})` };
  // The same TLS settings and API key as the gRPC connection's.
  const { tls, apiKey } = connectionOptionsFrom(options);
  const secured = Boolean(tls || apiKey);
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(given) ? given : `${secured ? 'https' : 'http'}://${given}`);
  } catch {
    url = new URL('invalid:');
  }
  if (!['http:', 'https:'].includes(url.protocol) || !url.hostname) {
    throw new CliUsageError(
      `${options.httpAddress ? '--http-address' : TEMPORAL_HTTP_ADDRESS_ENV} must be Temporal's HTTP API as http(s)://host:port, got '${given}'.`,
    );
  }
  // The gRPC connection is secured: the HTTP one must be too (it would carry the same data).
  if (secured && url.protocol === 'http:')
    return {
      skipped: apiKey
        ? 'an API key is never sent over plain HTTP'
        : 'TLS settings are given: the HTTP API is used over HTTPS only',
    };
  const settings = tls && typeof tls === 'object' ? tls : {};
  return {
    endpoint: {
      url,
      ...(apiKey ? { apiKey } : {}),
      ...(url.protocol === 'https:'
        ? {
            tls: {
              ...(settings.serverRootCACertificate ? { ca: settings.serverRootCACertificate } : {}),
              ...(settings.clientCertPair
                ? { cert: settings.clientCertPair.crt, key: settings.clientCertPair.key }
                : {}),
              ...(settings.serverNameOverride ? { serverName: settings.serverNameOverride } : {}),
            },
          }
        : {}),
    },
  };
}

/**
 * Runs `body` with a Temporal client for the command's connection options (see
 * `lazyTemporalClient`), and closes the connection afterwards.
 */
export async function withTemporalClient<T>(
  options: ConnectionCommandOptions,
  body: (client: Client) => Promise<T>,
): Promise<T> {
  const client = lazyTemporalClient(options);
  try {
    return await body(await client.get());
  } finally {
    await client.close();
  }
}

/**
 * A Temporal client for the command's connection options (payloads encrypted when
 * TEMPORAL_MLFLOW_CODEC_KEY is set), connected on the first `get()`; `close()` closes its
 * connection if it was made.
 */
export function lazyTemporalClient(options: ConnectionCommandOptions): {
  get(): Promise<Client>;
  close(): Promise<void>;
} {
  let connecting: Promise<Connection> | undefined;
  let client: Promise<Client> | undefined;
  return {
    get() {
      client ??= (async () => {
        connecting = connectClient(options);
        const connection = await connecting;
        const dataConverter = dataConverterFromEnv();
        const { Client } = temporalClient();
        return new Client({
          connection,
          namespace: options.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
          ...(dataConverter ? { dataConverter } : {}),
        });
      })();
      return client;
    },
    async close() {
      const connection = await connecting?.catch(() => undefined);
      await connection?.close();
    },
  };
}

/**
 * Calls `poll` every `intervalMs` (the first time after `firstAfterMs`, default `intervalMs`), one
 * call at a time. `stop()` aborts the call in flight (its signal) and waits for it to settle, so no
 * query outlives the connection and none delays the end: a query of a workflow that just completed
 * may wait for a worker to replay its history.
 */
export function pollEvery(
  intervalMs: number,
  poll: (signal: AbortSignal) => Promise<void>,
  options: { firstAfterMs?: number } = {},
): { stop(): Promise<void> } {
  let inFlight: { done: Promise<void>; abort: AbortController } | undefined;
  const tick = (): void => {
    if (inFlight) return;
    const abort = new AbortController();
    const done = poll(abort.signal)
      .catch(() => undefined)
      .finally(() => (inFlight = undefined));
    inFlight = { done, abort };
  };
  let timer: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    tick();
    timer = setInterval(tick, intervalMs);
  }, options.firstAfterMs ?? intervalMs);
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      inFlight?.abort.abort();
      await inFlight?.done;
    },
  };
}

/** Temporal could not be reached, or refused this client: the message names the address and why. */
export class TemporalConnectionError extends Error {
  override readonly name = 'TemporalConnectionError';
  constructor(
    readonly address: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot connect to Temporal at ${address}: ${reason}`, options);
  }
}

/** `Connection.connect` (the client's), its failures explained by `explainConnectionFailure`. */
export async function connectClient(options: ConnectionCommandOptions): Promise<Connection> {
  const { Connection } = temporalClient();
  return connectExplained(() => Connection.connect(connectionOptionsFrom(options)), options);
}

/** `NativeConnection.connect` (the worker's), its failures explained by `explainConnectionFailure`. */
export async function connectNative(options: ConnectionCommandOptions): Promise<NativeConnection> {
  // @temporalio/worker (its native core, ~0.5 s to load) only for the commands that run a worker.
  const { NativeConnection } = await import('@temporalio/worker');
  return connectExplained(() => NativeConnection.connect(connectionOptionsFrom(options)), options);
}

/** After this long without a connection, the endpoint is probed, so a hopeless attempt ends early. */
const DIAGNOSE_AFTER_MS = 1500;

/**
 * Connects; a failure becomes a `TemporalConnectionError`. The client's connect retries until its
 * 10 s deadline: when it has not succeeded after 1.5 s and a probe of the endpoint finds the cause
 * (TLS expected, untrusted certificate...), that error is thrown at once.
 */
async function connectExplained<T extends { close(): Promise<void> }>(
  connect: () => Promise<T>,
  options: ConnectionCommandOptions,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const connecting = connect();
  const early = new Promise<string | undefined>((resolve) => {
    timer = setTimeout(
      () => void diagnoseEndpoint(options).then(resolve, () => resolve(undefined)),
      DIAGNOSE_AFTER_MS,
    );
  });
  try {
    const diagnosed = early.then<T | string>((reason) => reason ?? connecting);
    diagnosed.catch(() => undefined); // connect's own failure is handled below
    const first = await Promise.race<T | string>([connecting, diagnosed]);
    if (typeof first !== 'string') return first;
    // The probe found why: give up now, and close the connection should it succeed after all.
    void connecting.then((connection) => connection.close()).catch(() => undefined);
    throw new TemporalConnectionError(options.address ?? DEFAULT_TEMPORAL_ADDRESS, first);
  } catch (error) {
    if (error instanceof TemporalConnectionError) throw error;
    throw await explainConnectionFailure(error, options);
  } finally {
    clearTimeout(timer);
  }
}

/** Certificate verification failures: the server's certificate is not signed by a trusted CA. */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** What a connection attempt showed about the endpoint, for `explainConnectionFailure`. */
type TcpProbe = { kind: 'tcp'; code: string };
type TlsProbe =
  | { kind: 'tls-error'; code: string; message: string }
  | { kind: 'not-tls' }
  | {
      kind: 'handshake';
      socket: TLSSocket;
      /** The server certificate's subject and issuer. */
      subject?: Record<string, unknown>;
      issuer?: Record<string, unknown>;
      /** What followed the handshake: the server's first frame, an alert, or a close. */
      after?: { code?: string; message: string } | 'data' | 'closed';
    };

function hostAndPort(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  return match ? { host: match[1]!, port: Number(match[2]) } : { host: address, port: 7233 };
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<TcpProbe | undefined> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const done = (probe: TcpProbe | undefined): void => {
      socket.destroy();
      resolve(probe);
    };
    socket.setTimeout(timeoutMs, () => done({ kind: 'tcp', code: 'ETIMEDOUT' }));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({ kind: 'tcp', code: error.code ?? error.message }),
    );
  });
}

/**
 * A TLS handshake with the client's own settings (CA, client certificate, server name, ALPN h2),
 * certificate checks recorded instead of enforced; then a short wait for the server's first
 * HTTP/2 frame, or for the alert by which a TLS 1.3 server refuses a client certificate.
 */
function probeTls(
  host: string,
  port: number,
  options: ConnectionCommandOptions,
  timeoutMs: number,
): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const servername = options.tlsServerName ?? (isIP(host) ? undefined : host);
    const socket = connectTls({
      host,
      port,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
      ...(servername ? { servername } : {}),
      ...(options.tlsCa ? { ca: readFileSync(options.tlsCa) } : {}),
      ...(options.tlsCert && options.tlsKey
        ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
        : {}),
    });
    let handshake = false;
    const timer = setTimeout(() => finish(handshake ? 'data' : undefined), timeoutMs);
    const finish = (after?: { code?: string; message: string } | 'data' | 'closed'): void => {
      clearTimeout(timer);
      // Read before destroy(): a destroyed socket has no peer certificate.
      const certificate = handshake ? socket.getPeerCertificate() : undefined;
      socket.destroy();
      if (handshake)
        resolve({
          kind: 'handshake',
          socket,
          ...(certificate
            ? {
                subject: certificate.subject as unknown as Record<string, unknown>,
                issuer: certificate.issuer as unknown as Record<string, unknown>,
              }
            : {}),
          ...(after ? { after } : {}),
        });
      else if (after && typeof after === 'object')
        resolve(
          /wrong version number|packet length too long|unknown protocol/i.test(after.message)
            ? { kind: 'not-tls' }
            : { kind: 'tls-error', code: after.code ?? '', message: after.message },
        );
      else resolve({ kind: 'tls-error', code: 'ETIMEDOUT', message: 'no TLS handshake' });
    };
    socket.once('secureConnect', () => {
      handshake = true;
      // A server that accepted us speaks first (its HTTP/2 SETTINGS); one that did not sends an alert.
      socket.once('data', () => finish('data'));
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ ...(error.code ? { code: error.code } : {}), message: error.message }),
    );
    socket.once('close', () => finish('closed'));
  });
}

/** `CN=x` of a certificate's subject or issuer. */
const cn = (name: Record<string, unknown> | undefined): string =>
  name && typeof name.CN === 'string' ? `CN=${name.CN}` : 'an unnamed certificate';

/** The gRPC status in a client or native connection error, e.g. `UNAUTHENTICATED: bad key`. */
function grpcRefusal(error: unknown): string | undefined {
  const texts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) texts.push(e.message);
  const text = texts.join('\n');
  const grpc = /\b(16 UNAUTHENTICATED|7 PERMISSION_DENIED): ([^\n]*)/.exec(text);
  if (grpc) return `${grpc[1]!.replace(/^\d+ /, '')}: ${decodeURIComponent(grpc[2]!)}`;
  const native =
    /code: '(The request does not have valid authentication credentials|The caller does not have permission[^']*)', message: "([^"]*)"/.exec(
      text,
    );
  if (native)
    return `${native[1]!.startsWith('The request') ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED'}: ${native[2]}`;
  return undefined;
}

/**
 * Turns a failed connection into a `TemporalConnectionError` that names the address and the cause
 * (a refused API key, or what `diagnoseEndpoint` finds). Secrets (the API key, private keys) never
 * appear in the message.
 */
export async function explainConnectionFailure(
  error: unknown,
  options: ConnectionCommandOptions,
): Promise<TemporalConnectionError> {
  const address = options.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const fail = (reason: string): TemporalConnectionError =>
    new TemporalConnectionError(address, reason, { cause: error });
  const refusal = grpcRefusal(error);
  if (refusal) {
    return fail(
      `the server refused this client's credentials (${refusal}). ` +
        ((options.apiKey ?? process.env.TEMPORAL_API_KEY)
          ? 'Check the API key (--api-key or TEMPORAL_API_KEY) and that it is valid for this namespace.'
          : 'It expects an API key: set TEMPORAL_API_KEY (or --api-key).'),
    );
  }
  return fail(
    (await diagnoseEndpoint(options)) ?? (error instanceof Error ? error.message : String(error)),
  );
}

/**
 * Why the endpoint cannot be reached with these settings, found by probing it with them: nothing
 * listening, TLS expected or not offered, an untrusted server certificate, a missing or refused
 * client certificate; `undefined` when TCP and TLS look right.
 */
export async function diagnoseEndpoint(
  options: ConnectionCommandOptions,
): Promise<string | undefined> {
  const address = options.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const apiKey = options.apiKey ?? process.env.TEMPORAL_API_KEY;
  const { host, port } = hostAndPort(address);
  const tcp = await probeTcp(host, port, 3000);
  if (tcp) {
    return tcp.code === 'ECONNREFUSED'
      ? 'nothing accepts connections there (ECONNREFUSED). Is the server, or its TLS proxy, running, and is the port right (--address, TEMPORAL_ADDRESS)?'
      : tcp.code === 'ENOTFOUND' || tcp.code === 'EAI_AGAIN'
        ? `the host name '${host}' does not resolve (${tcp.code}).`
        : `the TCP connection failed (${tcp.code}).`;
  }
  const usesTls = Boolean(options.tlsCa || options.tlsCert || options.tlsServerName || apiKey);
  const probe = await probeTls(host, port, options, 3000);
  if (!usesTls) {
    return probe.kind === 'not-tls'
      ? undefined
      : 'the server speaks TLS and this client connected in plaintext. Pass --tls-ca <file> (the CA of ' +
          "the server's certificate; TEMPORAL_TLS_SERVER_CA_CERT_PATH) to use TLS; --api-key and --tls-cert imply it.";
  }
  if (probe.kind === 'not-tls') {
    return 'TLS was requested (--tls-ca, --tls-cert or an API key) but the server answers in plaintext: drop the TLS settings, or connect to the TLS endpoint.';
  }
  if (probe.kind === 'tls-error') {
    return `the TLS handshake failed (${probe.code || probe.message}).`;
  }
  const { socket, after } = probe;
  const authorizationError = String(socket.authorizationError ?? '');
  if (!socket.authorized && authorizationError) {
    const presented = `${cn(probe.subject)}, issued by ${cn(probe.issuer)}`;
    if (UNTRUSTED_CERTIFICATE.has(authorizationError)) {
      return `the server's certificate (${presented}) is not signed by ${
        options.tlsCa ? `the CA in --tls-ca ${options.tlsCa}` : 'a CA this system trusts'
      } (${authorizationError}). Pass the CA that signed it with --tls-ca (TEMPORAL_TLS_SERVER_CA_CERT_PATH).`;
    }
    if (authorizationError === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return `the server's certificate (${presented}) is not valid for '${options.tlsServerName ?? host}' (${authorizationError}). Pass the name it was issued for with --tls-server-name.`;
    }
    return `the server's certificate (${presented}) was rejected (${authorizationError}).`;
  }
  if (after && typeof after === 'object') {
    const alert = `${after.code ?? ''} ${after.message}`;
    if (/CERTIFICATE_REQUIRED|certificate required/i.test(alert)) {
      return 'the server requires a client certificate (mTLS) and this client sent none. Pass --tls-cert and --tls-key (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH).';
    }
    if (/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|unknown ca|bad certificate/i.test(alert)) {
      return `the server refused the client certificate --tls-cert ${options.tlsCert ?? '?'} (${after.code ?? after.message}): it is not signed by a CA the server trusts.`;
    }
    return `the server ended the TLS session (${after.code ?? after.message}).`;
  }
  if (after === 'closed') {
    return options.tlsCert
      ? `the server closed the connection after the TLS handshake: it may not accept the client certificate --tls-cert ${options.tlsCert}.`
      : 'the server closed the connection after the TLS handshake: it may require a client certificate (--tls-cert, --tls-key).';
  }
  if (socket.alpnProtocol !== 'h2') {
    return `the TLS endpoint does not offer HTTP/2 (ALPN h2, which gRPC needs; it chose ${socket.alpnProtocol || 'none'}): is it a gRPC endpoint?`;
  }
  return undefined;
}
