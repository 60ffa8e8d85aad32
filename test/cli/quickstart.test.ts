/** The main job (`npm start`): trains the example on Temporal, predicts with its model, and says where everything is. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { copyExampleAs } from '../support/project-copies.js';
import { repoRoot, services } from '../support/services.js';

const run = promisify(execFile);

describe('temporal-mlflow quickstart (the main job)', () => {
  it('trains the example, predicts with the logged model, and ends with the links, the alias and the serve command', async () => {
    const project = copyExampleAs(`quickstart-${randomUUID().slice(0, 8)}`);
    const { stdout } = await run(
      process.execPath,
      [join(repoRoot, 'bin', 'temporal-mlflow.js'), 'quickstart', '--project', project.dir],
      { cwd: repoRoot, env: { ...process.env, ...services() }, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toContain(`Task queue:        temporal-mlflow/${project.name}/local`);
    expect(stdout).toContain('Predictions of the logged model on new tickets:');
    expect(stdout).toMatch(/MLflow run: +http:\/\/\S+\/#\/experiments\/\d+\/runs\/[0-9a-f]{32}/);
    expect(stdout).toMatch(/MLflow model: +http:\/\/\S+\/models\/m-[0-9a-f]+/);
    expect(stdout).toMatch(
      new RegExp(
        `Model URIs: +models:/m-[0-9a-f]+ · runs:/[0-9a-f]{32}/model · models:/${project.registeredModel}/\\d+`,
      ),
    );
    expect(stdout).toMatch(/Alias: +@champion → version \d+/);
    expect(stdout).toContain(
      `npx temporal-mlflow serve -m models:/${project.registeredModel}@champion --port 5001`,
    );
    expect(stdout).toMatch(/Done in \d+\.\d s\./);
  }, 180_000);
});
