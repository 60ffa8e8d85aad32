/**
 * The example's model for tests and benchmarks: the support-tickets project copied into
 * `.local/tmp` (so parallel test files never write the same artifacts, and `temporal-mlflow`
 * still resolves to this package), its training pipeline run in this process (no MLflow), and its
 * inference pipeline packaged by `savePipelineModel` into `<workDir>/model`.
 */
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/model/load-model.js';
import { isPipelineMl, type PipelineML } from '../../src/model/pipeline-ml.js';
import type { PipelineModel } from '../../src/model/runtime.js';
import { savePipelineModel } from '../../src/model/save-model.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { Session } from '../../src/session.js';
import { repoRoot } from './services.js';

export const exampleDir = join(repoRoot, 'examples', 'support-tickets');

export interface Ticket {
  ticket_id: string;
  subject: string;
  body: string;
}

export interface ExampleModel {
  /** The copy of the example project the model was trained in. */
  projectDir: string;
  session: Session;
  modelDir: string;
  model: PipelineModel;
  /** The example's 600 tickets (the training value of the model's input). */
  tickets: Ticket[];
}

/** A private copy of the example project. */
export function copyExampleProject(): string {
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  const projectDir = mkdtempSync(join(repoRoot, '.local', 'tmp', 'example-'));
  cpSync(exampleDir, projectDir, { recursive: true });
  return projectDir;
}

/**
 * A session on `projectDir` (a copy of the example) with the artifacts its model carries fitted:
 * the training pipeline up to the vocabulary and the classifier, run in this process (no MLflow).
 */
export async function fitExampleArtifacts(
  projectDir: string,
): Promise<{ session: Session; registered: PipelineML }> {
  const session = await Session.open({ projectDir, environment: {} });
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered))
    throw new Error('the example __default__ pipeline should be a PipelineML');
  await runPipelineLocally({
    pipeline: registered.training.toOutputs('vocabulary', 'classifier'),
    catalog: session.catalog,
    run: {
      runId: 'example-model',
      pipelineName: '__default__',
      env: 'local',
      projectDir,
      runtimeParams: {},
    },
  });
  return { session, registered };
}

/** Trains the example (vocabulary and classifier only) in a copy and packages its model into `<workDir>/model`. */
export async function packageExampleModel(workDir: string): Promise<ExampleModel> {
  const projectDir = copyExampleProject();
  const { session, registered } = await fitExampleArtifacts(projectDir);
  const modelDir = join(workDir, 'model');
  await savePipelineModel({
    session,
    pipelineName: '__default__',
    pipelineMl: registered,
    modelDir,
  });
  const tickets = (await session.catalog.load('instances')) as Ticket[];
  return { projectDir, session, modelDir, model: await loadModel(modelDir), tickets };
}
