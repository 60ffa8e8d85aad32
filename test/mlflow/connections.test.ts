/**
 * Connections of the MLflow transport. MLflow's server (uvicorn) writes an answer's headers and
 * body as two TCP segments: on a connection kept alive, the body then waits for the client's
 * delayed ACK (40 ms on Linux), so each call of a plain-HTTP client opens its own connection.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MlflowClient } from '../../src/mlflow/index.js';

async function countingServer(): Promise<{
  url: string;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let connections = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ experiment: { experiment_id: '1', name: 'x' } }));
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('MLflow transport connections', () => {
  it('opens a connection per call on a plain-HTTP tracking server (no answer waits on a delayed ACK)', async () => {
    const server = await countingServer();
    try {
      const client = new MlflowClient({ trackingUri: server.url });
      for (let i = 0; i < 3; i++) await client.experiments.get('1');
      expect(server.connections()).toBe(3);
    } finally {
      await server.close();
    }
  });
});
