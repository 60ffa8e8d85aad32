import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A proxy in front of the HTTP API whose answer to each request a test decides. */
export class HttpApiProxy {
  readonly bodies: string[] = [];
  /** What to do with the n-th request (from 0): forward it, forward it and drop the answer, or answer. */
  rule: (n: number) => 'forward' | 'forward-then-drop' | { status: number; body: string } = () =>
    'forward';
  private server?: Server;

  async start(target: URL): Promise<URL> {
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        const action = this.rule(this.bodies.length);
        this.bodies.push(body.toString('utf8'));
        if (typeof action === 'object') {
          outgoing.writeHead(action.status, { 'content-type': 'text/plain' }).end(action.body);
          return;
        }
        const forwarded = request(
          new URL(incoming.url!, target),
          { method: incoming.method, headers: { 'content-type': 'application/json' } },
          (answer) => {
            const answered: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => answered.push(chunk));
            answer.on('end', () => {
              // The server acted; the client never learns it (a connection lost on the way back).
              if (action === 'forward-then-drop') return incoming.socket.destroy();
              outgoing
                .writeHead(answer.statusCode ?? 502, answer.headers)
                .end(Buffer.concat(answered));
            });
          },
        );
        forwarded.on('error', () => incoming.socket.destroy());
        forwarded.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return new URL(`http://127.0.0.1:${(this.server.address() as AddressInfo).port}`);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
