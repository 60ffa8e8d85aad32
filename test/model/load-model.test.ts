/**
 * Loading and calling a packaged model: params override the signature defaults for one predict call
 * only, unknown params are refused by name, and URIs or folders that hold no model fail with the
 * URI in the message. The model is the example's inference pipeline, packaged into a local folder
 * by savePipelineModel after the training pipeline fitted its artifacts in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../src/mlflow/client.js';
import { MlflowResourceNotFoundError } from '../../src/mlflow/errors.js';
import { ModelLoadError } from '../../src/model/errors.js';
import { loadModel } from '../../src/model/load-model.js';
import { isPipelineMl } from '../../src/model/pipeline-ml.js';
import { PipelineModel } from '../../src/model/runtime.js';
import { signatureFromMlmodel } from '../../src/model/signature.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import { node } from '../../src/pipeline/node.js';
import { pipeline } from '../../src/pipeline/pipeline.js';
import { NodeRunError } from '../../src/runner/errors.js';
import { savePipelineModel } from '../../src/model/save-model.js';
import { Session } from '../../src/session.js';
import { packageExampleModel } from '../support/example-model.js';
import { repoRoot, services } from '../support/services.js';

interface Answer {
  ticket_id: string;
  team: string;
  confidence: number;
  needs_review: boolean;
}

let workDir: string;
let model: PipelineModel;
let tickets: Record<string, unknown>[];
let defaults: Answer[];

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'tm-load-model-'));
  const example = await packageExampleModel(workDir);
  model = example.model;
  tickets = example.tickets as unknown as Record<string, unknown>[];
  defaults = (await model.predict(tickets)) as Answer[];
}, 120_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('predict params', () => {
  it('declares min_confidence in the signature with its training value as the default', () => {
    expect(model.signature?.params).toEqual([
      expect.objectContaining({ name: 'min_confidence', default: 0.8 }),
    ]);
    expect(defaults).toHaveLength(600);
    expect(defaults.filter((answer) => answer.needs_review).length).toBe(
      defaults.filter((answer) => answer.confidence < 0.8).length,
    );
  });

  it('overrides a param for that call only: the next call without params is back to the defaults', async () => {
    const strict = (await model.predict(tickets, { min_confidence: 0.999999 })) as Answer[];
    expect(strict.map((answer) => answer.needs_review)).not.toEqual(
      defaults.map((answer) => answer.needs_review),
    );
    expect(strict.filter((answer) => answer.needs_review).length).toBeGreaterThan(
      defaults.filter((answer) => answer.needs_review).length,
    );
    expect(strict.every((answer) => answer.needs_review === answer.confidence < 0.999999)).toBe(
      true,
    );
    // Only the flag depends on the param: teams and confidences are the same.
    expect(
      strict.map(({ ticket_id, team, confidence }) => ({ ticket_id, team, confidence })),
    ).toEqual(defaults.map(({ ticket_id, team, confidence }) => ({ ticket_id, team, confidence })));

    expect(await model.predict(tickets)).toEqual(defaults);
    expect(await model.predict(tickets, {})).toEqual(defaults);
    const lenient = (await model.predict(tickets, { min_confidence: 0 })) as Answer[];
    expect(lenient.some((answer) => answer.needs_review)).toBe(false);
    expect(await model.predict(tickets)).toEqual(defaults);
  });

  it('keeps concurrent calls with and without params apart', async () => {
    const [plain, strict, plainAgain] = (await Promise.all([
      model.predict(tickets),
      model.predict(tickets, { min_confidence: 0.999999 }),
      model.predict(tickets),
    ])) as Answer[][];
    expect(plain).toEqual(defaults);
    expect(plainAgain).toEqual(defaults);
    expect(strict!.filter((answer) => answer.needs_review).length).toBeGreaterThan(
      defaults.filter((answer) => answer.needs_review).length,
    );
  });

  it('refuses an unknown param with a SignatureValidationError naming it, and a later call still works', async () => {
    const error = await rejection(model.predict(tickets.slice(0, 3), { min_confidense: 0.5 }));
    // The runtime lives in the model's bundle, so the class is the bundle's copy: match on its name.
    expect(error.name).toBe('SignatureValidationError');
    expect(error.message).toContain('min_confidense');
    expect(error.message).toContain('min_confidence');

    const wrongType = await rejection(
      model.predict(tickets.slice(0, 3), { min_confidence: 'high' }),
    );
    expect(wrongType.name).toBe('SignatureValidationError');
    expect(wrongType.message).toContain('min_confidence');

    expect(await model.predict(tickets.slice(0, 3))).toEqual(defaults.slice(0, 3));
  });
});

describe('copy modes of the packaged model', () => {
  const copyModeProject = join(repoRoot, 'test', 'fixtures', 'model-copy-mode');

  it.each([
    ['assign', true],
    ['deepcopy', false],
  ])(
    "hands datasets between inference nodes with the PipelineML's kpm copy mode (%s)",
    async (pipelineName, sameObject) => {
      const session = await Session.open({ projectDir: copyModeProject });
      const registered = session.pipeline(pipelineName);
      if (!isPipelineMl(registered)) throw new Error(`${pipelineName} should be a PipelineML`);
      const modelDir = join(workDir, `copy-mode-${pipelineName}`);
      await savePipelineModel({ session, pipelineName, pipelineMl: registered, modelDir });
      const packaged = await loadModel(modelDir);
      expect(await packaged.predict([{ id: 'z', x: 10 }])).toEqual([
        { id: 'z', y: 13, same_object: sameObject },
      ]);
    },
  );
});

describe('loading what is not a model', () => {
  const client = (): MlflowClient =>
    new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });

  it.each([
    ['a logged model id', 'models:/m-00000000000000000000000000000000'],
    ['a run', 'runs:/0123456789abcdef0123456789abcdef/model'],
    ['a registered model version', 'models:/temporal-mlflow-no-such-model/1'],
    ['a registered model alias', 'models:/temporal-mlflow-no-such-model@champion'],
  ])('fails with ModelLoadError naming the URI when %s does not exist', async (_what, uri) => {
    const error = await rejection(
      loadModel(uri, { client: client(), cacheDir: join(workDir, 'cache') }),
    );
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toContain(`'${uri}'`);
    expect(error.message).toContain('does not exist');
    expect(error.cause).toBeInstanceOf(MlflowResourceNotFoundError);
  });

  it('fails with ModelLoadError when a run exists but logged no model of that name', async () => {
    const mlflow = client();
    const experiment = await mlflow.experiments.getOrCreate('temporal-mlflow-integration-tests');
    const run = await mlflow.runs.create({
      experimentId: experiment.experiment_id,
      runName: 'no-model',
    });
    const uri = `runs:/${run.info.run_id}/model`;
    const error = await rejection(
      loadModel(uri, { client: mlflow, cacheDir: join(workDir, 'cache') }),
    );
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toContain(`'${uri}'`);
    expect(error.message).toContain(`no ready logged model named 'model'`);
    await mlflow.runs.end(run.info.run_id, 'FINISHED');
  });

  it('fails with ModelLoadError on a folder without MLmodel, and on an MLmodel without our flavor', async () => {
    const empty = join(workDir, 'empty');
    await mkdir(empty, { recursive: true });
    await writeFile(join(empty, 'model.json'), '{}');
    const noMlmodel = await rejection(loadModel(empty));
    expect(noMlmodel).toBeInstanceOf(ModelLoadError);
    expect(noMlmodel.message).toContain(join(empty, 'MLmodel'));

    const missing = await rejection(loadModel(join(workDir, 'nowhere')));
    expect(missing).toBeInstanceOf(ModelLoadError);

    const sklearn = join(workDir, 'sklearn');
    await mkdir(sklearn, { recursive: true });
    await writeFile(
      join(sklearn, 'MLmodel'),
      'artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.pkl\n',
    );
    const foreign = await rejection(loadModel(sklearn));
    expect(foreign).toBeInstanceOf(ModelLoadError);
    expect(foreign.message).toContain('temporal_mlflow flavor');
  });

  it('fails with ModelLoadError on a malformed or unsupported URI', async () => {
    for (const uri of ['models:/', 'models:/a/b/c', 's3://bucket/model']) {
      const error = await rejection(loadModel(uri));
      expect(error).toBeInstanceOf(ModelLoadError);
      expect(error.message).toContain(`'${uri}'`);
    }
  });
});

describe('PipelineModel.predict', () => {
  const scale = node(
    (records: { x: number }[], factor: number) => records.map((r) => r.x * factor),
    {
      name: 'scale',
      inputs: ['records', 'params:scaling.factor'],
      outputs: 'scaled',
    },
  );
  const offset = node(
    (values: number[], table: { add: number }) => values.map((v) => v + table.add),
    { name: 'offset', inputs: ['scaled', 'table'], outputs: 'predictions' },
  );
  const make = (nodes = [scale, offset]) =>
    new PipelineModel(
      pipeline(nodes),
      { table: new MemoryDataset({ data: { add: 1 }, copyMode: 'assign' }) },
      { scaling: { factor: 2, unit: 'm' } },
      signatureFromMlmodel({
        inputs: '[{"type": "double", "name": "x", "required": true}]',
        params: '[{"name": "scaling.factor", "default": 2, "shape": null, "type": "long"}]',
      }),
      { flavorVersion: '0', pipeline: 'p', inputName: 'records', outputs: ['predictions'] },
    );

  it('runs the nodes in order on the artifacts and parameters, an override for one call only', async () => {
    const model = make();
    expect(await model.predict([{ x: 1 }, { x: 2 }])).toEqual([3, 5]);
    expect(await model.predict([{ x: 1 }], { 'scaling.factor': 2 })).toEqual([3]);
    expect(await model.predict([{ x: 1 }], { 'scaling.factor': 10 })).toEqual([11]);
    expect(await model.predict([{ x: 1 }])).toEqual([3]);
    await expect(model.predict([{ x: 1 }], { nope: 1 })).rejects.toThrow(/unknown param 'nope'/);
  });

  it("fails with the local runner's NodeRunError naming the node, also for undefined outputs and non-Error throws", async () => {
    const failing = (fn: () => unknown) =>
      make([scale, node(fn, { name: 'offset', inputs: ['scaled'], outputs: 'predictions' })]);
    const thrown = await rejection(
      failing(() => {
        throw new RangeError('bad value');
      }).predict([{ x: 1 }]),
    );
    expect(thrown).toBeInstanceOf(NodeRunError);
    expect(thrown.message).toBe("Node 'offset' failed: bad value");
    expect((thrown.cause as Error).name).toBe('RangeError');
    const undef = await rejection(failing(() => undefined).predict([{ x: 1 }]));
    expect((undef.cause as Error).name).toBe('UndefinedOutputError');
    const nonError = await rejection(
      failing(() => {
        throw { code: 42 };
      }).predict([{ x: 1 }]),
    );
    expect((nonError.cause as Error).name).toBe('NonErrorThrownError');
    expect(nonError.message).toContain('42');
  });

  it('awaits a node that returns a promise and maps the outputs of a node with several, as the local runner', async () => {
    const later = node(async (values: number[]) => Promise.resolve(values.map((v) => v * 10)), {
      name: 'later',
      inputs: ['scaled'],
      outputs: 'tens',
    });
    const split = node((values: number[]) => ({ first: values[0], all: values }), {
      name: 'split',
      inputs: ['tens'],
      outputs: { first: 'head', all: 'predictions' },
    });
    const model = make([scale, later, split]);
    expect(await model.predict([{ x: 1 }, { x: 2 }])).toEqual([20, 40]);
    expect(await model.predict([{ x: 1 }], { 'scaling.factor': 3 })).toEqual([30]);
    const rejected = await rejection(
      make([
        scale,
        node(() => Promise.reject(new TypeError('later')), {
          name: 'offset',
          inputs: ['scaled'],
          outputs: 'predictions',
        }),
      ]).predict([{ x: 1 }]),
    );
    expect(rejected).toBeInstanceOf(NodeRunError);
    expect((rejected.cause as Error).name).toBe('TypeError');
  });
});
