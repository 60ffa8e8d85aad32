import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A proxy in front of the HTTP API whose answer to each request a test decides. */
export class HttpApiProxy {
  /** Every request, in order: method, path and body. */
  readonly requests: { method: string; url: string; body: string }[] = [];
  /** The bodies of the start requests (POSTs of a workflow), in order. */
  get bodies(): string[] {
    return this.requests
      .filter((r) => r.method === 'POST' && !r.url.includes('/query/'))
      .map((r) => r.body);
  }
  /** What to do with the n-th request (from 0, any method): forward it, forward it and drop the answer, or answer. */
  rule: (n: number) => 'forward' | 'forward-then-drop' | { status: number; body: string } = () =>
    'forward';
  private server?: Server;

  async start(target: URL): Promise<URL> {
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const body = Buffer.concat(chunks);
        const action = this.rule(this.requests.length);
        this.requests.push({
          method: incoming.method ?? '',
          url: incoming.url ?? '',
          body: body.toString('utf8'),
        });
        if (typeof action === 'object') {
          outgoing.writeHead(action.status, { 'content-type': 'text/plain' }).end(action.body);
          return;
        }
        const forwarded = request(
          new URL(incoming.url!, target),
          { method: incoming.method, headers: { ...incoming.headers, host: target.host } },
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
