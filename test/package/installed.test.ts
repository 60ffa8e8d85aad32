/**
 * The package as users get it: `npm pack`, installed into a project outside this repository, then
 * its CLI runs a worker and trains the example on the real Temporal and MLflow servers.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { repoRoot, services } from '../support/services.js';

const run = promisify(execFile);
let project: string;
let worker: ChildProcess | undefined;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'tm-installed-'));
  const { stdout } = await run('npm', ['pack', '--pack-destination', project, '--silent'], {
    cwd: repoRoot,
  });
  const tarball = join(project, stdout.trim().split('\n').pop()!);
  cpSync(join(repoRoot, 'examples', 'support-tickets'), project, { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'installed-example', private: true, type: 'module' }),
  );
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball],
    { cwd: project },
  );
}, 240_000);

afterAll(() => {
  worker?.kill('SIGKILL');
  rmSync(project, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('runs a worker and trains the example on Temporal from a project outside the repository', async () => {
    const env = { ...process.env, ...services() };
    const taskQueue = `installed-${randomUUID()}`;
    const cli = join(project, 'node_modules', '.bin', 'temporal-mlflow');
    worker = spawn(cli, ['worker', '--task-queue', taskQueue, '--log-level', 'WARN'], {
      cwd: project,
      env,
    });
    let output = '';
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 600 && !output.includes('"msg":"worker started"'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toContain('"msg":"worker started"');
    const { stdout } = await run(cli, ['train', '--task-queue', taskQueue, '--wait'], {
      cwd: project,
      env,
    });
    expect(stdout).toContain('Training completed: 7 nodes');
    expect(stdout).toMatch(/Model: models:\/m-[0-9a-f]+ \(runs:\/[0-9a-f]+\/model\)/);
  }, 180_000);
});
