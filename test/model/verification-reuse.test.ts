/**
 * Packaging an unchanged project again in one process reuses the verification of the first folder
 * (nothing loaded or run) with the output schema it inferred; any changed byte verifies again.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineML } from '../../src/model/pipeline-ml.js';
import { writePipelineModel } from '../../src/model/save-model.js';
import type { Session } from '../../src/session.js';
import { copyExampleProject, fitExampleArtifacts } from '../support/example-model.js';

const projectDir = copyExampleProject();
let session: Session;
let registered: PipelineML;
let workDir: string;

beforeAll(async () => {
  ({ session, registered } = await fitExampleArtifacts(projectDir));
  workDir = await mkdtemp(join(tmpdir(), 'tm-verify-reuse-'));
}, 120_000);

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const write = (name: string, reuseVerification: boolean) =>
  writePipelineModel({
    session,
    pipelineName: '__default__',
    pipelineMl: registered,
    modelDir: join(workDir, name),
    reuseVerification,
  });

const signatureOf = async (name: string): Promise<string> =>
  (await readFile(join(workDir, name, 'MLmodel'), 'utf8')).split('signature:')[1]!;

describe('reusing a verification', () => {
  it('verifies once for unchanged bytes, with the same signature and hashes, and again after any change', async () => {
    const first = await write('first', true);
    expect(first.verificationReused).toBe(false);
    expect(first.model).toBeDefined();

    const second = await write('second', true);
    expect(second.verificationReused).toBe(true);
    expect(second.model).toBeUndefined();
    expect(await signatureOf('second')).toBe(await signatureOf('first'));
    expect(await signatureOf('second')).toContain('outputs');
    expect(second.manifest.files).toEqual(first.manifest.files);

    // Not asked: verified.
    expect((await write('asked-not', false)).verificationReused).toBe(false);

    // A changed artifact (the fitted classifier, one byte more): verified again, then reused.
    const classifier = join(projectDir, 'data', '06_models', 'classifier.json');
    await writeFile(classifier, (await readFile(classifier, 'utf8')) + '\n');
    const changed = await write('changed', true);
    expect(changed.verificationReused).toBe(false);
    expect(changed.manifest.files).not.toEqual(first.manifest.files);
    expect((await write('changed-again', true)).verificationReused).toBe(true);
  }, 120_000);

  it('verifies every time when the records predicted are not plain JSON (a Date here)', async () => {
    const tickets = (await session.catalog.load('instances')) as Record<string, unknown>[];
    const dated: PipelineML = Object.assign(
      Object.create(Object.getPrototypeOf(registered) as object) as PipelineML,
      registered,
      {
        logModel: {
          ...registered.logModel,
          inputExample: tickets.slice(0, 2).map((row) => ({ ...row, seen: new Date(0) })),
        },
      },
    );
    const writeDated = (name: string) =>
      writePipelineModel({
        session,
        pipelineName: '__default__',
        pipelineMl: dated,
        modelDir: join(workDir, name),
        reuseVerification: true,
      });
    expect((await writeDated('dated-1')).verificationReused).toBe(false);
    expect((await writeDated('dated-2')).verificationReused).toBe(false);
  }, 120_000);
});
