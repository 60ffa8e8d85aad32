import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { dataConverterFromEnv } from '../temporal/codec.js';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_TEMPORAL_ADDRESS, DEFAULT_TEMPORAL_NAMESPACE } from '../constants.js';
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
}

export function addConnectionOptions(command: Command): Command {
  return command
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
    .option('--api-key <key>', 'API key (env TEMPORAL_API_KEY; prefer the variable: flags show in ps)');
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
 * Runs `body` with a Temporal client for the command's connection options (payloads encrypted
 * when TEMPORAL_MLFLOW_CODEC_KEY is set), and closes the connection afterwards.
 */
export async function withTemporalClient<T>(
  options: ConnectionCommandOptions,
  body: (client: Client) => Promise<T>,
): Promise<T> {
  const connection = await Connection.connect(connectionOptionsFrom(options));
  try {
    const dataConverter = dataConverterFromEnv();
    return await body(
      new Client({
        connection,
        namespace: options.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
        ...(dataConverter ? { dataConverter } : {}),
      }),
    );
  } finally {
    await connection.close();
  }
}

/**
 * Calls `poll` every `intervalMs`, one call at a time; `stop()` waits for the call in flight, so
 * no query outlives the connection.
 */
export function pollEvery(
  intervalMs: number,
  poll: () => Promise<void>,
): { stop(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    inFlight ??= poll()
      .catch(() => undefined)
      .finally(() => (inFlight = undefined));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
