/**
 * The batch tests' model and data: the example's inference pipeline packaged into a temp folder by
 * savePipelineModel (after its training pipeline fitted the artifacts in this process, no MLflow),
 * and ticket files of any size made from the example's tickets (new ids, same texts).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSVDataset } from '../../src/datasets/csv-dataset.js';
import { loadModel } from '../../src/model/load-model.js';
import { isPipelineMl } from '../../src/model/pipeline-ml.js';
import type { PipelineModel } from '../../src/model/runtime.js';
import { savePipelineModel } from '../../src/model/save-model.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { Session } from '../../src/session.js';
import { repoRoot } from '../support/services.js';

export const exampleDir = join(repoRoot, 'examples', 'support-tickets');
export const batchProject = join(repoRoot, 'test', 'batch', 'fixtures', 'batch-project');

export interface Ticket {
  ticket_id: string;
  subject: string;
  body: string;
}

export interface ExampleModel {
  modelDir: string;
  model: PipelineModel;
  tickets: Ticket[];
}

/** Trains the example locally and packages its inference pipeline into `<workDir>/model`. */
export async function packageExampleModel(workDir: string): Promise<ExampleModel> {
  const session = await Session.open({ projectDir: exampleDir });
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered)) throw new Error('the example __default__ pipeline should be a PipelineML');
  await runPipelineLocally({
    pipeline: registered.training.toOutputs('vocabulary', 'classifier'),
    catalog: session.catalog,
    run: { runId: 'batch-test', pipelineName: '__default__', env: 'local', projectDir: exampleDir, runtimeParams: {} },
  });
  const modelDir = join(workDir, 'model');
  await savePipelineModel({ session, pipelineName: '__default__', pipelineMl: registered, modelDir });
  const tickets = (await session.catalog.load('instances')) as Ticket[];
  return { modelDir, model: await loadModel(modelDir), tickets };
}

/** `count` tickets cycling through the example's texts, with ids T-000001... */
export function makeTickets(base: readonly Ticket[], count: number): Ticket[] {
  return Array.from({ length: count }, (_, i) => {
    const source = base[i % base.length]!;
    return { ticket_id: `T-${String(i + 1).padStart(6, '0')}`, subject: source.subject, body: source.body };
  });
}

export async function writeTicketsCsv(path: string, tickets: readonly Ticket[]): Promise<void> {
  await new CSVDataset({ filepath: path }).save(tickets as unknown as Record<string, unknown>[]);
}

export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), prefix));
export const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;
export const writeJson = (path: string, value: unknown): Promise<void> => writeFile(path, JSON.stringify(value));
