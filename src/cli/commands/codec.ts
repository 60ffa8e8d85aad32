import type { Command } from 'commander';
import {
  CODEC_TOKEN_ENV,
  CodecServerConfigError,
  serveCodec,
} from '../../temporal/codec-server.js';
import { CODEC_KEY_ENV, generateCodecKey } from '../../temporal/codec.js';
import { portNumber } from '../common.js';
import { CliUsageError } from '../errors.js';

interface CodecServerCommandOptions {
  host: string;
  port: string;
  corsOrigin?: string[];
  tokenEnv: string;
  insecureNoToken?: boolean;
}

/** `codec-key` and `codec-server`: payload encryption for Temporal history and the Web UI. */
export function registerCodecCommands(program: Command): void {
  program
    .command('codec-key')
    .description(`print a new AES-256 key for ${CODEC_KEY_ENV}`)
    .action(() => {
      console.log(generateCodecKey());
    });

  program
    .command('codec-server')
    .description("serve Temporal's remote codec protocol so the Web UI can show encrypted payloads")
    .option(
      '--host <host>',
      'interface to listen on (beyond loopback a token is required)',
      '127.0.0.1',
    )
    .option('--port <port>', 'port', '8888')
    .option('--cors-origin <origin...>', "the Web UI's origin(s), e.g. http://localhost:8233")
    .option(
      '--token-env <var>',
      'environment variable holding the bearer token clients must send (never pass the token itself as a flag)',
      CODEC_TOKEN_ENV,
    )
    .option(
      '--insecure-no-token',
      'serve beyond loopback without a token (only behind a gateway that authenticates)',
      false,
    )
    .action(async (options: CodecServerCommandOptions) => {
      // Empty counts as unset (compose passes `${VAR:-}`).
      const token = process.env[options.tokenEnv]?.trim()
        ? process.env[options.tokenEnv]
        : undefined;
      const port = portNumber('--port', options.port);
      let handle;
      try {
        handle = await serveCodec({
          host: options.host,
          port,
          corsOrigins: options.corsOrigin ?? [],
          ...(token ? { token } : {}),
          allowUnauthenticated: Boolean(options.insecureNoToken),
        });
      } catch (error) {
        if (error instanceof CodecServerConfigError) {
          throw new CliUsageError(
            error.message
              .replace(CODEC_TOKEN_ENV, options.tokenEnv)
              .replace('allowUnauthenticated (--insecure-no-token)', '--insecure-no-token'),
            { cause: error },
          );
        }
        throw error;
      }
      // The token itself is never printed: only where it comes from.
      const auth = token
        ? `token required (from ${options.tokenEnv}; Temporal CLI: --codec-auth "Bearer $${options.tokenEnv}"; ` +
          `browsers sign in at ${handle.url}/login)`
        : `no token (${options.tokenEnv} unset): any local process can decrypt`;
      console.log(
        `codec server at ${handle.url}, ${auth} (start the UI with --ui-codec-endpoint ${handle.url})`,
      );
    });
}
