/**
 * PipelineML: kedro-mlflow's tests/pipeline/test_pipeline_ml.py ported (fixtures, filters that keep
 * or break the binding, free inputs, input name, outputs), plus our own rules and API.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  FreeInputsError,
  InvalidInputNameError,
  NoInferenceOutputError,
  PipelineMLError,
  PipelineMLOptionError,
  UnpersistedArtifactError,
} from '../../src/model/errors.js';
import {
  PIPELINE_ML_BRAND,
  PIPELINE_ML_FILTER_WARNING,
  PipelineML,
  isPipelineMl,
  pipelineMl,
  pipelineMlFactory,
} from '../../src/model/pipeline-ml.js';
import type { PipelineMLOptions } from '../../src/model/pipeline-ml.js';
import { Pipeline, UnknownTagError, node, pipeline } from '../../src/pipeline/index.js';

const id = (x: unknown): unknown => x;
const names = (p: Pipeline): string[] => p.nodes.map((n) => n.name);

// ---- kedro-mlflow's fixtures ----

const preprocess = node(id, {
  inputs: 'raw_data',
  outputs: 'data',
  name: 'preprocess',
  tags: ['preprocessing'],
});
const train = node(id, { inputs: 'data', outputs: 'model', name: 'train', tags: ['training'] });
const predict = node(id, {
  inputs: ['model', 'data'],
  outputs: 'predictions',
  name: 'predict',
});

/** raw_data -> preprocess -> data -> train -> model; inference: (model, data) -> predictions. */
const pipelineWithTag = (): Pipeline => pipeline([preprocess, train]);
const pipelineMlWithTag = (): PipelineML =>
  pipelineMl({ training: pipelineWithTag(), inference: pipeline([predict]), inputName: 'data' });

/** The inference reuses an intermediate training node (apply_encoder) and its fitted encoder. */
function pipelineMlWithIntermediaryArtifacts(): PipelineML {
  const full = pipeline([
    node(id, {
      inputs: 'raw_data',
      outputs: 'data',
      name: 'preprocess',
      tags: ['training', 'preprocessing'],
    }),
    node(id, { inputs: 'data', outputs: 'encoder', name: 'fit_encoder', tags: ['training'] }),
    node(id, {
      inputs: ['encoder', 'data'],
      outputs: 'encoded_data',
      name: 'apply_encoder',
      tags: ['training', 'inference'],
    }),
    node(id, { inputs: 'encoded_data', outputs: 'model', name: 'train', tags: ['training'] }),
    node(id, {
      inputs: ['model', 'encoded_data'],
      outputs: 'predictions',
      name: 'predict',
      tags: ['inference'],
    }),
  ]);
  return pipelineMl({
    training: full.onlyNodesWithTags('training'),
    inference: full.onlyNodesWithTags('inference'),
    inputName: 'data',
  });
}

/** The inference reads a training input (stopwords_from_nltk) that is not produced by training. */
function pipelineMlWithInputsArtifacts(): PipelineML {
  const full = pipeline([
    node(id, {
      inputs: { data: 'data', stopwords: 'stopwords_from_nltk' },
      outputs: 'cleaned_data',
      name: 'remove_stopwords',
      tags: ['training', 'inference'],
    }),
    node(id, { inputs: 'cleaned_data', outputs: 'model', name: 'train', tags: ['training'] }),
    node(id, {
      inputs: ['model', 'cleaned_data'],
      outputs: 'predictions',
      name: 'predict',
      tags: ['inference'],
    }),
  ]);
  return pipelineMl({
    training: full.onlyNodesWithTags('training'),
    inference: full.onlyNodesWithTags('inference'),
    inputName: 'data',
  });
}

/** A shared parameter (stopwords), a training-only one (penalty), an inference-only one (threshold). */
function pipelineMlWithParameters(): PipelineML {
  const full = pipeline([
    node(id, {
      inputs: { data: 'data', stopwords: 'params:stopwords' },
      outputs: 'cleaned_data',
      name: 'remove_stopwords',
      tags: ['training', 'inference'],
    }),
    node(id, {
      inputs: ['cleaned_data', 'params:penalty'],
      outputs: 'model',
      name: 'train',
      tags: ['training'],
    }),
    node(id, {
      inputs: ['model', 'cleaned_data'],
      outputs: 'predicted_probs',
      name: 'predict',
      tags: ['inference'],
    }),
    node(id, {
      inputs: ['predicted_probs', 'params:threshold'],
      outputs: 'predictions',
      name: 'convert_probs_to_pred',
      tags: ['inference'],
    }),
  ]);
  return pipelineMl({
    training: full.onlyNodesWithTags('training'),
    inference: full.onlyNodesWithTags('inference'),
    inputName: 'data',
  });
}

let emitWarning: jest.SpiedFunction<typeof process.emitWarning>;
beforeEach(() => {
  emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterEach(() => {
  emitWarning.mockRestore();
});

/** The `code` of every PipelineML warning emitted so far. */
const warningCodes = (): unknown[] =>
  emitWarning.mock.calls.map((call) => (call[1] as { code?: string } | undefined)?.code);

describe('pipelineMl()', () => {
  it('binds the training nodes to the inference pipeline and input name', () => {
    const pml = pipelineMlWithTag();
    expect(pml).toBeInstanceOf(PipelineML);
    expect(pml).toBeInstanceOf(Pipeline);
    expect(names(pml)).toEqual(['preprocess', 'train']);
    expect(names(pml.inference)).toEqual(['predict']);
    expect(pml.inputName).toBe('data');
  });

  it('is also exported as pipelineMlFactory, kedro-mlflow name', () => {
    expect(pipelineMlFactory).toBe(pipelineMl);
  });

  it("logs the model under the name 'model' with auto signature and input example by default", () => {
    const pml = pipelineMlWithTag();
    expect(pml.logModel).toEqual({ name: 'model', signature: 'auto', inputExample: 'auto' });
    expect(pml.kpm).toEqual({ copyMode: 'assign' });
  });

  it('keeps the logModel and kpm options given', () => {
    const signature = { inputs: [{ type: 'double' as const, name: 'x', required: true }] };
    const pml = pipelineMl({
      training: pipelineWithTag(),
      inference: pipeline([predict]),
      inputName: 'data',
      logModel: {
        name: 'classifier',
        registeredModelName: 'churn',
        alias: 'champion',
        signature,
        inputExample: [{ x: 1 }],
      },
      kpm: { copyMode: { model: 'deepcopy' } },
    });
    expect(pml.logModel).toEqual({
      name: 'classifier',
      registeredModelName: 'churn',
      alias: 'champion',
      signature,
      inputExample: [{ x: 1 }],
    });
    expect(pml.copyModeFor('model')).toBe('deepcopy');
    expect(pml.copyModeFor('data')).toBe('assign');
  });

  it('is immutable and exposes the training nodes as a plain Pipeline', () => {
    const pml = pipelineMlWithTag();
    expect(Object.isFrozen(pml)).toBe(true);
    expect(Object.isFrozen(pml.logModel)).toBe(true);
    expect(pml.training).not.toBeInstanceOf(PipelineML);
    expect(isPipelineMl(pml.training)).toBe(false);
    expect(pml.training.nodes).toEqual(pml.nodes);
    expect(pml.training).toBe(pml.training);
  });

  it('accepts an inference parameter that training does not use (kedro-mlflow: params are free)', () => {
    const pml = pipelineMlWithParameters();
    expect(pml.inferenceInputs()).toEqual([
      'data',
      'model',
      'params:stopwords',
      'params:threshold',
    ]);
    expect(pml.paramInputs()).toEqual(['params:stopwords', 'params:threshold']);
    expect(pml.artifactInputs()).toEqual(['model']);
  });

  it('accepts an inference input that is a training input (an artifact not produced by training)', () => {
    const pml = pipelineMlWithInputsArtifacts();
    expect(pml.artifactInputs()).toEqual(['model', 'stopwords_from_nltk']);
    expect(pml.paramInputs()).toEqual([]);
  });

  it('accepts an intermediate training output as an artifact', () => {
    const pml = pipelineMlWithIntermediaryArtifacts();
    expect(pml.artifactInputs()).toEqual(['encoder', 'model']);
    expect(pml.inferenceOutputs()).toEqual(['predictions']);
  });

  it('accepts the whole parameters dictionary as an inference input', () => {
    const pml = pipelineMl({
      training: pipelineWithTag(),
      inference: pipeline([
        node(id, { inputs: ['model', 'data', 'parameters'], outputs: 'predictions' }),
      ]),
      inputName: 'data',
    });
    expect(pml.paramInputs()).toEqual(['parameters']);
  });

  it('allows several inference outputs (kedro-mlflow allows one)', () => {
    const pml = pipelineMl({
      training: pipelineWithTag(),
      inference: pipeline([
        node(id, { inputs: ['model', 'data'], outputs: ['predictions', 'metric'] }),
      ]),
      inputName: 'data',
    });
    expect(pml.inferenceOutputs()).toEqual(['metric', 'predictions']);
  });
});

describe('pipelineMl() validation', () => {
  const training = pipelineWithTag();
  const inference = pipeline([predict]);
  const base: PipelineMLOptions = { training, inference, inputName: 'data' };

  it.each<[string, () => unknown, new (...args: never[]) => Error, readonly string[]]>([
    [
      'an inputName that is not an inference input',
      () => pipelineMl({ ...base, inputName: 'whoops_bad_name' }),
      InvalidInputNameError,
      ["inputName 'whoops_bad_name'", "'data', 'model'"],
    ],
    [
      'a misspelt inputName',
      () => pipelineMl({ ...base, inputName: 'dta' }),
      InvalidInputNameError,
      ["did you mean 'data'?"],
    ],
    [
      'an inputName that is a training dataset but not an inference input',
      () => pipelineMl({ ...base, inputName: 'raw_data' }),
      InvalidInputNameError,
      ["'raw_data'"],
    ],
    [
      'a free inference input (kedro-mlflow test_too_many_free_inputs)',
      () =>
        pipelineMl({
          ...base,
          training: pipeline([node(id, { inputs: 'raw_data', outputs: 'neither_data_nor_model' })]),
        }),
      FreeInputsError,
      ["free inputs 'model'", 'no free input is allowed'],
    ],
    [
      'several free inference inputs, listed sorted',
      () =>
        pipelineMl({
          ...base,
          inference: pipeline([
            node(id, { inputs: ['zeta', 'model', 'alpha', 'data'], outputs: 'predictions' }),
          ]),
        }),
      FreeInputsError,
      ["'alpha', 'zeta'", 'produced or used by the training pipeline, or to be a parameter'],
    ],
    [
      'an inference pipeline without output (kedro-mlflow test_not_enough_inference_outputs)',
      () => pipelineMl({ ...base, inference: pipeline([node(id, { inputs: ['model', 'data'] })]) }),
      NoInferenceOutputError,
      ['no output'],
    ],
    [
      'an inference that is not a Pipeline',
      () => pipelineMl({ ...base, inference: [predict] as unknown as Pipeline }),
      PipelineMLOptionError,
      ["'inference'", 'an array'],
    ],
    [
      'a training that is not a Pipeline',
      () => pipelineMl({ ...base, training: undefined as unknown as Pipeline }),
      PipelineMLOptionError,
      ["'training'"],
    ],
    [
      'an alias without registeredModelName',
      () => pipelineMl({ ...base, logModel: { alias: 'champion' } }),
      PipelineMLOptionError,
      ['logModel.alias', 'logModel.registeredModelName'],
    ],
    [
      'an alias reserved by MLflow',
      () => pipelineMl({ ...base, logModel: { registeredModelName: 'm', alias: 'latest' } }),
      PipelineMLOptionError,
      ['logModel.alias', '"latest"'],
    ],
    [
      'a model name MLflow rejects',
      () => pipelineMl({ ...base, logModel: { name: 'my/model' } }),
      PipelineMLOptionError,
      ['logModel.name', '"my/model"', "contains '/'"],
    ],
    [
      'an empty model name',
      () => pipelineMl({ ...base, logModel: { name: '' } }),
      PipelineMLOptionError,
      ['logModel.name', 'non-empty string'],
    ],
    [
      'a malformed signature',
      () => pipelineMl({ ...base, logModel: { signature: 'infer' as 'auto' } }),
      PipelineMLOptionError,
      ['logModel.signature', '"infer"'],
    ],
    [
      'an empty input example',
      () => pipelineMl({ ...base, logModel: { inputExample: [] } }),
      PipelineMLOptionError,
      ['logModel.inputExample', 'non-empty array of records'],
    ],
    [
      'an unknown copy mode',
      () => pipelineMl({ ...base, kpm: { copyMode: 'clone' as 'copy' } }),
      PipelineMLOptionError,
      ['kpm.copyMode', '"clone"', "'deepcopy'"],
    ],
    [
      'a copy mode for a dataset the inference pipeline does not have',
      () => pipelineMl({ ...base, kpm: { copyMode: { modle: 'copy' } } }),
      PipelineMLOptionError,
      ['kpm.copyMode.modle', "Did you mean 'model'?"],
    ],
  ])('rejects %s', (_, build, errorClass, fragments) => {
    let thrown: unknown;
    try {
      build();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(errorClass);
    expect(thrown).toBeInstanceOf(PipelineMLError);
    const error = thrown as Error;
    expect(error.name).toBe(errorClass.name);
    for (const fragment of fragments) expect(error.message).toContain(fragment);
  });

  it('gives the structured fields of InvalidInputNameError', () => {
    const error = catchError(() => pipelineMl({ ...base, inputName: 'dta' }));
    expect(error).toMatchObject({
      inputName: 'dta',
      inferenceInputs: ['data', 'model'],
      suggestion: 'data',
    });
  });

  it('gives the structured fields of FreeInputsError', () => {
    const error = catchError(() =>
      pipelineMl({ ...base, training: pipeline([node(id, { inputs: 'a', outputs: 'b' })]) }),
    );
    expect(error).toMatchObject({ datasets: ['model'], inputName: 'data' });
  });

  it('keeps the MLflow validation error as the cause of a reserved alias', () => {
    const error = catchError(() =>
      pipelineMl({ ...base, logModel: { registeredModelName: 'm', alias: 'v3' } }),
    );
    expect(error).toBeInstanceOf(PipelineMLOptionError);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(error).toMatchObject({ option: 'logModel.alias' });
  });
});

describe('UnpersistedArtifactError', () => {
  it('names the unpersisted inference inputs, sorted, and says they must be persisted in catalog.yml', () => {
    const error = new UnpersistedArtifactError(['model', 'encoder'], {
      received: { model: 'MemoryDataset', encoder: 'not in the catalog' },
    });
    expect(error).toBeInstanceOf(PipelineMLError);
    expect(error.name).toBe('UnpersistedArtifactError');
    expect(error.datasets).toEqual(['encoder', 'model']);
    expect(error.message).toContain("Inference inputs 'encoder', 'model' are not persisted");
    expect(error.message).toContain('must be persisted in catalog.yml');
    expect(error.message).toContain("'model': MemoryDataset");
  });
});

describe('isPipelineMl()', () => {
  it('detects a PipelineML by its brand, without instanceof', () => {
    expect(isPipelineMl(pipelineMlWithTag())).toBe(true);
    expect(isPipelineMl(pipelineWithTag())).toBe(false);
    expect(isPipelineMl(null)).toBe(false);
    expect(isPipelineMl({})).toBe(false);
    expect(isPipelineMl('PipelineML')).toBe(false);
    // What another copy of this package would put on its PipelineML.
    expect(isPipelineMl({ [Symbol.for('temporal-mlflow.PipelineML')]: true })).toBe(true);
  });

  it('brands with a registry symbol set as a non-enumerable own property', () => {
    const pml = pipelineMlWithTag();
    expect(PIPELINE_ML_BRAND).toBe(Symbol.for('temporal-mlflow.PipelineML'));
    expect(Object.getOwnPropertyDescriptor(pml, PIPELINE_ML_BRAND)).toMatchObject({
      value: true,
      enumerable: false,
    });
    expect(Object.keys(pml)).not.toContain(PIPELINE_ML_BRAND);
    expect(JSON.stringify(pml)).not.toContain('temporal-mlflow.PipelineML');
  });
});

describe('PipelineML filters (kedro-mlflow test_filtering_pipeline_ml)', () => {
  it.each([
    ['no criterion', {}],
    ['tags training', { tags: ['training'] }],
    ['fromNodes train', { fromNodes: ['train'] }],
    ['fromNodes preprocess', { fromNodes: ['preprocess'] }],
    ['toNodes train', { toNodes: ['train'] }],
    ['nodeNames train', { nodeNames: ['train'] }],
    ['fromInputs data', { fromInputs: ['data'] }],
  ])('keeps a PipelineML with the same inference when filtering by %s', (_, criteria) => {
    const pml = pipelineMlWithTag();
    const filtered = pml.filter(criteria);
    expect(filtered).toBeInstanceOf(PipelineML);
    expect(isPipelineMl(filtered)).toBe(true);
    const ml = filtered as PipelineML;
    expect(ml.inference).toBe(pml.inference);
    expect(ml.inputName).toBe('data');
    expect(ml.logModel).toEqual(pml.logModel);
    expect(filtered.nodes).toEqual(pipelineWithTag().filter(criteria).nodes);
    expect(emitWarning).not.toHaveBeenCalled();
  });

  it.each([
    ['tags preprocessing', { tags: ['preprocessing'] }],
    ['toNodes preprocess', { toNodes: ['preprocess'] }],
    ['nodeNames preprocess', { nodeNames: ['preprocess'] }],
  ])(
    'returns the plain training pipeline with a warning when filtering by %s leaves free inputs',
    (_, criteria) => {
      for (const pml of [pipelineMlWithTag(), pipelineMlWithIntermediaryArtifacts()]) {
        emitWarning.mockClear();
        const filtered = pml.filter(criteria);
        expect(filtered).not.toBeInstanceOf(PipelineML);
        expect(isPipelineMl(filtered)).toBe(false);
        expect(names(filtered)).toEqual(['preprocess']);
        expect(warningCodes()).toEqual([PIPELINE_ML_FILTER_WARNING]);
        expect(String(emitWarning.mock.calls[0]?.[0])).toContain("'model'");
      }
    },
  );

  it('revalidates: a selection with other free inputs than before is caught too', () => {
    // preprocess + fit_encoder produce data and encoder, but no model any more.
    const filtered = pipelineMlWithIntermediaryArtifacts().toNodes('fit_encoder');
    expect(names(filtered)).toEqual(['preprocess', 'fit_encoder']);
    expect(isPipelineMl(filtered)).toBe(false);
    expect(String(emitWarning.mock.calls[0]?.[0])).toContain("inference inputs 'model'");
    expect(String(emitWarning.mock.calls[0]?.[0])).not.toContain("'encoder'");
  });

  it('names every inference input the filter lost, sorted', () => {
    pipelineMlWithIntermediaryArtifacts().onlyNodesWithTags('preprocessing');
    expect(String(emitWarning.mock.calls[0]?.[0])).toContain("'encoder', 'model'");
  });

  it('still throws the pipeline errors of a bad filter argument', () => {
    expect(() => pipelineMlWithTag().onlyNodesWithTags('trainig')).toThrow(UnknownTagError);
    expect(emitWarning).not.toHaveBeenCalled();
  });

  it('keeps the brand, options and validity through chained filters', () => {
    const pml = pipelineMl({
      training: pipelineWithTag(),
      inference: pipeline([predict]),
      inputName: 'data',
      logModel: { registeredModelName: 'churn' },
      kpm: { copyMode: 'deepcopy' },
    });
    const filtered = pml.fromNodes('preprocess').toNodes('train').onlyNodesWithTags('training');
    expect(isPipelineMl(filtered)).toBe(true);
    expect(Object.getOwnPropertyDescriptor(filtered, PIPELINE_ML_BRAND)?.enumerable).toBe(false);
    expect((filtered as PipelineML).logModel.registeredModelName).toBe('churn');
    expect((filtered as PipelineML).kpm).toEqual({ copyMode: 'deepcopy' });
    expect(Object.isFrozen(filtered)).toBe(true);
  });
});

describe('every Pipeline filter and composition of a PipelineML', () => {
  // raw_data -> preprocess -> data -> train -> model, with namespaced nodes for namespace filters.
  const nsPreprocess = node(id, {
    inputs: 'raw_data',
    outputs: 'data',
    name: 'preprocess',
    namespace: 'prep',
  });
  const nsTrain = node(id, { inputs: 'data', outputs: 'model', name: 'train', namespace: 'ds' });
  const report = node(id, { inputs: 'raw_data', outputs: 'report', name: 'report' });
  const build = (): PipelineML =>
    pipelineMl({
      training: pipeline([nsPreprocess, nsTrain]),
      inference: pipeline([predict]),
      inputName: 'data',
    });

  it.each<[string, (p: PipelineML) => Pipeline, boolean, string[]]>([
    ['onlyNodes keeping train', (p) => p.onlyNodes('ds.train'), true, ['ds.train']],
    ['onlyNodes dropping train', (p) => p.onlyNodes('prep.preprocess'), false, ['prep.preprocess']],
    ['fromInputs data', (p) => p.fromInputs('data'), true, ['ds.train']],
    ['fromInputs raw_data', (p) => p.fromInputs('raw_data'), true, ['prep.preprocess', 'ds.train']],
    ['toOutputs model', (p) => p.toOutputs('model'), true, ['prep.preprocess', 'ds.train']],
    ['toOutputs data', (p) => p.toOutputs('data'), false, ['prep.preprocess']],
    ['fromNodes train', (p) => p.fromNodes('ds.train'), true, ['ds.train']],
    ['toNodes preprocess', (p) => p.toNodes('prep.preprocess'), false, ['prep.preprocess']],
    ['onlyNodesWithNamespace ds', (p) => p.onlyNodesWithNamespace('ds'), true, ['ds.train']],
    [
      'onlyNodesWithNamespace prep',
      (p) => p.onlyNodesWithNamespace('prep'),
      false,
      ['prep.preprocess'],
    ],
    ['filter by namespace', (p) => p.filter({ namespace: 'ds' }), true, ['ds.train']],
    ['filter by toOutputs', (p) => p.filter({ toOutputs: ['data'] }), false, ['prep.preprocess']],
    ['plus a node', (p) => p.plus(report), true, ['prep.preprocess', 'report', 'ds.train']],
    [
      'plus a pipeline',
      (p) => p.plus(pipeline([report])),
      true,
      ['prep.preprocess', 'report', 'ds.train'],
    ],
    ['minus preprocess', (p) => p.minus(nsPreprocess), true, ['ds.train']],
    ['minus train', (p) => p.minus(nsTrain), false, ['prep.preprocess']],
    ['minus everything', (p) => p.minus(p), false, []],
    ['intersect with train', (p) => p.intersect(pipeline([nsTrain])), true, ['ds.train']],
    ['intersect with preprocess', (p) => p.intersect(nsPreprocess), false, ['prep.preprocess']],
  ])('%s', (_, apply, keeps, expectedNodes) => {
    const pml = build();
    const result = apply(pml);
    expect(isPipelineMl(result)).toBe(keeps);
    expect(result instanceof PipelineML).toBe(keeps);
    expect(names(result)).toEqual(expectedNodes);
    if (keeps) {
      expect((result as PipelineML).inference).toBe(pml.inference);
      expect(emitWarning).not.toHaveBeenCalled();
    } else {
      expect(warningCodes()).toEqual([PIPELINE_ML_FILTER_WARNING]);
      expect(emitWarning.mock.calls[0]?.[1]).toMatchObject({ type: 'PipelineMLWarning' });
    }
  });

  it('binds the result of plus to the left-hand PipelineML', () => {
    const other = pipelineMl({
      training: pipeline([report]),
      inference: pipeline([node(id, { inputs: 'raw_data', outputs: 'summary' })]),
      inputName: 'raw_data',
    });
    const sum = build().plus(other);
    expect(isPipelineMl(sum)).toBe(true);
    expect((sum as PipelineML).inferenceOutputs()).toEqual(['predictions']);
  });

  it('is a plain pipeline when a PipelineML is added to a plain pipeline', () => {
    const sum = pipeline([report]).plus(build());
    expect(isPipelineMl(sum)).toBe(false);
    expect(names(sum)).toEqual(['prep.preprocess', 'report', 'ds.train']);
  });
});

describe('PipelineML description', () => {
  it('describes the training and the inference pipeline with its binding', () => {
    const text = pipelineMlWithParameters().describe();
    expect(text).toContain('#### Pipeline execution order ####');
    expect(text).toContain('#### Inference pipeline (inputName: data) ####');
    expect(text).toContain('Artifacts: model');
    expect(text).toContain('Parameters: params:stopwords, params:threshold');
    expect(text).toContain('convert_probs_to_pred');
    expect(pipelineMlWithTag().toString()).toContain("PipelineML(inputName='data'");
  });

  it('serialises the inference nodes and the binding to JSON', () => {
    const json = JSON.parse(JSON.stringify(pipelineMlWithParameters())) as Record<string, unknown>;
    expect(json).toMatchObject({
      inputName: 'data',
      inferenceOutputs: ['predictions'],
      artifactInputs: ['model'],
      paramInputs: ['params:stopwords', 'params:threshold'],
      logModel: { name: 'model', signature: 'auto', inputExample: 'auto' },
      kpm: { copyMode: 'assign' },
    });
    const inference = json.inference as { nodes: { name: string }[] };
    expect(inference.nodes.map((n) => n.name)).toEqual([
      'remove_stopwords',
      'predict',
      'convert_probs_to_pred',
    ]);
    expect((json.nodes as { name: string }[]).map((n) => n.name)).toEqual([
      'remove_stopwords',
      'train',
    ]);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
