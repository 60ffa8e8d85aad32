/**
 * Private copies of the example project under other names, for tests of several projects (or
 * environments) on one Temporal server: each copy has its own project name, MLflow experiment and
 * registered model, so what one project's workers did is told apart from the other's.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { copyExampleProject } from './example-model.js';

export interface ProjectCopy {
  dir: string;
  name: string;
  experiment: string;
  registeredModel: string;
}

function rewrite(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  writeFileSync(file, text.replaceAll(from, to));
}

/** The example copied as project `name` (experiment and registered model named after it). */
export function copyExampleAs(name: string): ProjectCopy {
  const dir = copyExampleProject();
  rewrite(join(dir, 'temporal-mlflow.config.ts'), "name: 'support-tickets'", `name: '${name}'`);
  rewrite(join(dir, 'conf', 'base', 'mlflow.yml'), 'name: support-tickets', `name: ${name}`);
  rewrite(join(dir, 'src', 'pipelines.ts'), "'support-ticket-router'", `'${name}-router'`);
  return { dir, name, experiment: name, registeredModel: `${name}-router` };
}

/** Adds `conf/<env>/mlflow.yml` pointing the environment at another tracking server. */
export function addMlflowEnv(projectDir: string, env: string, trackingUri: string): void {
  mkdirSync(join(projectDir, 'conf', env), { recursive: true });
  writeFileSync(
    join(projectDir, 'conf', env, 'mlflow.yml'),
    `server:\n  mlflow_tracking_uri: ${trackingUri}\n`,
  );
}
