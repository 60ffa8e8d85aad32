import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { services } from './services.js';

/** A request as the proxy saw it, body read whole. */
export interface ProxiedRequest {
  method: string;
  url: string;
  body: Buffer;
}

/** What the proxy does with a request: pass it on, answer 503, or keep it unanswered. */
export type ProxyAction = 'forward' | 'refuse' | 'hold';

/**
 * An HTTP proxy in front of the real MLflow server whose `rule` decides, request by request, to
 * forward it, refuse it (503, as a server that is down) or hold it unanswered (as an upload that
 * never ends) until `releaseHeld()`. Tests point a worker's MLflow URI at `start()`'s address.
 */
export class MlflowProxy {
  rule: (request: ProxiedRequest) => ProxyAction = () => 'forward';
  refused = 0;
  readonly held: IncomingMessage[] = [];
  /** Called on each refused request, with how many were refused so far. */
  onRefuse: ((count: number) => void) | undefined;
  private server: Server | undefined;
  private readonly target = new URL(services().MLFLOW_TRACKING_URI);

  async start(): Promise<string> {
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        const action = this.rule({
          method: incoming.method ?? 'GET',
          url: incoming.url ?? '/',
          body,
        });
        if (action === 'hold') {
          this.held.push(incoming);
          return;
        }
        if (action === 'refuse') {
          this.refused++;
          this.onRefuse?.(this.refused);
          outgoing.writeHead(503, { 'content-type': 'text/plain' }).end('MLflow is down');
          return;
        }
        const forwarded = request(
          {
            host: this.target.hostname,
            port: this.target.port,
            path: incoming.url,
            method: incoming.method,
            headers: { ...incoming.headers, host: this.target.host },
          },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
          },
        );
        forwarded.on('error', () => outgoing.writeHead(502).end());
        forwarded.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  /** Drops the connections of held requests (their clients see a reset). */
  releaseHeld(): void {
    for (const incoming of this.held.splice(0)) incoming.socket.destroy();
  }

  async stop(): Promise<void> {
    this.releaseHeld();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
