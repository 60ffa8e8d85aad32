/**
 * The batch tests' model and data: the example's inference pipeline packaged into a temp folder by
 * savePipelineModel (after its training pipeline fitted the artifacts in this process, no MLflow),
 * and ticket files of any size made from the example's tickets (new ids, same texts).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSVDataset } from '../../src/datasets/csv-dataset.js';
import { repoRoot } from '../support/services.js';

export const batchProject = join(repoRoot, 'test', 'batch', 'fixtures', 'batch-project');
export {
  exampleDir,
  packageExampleModel,
  type ExampleModel,
  type Ticket,
} from '../support/example-model.js';
import type { Ticket } from '../support/example-model.js';

/** `count` tickets cycling through the example's texts, with ids T-000001... */
export function makeTickets(base: readonly Ticket[], count: number): Ticket[] {
  return Array.from({ length: count }, (_, i) => {
    const source = base[i % base.length]!;
    return {
      ticket_id: `T-${String(i + 1).padStart(6, '0')}`,
      subject: source.subject,
      body: source.body,
    };
  });
}

export async function writeTicketsCsv(path: string, tickets: readonly Ticket[]): Promise<void> {
  await new CSVDataset({ filepath: path }).save(tickets as unknown as Record<string, unknown>[]);
}

export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), prefix));
export const readJson = async <T>(path: string): Promise<T> =>
  JSON.parse(await readFile(path, 'utf8')) as T;
export const writeJson = (path: string, value: unknown): Promise<void> =>
  writeFile(path, JSON.stringify(value));
