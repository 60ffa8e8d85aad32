import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { repoRoot, services } from '../support/services.js';

describe('temporal-mlflow dev', () => {
  it('starts a worker and restarts it when project code changes', async () => {
    mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
    const project = mkdtempSync(join(repoRoot, '.local', 'tmp', 'dev-project-'));
    cpSync(join(repoRoot, 'test', 'fixtures', 'temporal-project'), project, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin', 'temporal-mlflow.js'),
        'dev',
        '--project',
        project,
        '--task-queue',
        `dev-${randomUUID()}`,
      ],
      { env: { ...process.env, ...services() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const starts = (): number => output.split('"msg":"worker started"').length - 1;
    const waitFor = async (predicate: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 300 && !predicate(); i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      if (!predicate()) throw new Error(`timed out waiting for ${what}; output:\n${output}`);
    };
    try {
      await waitFor(() => starts() === 1, 'the first worker');
      appendFileSync(join(project, 'temporal-mlflow.config.ts'), '\n// edited\n');
      await waitFor(() => starts() === 2, 'the restarted worker');
      expect(output).toContain('temporal-mlflow.config.ts changed, restarting the worker');
      expect(output).toContain('"msg":"worker stopped"');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
