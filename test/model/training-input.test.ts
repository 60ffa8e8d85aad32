/**
 * Packaging reads the model's training input (the input example, the signature) from memory while
 * its file is unchanged, and from the file again once it changed.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineML } from '../../src/model/pipeline-ml.js';
import { savePipelineModel } from '../../src/model/save-model.js';
import type { Session } from '../../src/session.js';
import { copyExampleProject, fitExampleArtifacts } from '../support/example-model.js';

const projectDir = copyExampleProject();
let session: Session;
let registered: PipelineML;

beforeAll(async () => {
  ({ session, registered } = await fitExampleArtifacts(projectDir));
}, 120_000);

/** The first row of the input example a packaging writes now. */
async function exampleRow(): Promise<unknown[]> {
  const modelDir = await mkdtemp(join(tmpdir(), 'tm-input-'));
  try {
    await savePipelineModel({
      session,
      pipelineName: '__default__',
      pipelineMl: registered,
      modelDir,
      signingKey: null,
    });
    const example = JSON.parse(await readFile(join(modelDir, 'input_example.json'), 'utf8')) as {
      data: unknown[][];
    };
    return example.data[0]!;
  } finally {
    await rm(modelDir, { recursive: true, force: true });
  }
}

describe("packaging's training input", () => {
  it('is the same from memory while the file is unchanged, and read again once it changed', async () => {
    const first = await exampleRow();
    expect(await exampleRow()).toEqual(first);

    const file = join(projectDir, 'data', '01_raw', 'tickets.csv');
    const csv = await readFile(file, 'utf8');
    const [header, row, ...rest] = csv.split('\n');
    const edited = row!.replace(String(first[0]), 'EDITED-1');
    expect(edited).not.toBe(row);
    await writeFile(file, [header, edited, ...rest].join('\n'));
    expect((await exampleRow())[0]).toBe('EDITED-1');
  }, 120_000);
});
