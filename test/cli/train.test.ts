import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, services } from '../support/services.js';
import { startHarness, type TemporalHarness } from '../support/temporal.js';
import { killAllWorkers, spawnWorker } from '../support/worker-process.js';

const run = promisify(execFile);

async function train(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      'node',
      [join(repoRoot, 'bin', 'temporal-mlflow.js'), 'train', ...args],
      {
        cwd: join(repoRoot, 'test', 'fixtures', 'temporal-project'),
        env: { ...process.env, ...services() },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

let harness: TemporalHarness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

describe('temporal-mlflow train --wait', () => {
  it('prints the Temporal UI and MLflow links and the outcome of a successful run', async () => {
    const result = await train([
      '--pipeline',
      'diamond',
      '--task-queue',
      harness.taskQueue,
      '--wait',
      '--params',
      'x=2',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Temporal workflow: http:\/\/\S+\/namespaces\/default\/workflows\/train-diamond-/,
    );
    expect(result.stdout).toMatch(
      /MLflow run: +http:\/\/\S+\/#\/experiments\/\d+\/runs\/[0-9a-f]{32}/,
    );
    expect(result.stdout).toContain('Training completed: 4 nodes');
    expect(result.stderr).toContain('4/4 nodes');
  });

  it('exits non-zero naming the node that failed and why', async () => {
    const result = await train([
      '--pipeline',
      'fatal',
      '--task-queue',
      harness.taskQueue,
      '--wait',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`TrainingFailedError: Training failed at node 'broken'`);
    expect(result.stderr).toContain('column "amount" has text values');
  });
});

describe('temporal-mlflow train with no worker on the queue', () => {
  const project = join(repoRoot, 'test', 'fixtures', 'temporal-project');

  it('says the workflow started and that no worker polls the queue, and exits 0', async () => {
    const queue = `nobody-${randomUUID()}`;
    const result = await train(['--pipeline', 'diamond', '--task-queue', queue]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Task queue:        ${queue}`);
    expect(result.stdout).toContain(
      `started; no worker polls queue ${queue}: start one with \`temporal-mlflow worker --env local --task-queue ${queue}\``,
    );
    expect(result.stdout).toMatch(/Temporal workflow: http:\/\/\S+\/workflows\/train-diamond-/);
  });

  it('with --wait, shows it is waiting for a worker and completes once one starts', async () => {
    const queue = `later-${randomUUID()}`;
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin', 'temporal-mlflow.js'),
        'train',
        '--pipeline',
        'diamond',
        '--task-queue',
        queue,
        '--wait',
      ],
      { cwd: project, env: { ...process.env, ...services() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await until(() => output.includes('waiting for a worker'), 60_000);
      const worker = spawnWorker({ projectDir: project, taskQueue: queue });
      await worker.ready;
      expect(await exited).toBe(0);
      expect(output).toContain('Training completed: 4 nodes');
    } finally {
      child.kill('SIGKILL');
      await killAllWorkers();
    }
  }, 120_000);
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
