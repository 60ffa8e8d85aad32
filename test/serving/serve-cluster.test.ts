import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { send } from './http.js';
import { freePort } from '../support/ports.js';

const entry = fileURLToPath(new URL('./fixtures/cluster-entry.ts', import.meta.url));

describe('serveModel with workers', () => {
  it('forks workers that each load the model, serve on one port and stop on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', entry, String(port), '2'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const base = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 30_000;
      const up = async () =>
        (out.match(/loaded in/g) ?? []).length === 2 &&
        (await send(base, 'GET', '/ping').catch(() => ({ status: 0 }))).status === 200;
      while (!(await up()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 200)); // let the second worker start listening too
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          send(
            base,
            'POST',
            '/invocations',
            { 'content-type': 'application/json' },
            '{"inputs": [{"x": 2}]}',
          ),
        ),
      );
      expect(answers.map((a) => a.text)).toEqual(Array(8).fill('{"predictions":[{"y":4}]}'));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/^primary \d+ http:\/\/127\.0\.0\.1:\d+$/m);
    expect((out.match(/loaded in (\d+)/g) ?? []).length).toBe(2);
    await expect(send(base, 'GET', '/ping')).rejects.toThrow();
  }, 60_000);
});
