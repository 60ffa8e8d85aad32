import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderMlflowYmlTemplate } from '../../mlflow/template.js';
import { experimentUrl } from '../../mlflow/tracking-hook.js';
import { loadProject } from '../../project/load-project.js';
import { openSession } from '../../session.js';
import { CliUsageError } from '../errors.js';
import { ensureServices } from '../local-services.js';
import { addEnvOption, addProjectDirOption } from '../common.js';

export function registerMlflowCommands(program: Command): void {
  addEnvOption(
    addProjectDirOption(
      program
        .command('init')
        .description('write a commented conf/<env>/mlflow.yml (kedro-mlflow init)'),
    ),
  )
    .option('--force', 'overwrite an existing mlflow.yml', false)
    .action(async (options: { project: string; env: string; force: boolean }) => {
      const project = await loadProject(options.project);
      const target = join(resolve(options.project), 'conf', options.env, 'mlflow.yml');
      if (existsSync(target) && !options.force) {
        throw new CliUsageError(`${target} already exists: pass --force to overwrite it.`);
      }
      await mkdir(join(resolve(options.project), 'conf', options.env), { recursive: true });
      await writeFile(target, renderMlflowYmlTemplate(project.definition.name));
      console.log(`wrote ${target}`);
    });

  addEnvOption(
    addProjectDirOption(
      program
        .command('ui')
        .description(
          'print (and open) the MLflow UI of the project, starting the local server when none is configured',
        ),
    ),
  ).action(async (options: { project: string; env: string }) => {
    let session = await openSession({ projectDir: options.project, env: options.env });
    if (!session.mlflowClient) {
      ensureServices();
      session = await openSession({ projectDir: options.project, env: options.env });
    }
    const client = session.requireMlflow('The MLflow UI');
    const experiment = await client.experiments.getByName(session.mlflow.tracking.experiment.name);
    const url = experiment
      ? experimentUrl(client.trackingUri, experiment.experiment_id)
      : client.trackingUri;
    console.log(`MLflow UI: ${url}`);
  });
}
