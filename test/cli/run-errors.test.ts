/** `temporal-mlflow run` says what is wrong, and what to do, before anything runs. */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyExampleProject } from '../support/example-model.js';
import { repoRoot, services } from '../support/services.js';

const exec = promisify(execFile);

async function run(
  projectDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [join(repoRoot, 'bin', 'temporal-mlflow.js'), 'run', '--no-cache'],
      { cwd: projectDir, env },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const untracked = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.MLFLOW_TRACKING_URI;
  return env;
};

describe('temporal-mlflow run, told what is wrong before any node runs', () => {
  it('says in one line that nothing is tracked and no model is logged without an MLflow server', async () => {
    const result = await run(copyExampleProject(), untracked());
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      'MLflow tracking is off (no MLFLOW_TRACKING_URI, no server.mlflow_tracking_uri in mlflow.yml): nothing is tracked and no model is logged.',
    );
  }, 120_000);

  it('names a missing raw input file as missing, runs nothing and offers no resume that repeats the run', async () => {
    const project = copyExampleProject();
    rmSync(join(project, 'data', '01_raw', 'tickets.csv'));
    const result = await run(project, untracked());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "MissingInputDataError: Pipeline '__default__' reads input data that does not exist: 'instances' (csv.CSVDataset(filepath=data/01_raw/tickets.csv)). Nothing ran.",
    );
    expect(result.stderr).not.toContain('no data saved yet');
    expect(result.stderr).not.toContain('To resume');
    expect(result.stderr).not.toMatch(/\d+\/7 nodes/);
  }, 120_000);

  it('refuses a PipelineML whose fitted model is not persisted before training it', async () => {
    const project = copyExampleProject();
    const catalog = join(project, 'conf', 'base', 'catalog.yml');
    writeFileSync(
      catalog,
      readFileSync(catalog, 'utf8').replace(
        /^classifier:\n {2}type: model\.ModelStateDataset\n {2}filepath: data\/06_models\/classifier\.json\n/m,
        '',
      ),
    );
    const result = await run(project, { ...process.env, ...services() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/UnpersistedArtifactError: .*'classifier'/s);
    expect(result.stderr).not.toMatch(/[1-9]\/7 nodes/);
  }, 120_000);
});
