import { randomUUID } from 'node:crypto';
import { temporalTestProject } from '../support/temporal.js';
import { killAllWorkers, spawnWorker } from '../support/worker-process.js';
import { freePort } from '../support/ports.js';

afterAll(killAllWorkers);

describe('a production worker', () => {
  it('serves Prometheus metrics and logs its start as structured JSON with its build id', async () => {
    const port = await freePort();
    const worker = spawnWorker({
      projectDir: temporalTestProject,
      taskQueue: `metrics-${randomUUID()}`,
      args: ['--metrics-port', String(port), '--log-level', 'WARN'],
    });
    await worker.ready;
    const started = worker
      .output()
      .split('\n')
      .map((line) =>
        line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined,
      )
      .find((entry) => entry?.msg === 'worker started');
    expect(started).toMatchObject({
      project: 'temporal-test-project',
      metrics: `http://127.0.0.1:${port}/metrics`,
    });
    expect(started?.buildId).toMatch(/^[0-9a-f]{16}$/);
    let body = '';
    for (let i = 0; i < 50 && !body.includes('temporal_'); i++) {
      body = await fetch(`http://127.0.0.1:${port}/metrics`).then(
        (response) => response.text(),
        () => '',
      );
      if (!body.includes('temporal_')) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(body).toMatch(/^temporal_\w+/m);
    expect((await worker.stop('SIGTERM')).code).toBe(0);
  });
});
