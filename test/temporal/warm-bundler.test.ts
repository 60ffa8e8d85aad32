/**
 * A worker keeps its esbuild context warm between packagings (issue 16's cached bundles): after a
 * training it holds one context for the project, a retrain after a code change reuses it, and the
 * context ends with the worker so its process can exit.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { warmBundlerCount } from '../../src/model/bundle.js';
import {
  compileTrainingOptions,
  startCompiledTraining,
  trainingHandle,
} from '../../src/temporal/client.js';
import type { TrainingResult } from '../../src/temporal/types.js';
import { copyExampleAs, type ProjectCopy } from '../support/project-copies.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';

let harness: TemporalHarness | undefined;
afterAll(async () => {
  await harness?.close();
});

async function train(project: ProjectCopy, taskQueue: string): Promise<TrainingResult> {
  const compiled = await compileTrainingOptions({
    projectDir: project.dir,
    taskQueue,
    nodeDefaults: fastNodeDefaults,
  });
  compiled.input.noCache = true;
  return trainingHandle((await startCompiledTraining(harness!.client, compiled)).handle).result();
}

describe('the worker packaging models', () => {
  it('keeps one esbuild context per project between trainings and disposes it when it stops', async () => {
    const project = copyExampleAs(`warm-bundler-${Date.now().toString(36)}`);
    harness = await startHarness({ projectDir: project.dir });
    expect(warmBundlerCount()).toBe(0);

    const first = await train(project, harness.taskQueue);
    expect(first.model?.modelUri).toBeDefined();
    expect(warmBundlerCount()).toBe(1);

    // Changed inference code: rebuilt through the same context, not a second one.
    appendFileSync(join(project.dir, 'src', 'nodes.ts'), '\n// changed after the first training\n');
    const second = await train(project, harness.taskQueue);
    expect(second.model?.modelId).not.toBe(first.model?.modelId);
    expect(warmBundlerCount()).toBe(1);

    await harness.close();
    harness = undefined;
    expect(warmBundlerCount()).toBe(0);
  }, 240_000);
});
