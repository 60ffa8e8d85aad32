import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, services } from '../support/services.js';
import { startHarness, type TemporalHarness } from '../support/temporal.js';

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
