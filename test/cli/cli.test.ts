import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../support/services.js';

const run = promisify(execFile);
const cli = join(repoRoot, 'bin', 'temporal-mlflow.js');

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function temporalMlflow(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  try {
    const { stdout, stderr } = await run('node', [cli, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A copy of the fixture project inside the repository, where `temporal-mlflow` resolves to this package. */
function copyProject(): string {
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.local', 'tmp', 'cli-project-'));
  cpSync(join(repoRoot, 'test', 'fixtures', 'temporal-project'), dir, { recursive: true });
  return dir;
}

describe('the temporal-mlflow CLI', () => {
  it('runs a pipeline of the project in the current directory and writes its outputs', async () => {
    const project = copyProject();
    const result = await temporalMlflow(['run', '--pipeline', 'diamond', '--params', 'x=4'], {
      cwd: project,
    });
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Pipeline 'diamond' completed: 4 nodes.");
    expect(
      JSON.parse(readFileSync(join(project, 'data/output/diamond_result.json'), 'utf8')).sum,
    ).toBe(5 * 2 + 5 * 3);
  });

  it('names an unknown pipeline with a suggestion and exits non-zero', async () => {
    const result = await temporalMlflow([
      'run',
      '--pipeline',
      'diamnd',
      '--project',
      copyProject(),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("PipelineNotFoundError: Pipeline 'diamnd' is not registered");
    expect(result.stderr).toContain("Did you mean 'diamond'?");
  });

  it('says which node failed and prints the command that resumes from it', async () => {
    const result = await temporalMlflow(['run', '--pipeline', 'fatal', '--project', copyProject()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Node 'broken' failed: column "amount" has text values`);
    expect(result.stderr).toMatch(/temporal-mlflow run --pipeline fatal .*--from-nodes "ok"/);
  });

  it('applies filters: --to-nodes runs only the nodes up to the named one', async () => {
    const project = copyProject();
    const executions = mkdtempSync(join(tmpdir(), 'tm-cli-exec-'));
    const result = await temporalMlflow(['run', '--pipeline', 'diamond', '--to-nodes', 'b'], {
      cwd: project,
      env: { TEST_EXECUTIONS_DIR: executions },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('completed: 2 nodes');
    expect(['a', 'b', 'c', 'd'].filter((node) => existsSync(join(executions, node)))).toEqual([
      'a',
      'b',
    ]);
  });

  it('reports a project folder without temporal-mlflow.config.ts', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tm-cli-empty-'));
    const result = await temporalMlflow(['run', '--project', empty]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`ProjectNotFoundError: No project found in ${empty}`);
  });

  it('writes mlflow.yml with init and refuses to overwrite it without --force', async () => {
    const project = copyProject();
    const first = await temporalMlflow(['init', '--project', project]);
    expect(first.code).toBe(0);
    const written = readFileSync(join(project, 'conf/local/mlflow.yml'), 'utf8');
    expect(written).toContain('temporal-test-project');
    writeFileSync(join(project, 'conf/local/mlflow.yml'), '# mine\n');
    const second = await temporalMlflow(['init', '--project', project]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('already exists: pass --force to overwrite it');
    expect(readFileSync(join(project, 'conf/local/mlflow.yml'), 'utf8')).toBe('# mine\n');
    expect((await temporalMlflow(['init', '--project', project, '--force'])).code).toBe(0);
  });

  it('rejects a malformed --params value naming it', async () => {
    const result = await temporalMlflow([
      'run',
      '--pipeline',
      'diamond',
      '--params',
      'x',
      '--project',
      copyProject(),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/RuntimeParamsError: .*'x'/);
  });

  it('packages an existing inference pipeline with modelify, without a signature when asked', async () => {
    mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
    const project = mkdtempSync(join(repoRoot, '.local', 'tmp', 'cli-example-'));
    cpSync(join(repoRoot, 'examples', 'support-tickets'), project, { recursive: true });
    expect((await temporalMlflow(['run', '--pipeline', 'training'], { cwd: project })).code).toBe(
      0,
    );
    const result = await temporalMlflow(
      [
        'modelify',
        '--pipeline',
        'inference',
        '--input-name',
        'instances',
        '--model-name',
        'router',
        '--no-infer-signature',
      ],
      { cwd: project },
    );
    expect(result.stderr).toBe('');
    const uri = /Model logged: (models:\/m-[0-9a-f]+)/.exec(result.stdout)?.[1];
    expect(uri).toBeDefined();
    const input = join(project, 'new.json');
    writeFileSync(
      input,
      JSON.stringify([
        { ticket_id: 'X1', subject: 'Refund', body: 'I was charged twice, please refund' },
      ]),
    );
    const predicted = await temporalMlflow(['predict', '-m', uri!, '-i', input]);
    expect(predicted.code).toBe(0);
    expect(JSON.parse(predicted.stdout)).toEqual([
      expect.objectContaining({ ticket_id: 'X1', team: 'billing' }),
    ]);
  });
});
