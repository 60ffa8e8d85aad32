import type { Command } from 'commander';
import { serveCodec } from '../../temporal/codec-server.js';
import { CODEC_KEY_ENV, generateCodecKey } from '../../temporal/codec.js';

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
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port', '8888')
    .option('--cors-origin <origin...>', "the Web UI's origin(s), e.g. http://localhost:8233")
    .action(async (options: { host: string; port: string; corsOrigin?: string[] }) => {
      const handle = await serveCodec({
        host: options.host,
        port: Number(options.port),
        corsOrigins: options.corsOrigin ?? [],
      });
      console.log(
        `codec server at ${handle.url} (start the UI with --ui-codec-endpoint ${handle.url})`,
      );
    });
}
