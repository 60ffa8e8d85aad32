import { describe, expect, it } from '@jest/globals';
import {
  CircularDependencyError,
  DuplicateNodeNameError,
  DuplicateNodeOutputError,
  EmptyPipelineSelectionError,
  InvalidNameError,
  InvalidNodeDefinitionError,
  InvalidPipelineItemError,
  NamespaceError,
  NodeInputMissingError,
  NodeInputOutputOverlapError,
  NodeOutputShapeError,
  OutputNotUniqueError,
  ParameterOutputError,
  PipelineError,
  UnknownDatasetError,
  UnknownNodeError,
  UnknownTagError,
  node,
  pipeline,
} from '../../src/pipeline/index.js';
import type { NodeFunction, Pipeline } from '../../src/pipeline/index.js';

const id = (x: unknown): unknown => x;
const n = (
  name: string,
  inputs: string | string[] | undefined,
  outputs: string | string[] | undefined,
  tags?: string[],
) => node(id, { name, inputs, outputs, tags });

/** raw -> preprocess -> clean -> train -> model ; raw -> report -> summary */
const base = (): Pipeline =>
  pipeline([
    n('preprocess', 'raw', 'clean', ['data']),
    n('train', 'clean', 'model', ['training']),
    n('report', 'raw', 'summary'),
  ]);

/** Runs `act`, sync or async, and returns what it threw. */
async function thrown(act: () => unknown): Promise<unknown> {
  try {
    await act();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, none was thrown');
}

type ErrorClass = abstract new (...args: never[]) => Error;
type Case = [
  title: string,
  act: () => unknown,
  errorClass: ErrorClass,
  mentions: (string | RegExp)[],
];

const cases: Case[] = [
  [
    'a cycle between two nodes',
    () => pipeline([n('a', 'y', 'x'), n('b', 'x', 'y')]),
    CircularDependencyError,
    ["'a' -(x)-> 'b' -(y)-> 'a'"],
  ],
  [
    'a cycle of three nodes behind an upstream node',
    () =>
      pipeline([
        n('start', undefined, 's'),
        n('p', ['s', 'r'], 'p_out'),
        n('q', 'p_out', 'q_out'),
        n('r', 'q_out', 'r'),
      ]),
    CircularDependencyError,
    ["'p', 'q', 'r'", "'p' -(p_out)-> 'q' -(q_out)-> 'r' -(r)-> 'p'"],
  ],
  [
    'two nodes producing one dataset',
    () => pipeline([n('one', 'a', 'model'), n('two', 'b', 'model')]),
    OutputNotUniqueError,
    ["'model' <- 'one', 'two'"],
  ],
  [
    'two nodes with the same name',
    () => pipeline([n('train', 'a', 'b'), n('train', 'c', 'd')]),
    DuplicateNodeNameError,
    ["'train'"],
  ],
  [
    'composition adding a second node with an existing name',
    () => base().plus(pipeline([n('train', 'x', 'y')])),
    DuplicateNodeNameError,
    ["'train'"],
  ],
  [
    'a returned tuple shorter than the outputs',
    () => node(() => [1], { outputs: ['a', 'b'], name: 'split' }).run({}),
    NodeOutputShapeError,
    ["'split'", 'an array of 2 values', 'an array of 1 value'],
  ],
  [
    'a single value returned for array outputs',
    () => node(() => 5, { outputs: ['a', 'b'], name: 'pair' }).run({}),
    NodeOutputShapeError,
    ["'pair'", 'number 5'],
  ],
  [
    'a returned object missing an output key',
    () =>
      node(() => ({ model: 1 }), { outputs: { model: 'm', metrics: 'x' }, name: 'fit' }).run({}),
    NodeOutputShapeError,
    ["'fit'", "missing key 'metrics'"],
  ],
  [
    'a run without one of the inputs',
    () => n('train', ['a', 'b'], 'c').run({ a: 1 }),
    NodeInputMissingError,
    ["'train'", "'b'"],
  ],
  [
    'onlyNodes() without names',
    () => base().onlyNodes(),
    EmptyPipelineSelectionError,
    ['onlyNodes()', 'at least one argument'],
  ],
  [
    'a namespace filter matching no node',
    () => base().onlyNodesWithNamespace('ghost'),
    EmptyPipelineSelectionError,
    ["onlyNodesWithNamespace('ghost')", 'no node of this pipeline has a namespace'],
  ],
  [
    'an unknown node with a close name',
    () => base().onlyNodes('trian'),
    UnknownNodeError,
    ["'trian' (did you mean 'train'?)"],
  ],
  [
    'an unknown node in fromNodes',
    () => base().fromNodes('preprocesss', 'report'),
    UnknownNodeError,
    ["'preprocesss' (did you mean 'preprocess'?)"],
  ],
  [
    'an unknown node looked up by name',
    () => base().node('Train'),
    UnknownNodeError,
    ["did you mean 'train'?"],
  ],
  [
    'a node name missing its namespace',
    () => pipeline(base(), { namespace: 'ds' }).toNodes('train'),
    UnknownNodeError,
    ["'train' (did you mean 'ds.train'?)"],
  ],
  [
    'an unknown tag',
    () => base().onlyNodesWithTags('trainig'),
    UnknownTagError,
    ["'trainig' (did you mean 'training'?)", "'data', 'training'"],
  ],
  [
    'an unknown dataset in fromInputs',
    () => base().fromInputs('claen'),
    UnknownDatasetError,
    ["'claen' (did you mean 'clean'?)"],
  ],
  [
    'a final output given to fromInputs',
    () => base().fromInputs('model'),
    UnknownDatasetError,
    ["'model'", 'use toOutputs()'],
  ],
  [
    'a free input given to toOutputs',
    () => base().toOutputs('raw'),
    UnknownDatasetError,
    ["'raw'", 'free inputs'],
  ],
  [
    'remapping a dataset the pipeline does not have',
    () => pipeline(base(), { namespace: 'ns', inputs: { rwa: 'shared' } }),
    NamespaceError,
    ["'rwa'", "namespace 'ns'", "did you mean 'raw'?"],
  ],
  [
    'remapping a produced dataset as an input',
    () => pipeline(base(), { namespace: 'ns', inputs: 'clean' }),
    NamespaceError,
    ["'clean'", "'preprocess'", '`outputs` option'],
  ],
  [
    'remapping a free input as an output',
    () => pipeline(base(), { namespace: 'ns', outputs: 'raw' }),
    NamespaceError,
    ["'raw'", '`inputs` option'],
  ],
  [
    'remapping a parameter as an input',
    () => pipeline([n('fit', ['x', 'params:lr'], 'm')], { namespace: 'ns', inputs: 'params:lr' }),
    NamespaceError,
    ["'params:lr'", '`parameters` option'],
  ],
  [
    'remapping a parameter the pipeline does not read',
    () =>
      pipeline([n('fit', ['x', 'params:lr'], 'm')], {
        namespace: 'ns',
        parameters: { rl: 'other' },
      }),
    NamespaceError,
    ["'params:rl'", "did you mean 'params:lr'?"],
  ],
  [
    'an invalid namespace',
    () => pipeline(base(), { namespace: 'bad ns' }),
    InvalidNameError,
    ['"bad ns"'],
  ],
  [
    'a parameter as an output',
    () => n('leak', 'x', 'params:alpha'),
    ParameterOutputError,
    ["'leak'", "'params:alpha'"],
  ],
  [
    'all parameters as an output',
    () => n('leak_all', 'x', ['y', 'parameters']),
    ParameterOutputError,
    ["'leak_all'", "'parameters'"],
  ],
  ['an empty node name', () => node(id, { name: '', inputs: 'x' }), InvalidNameError, ['""']],
  [
    'a node name with spaces',
    () => node(id, { name: 'train model', inputs: 'x' }),
    InvalidNameError,
    ['"train model"'],
  ],
  [
    'an empty dataset name',
    () => n('blank', ['a', ''], 'b'),
    InvalidNameError,
    ["node 'blank'", '""'],
  ],
  [
    'a dataset that is input and output',
    () => n('loop', ['a', 'b'], ['b', 'c']),
    NodeInputOutputOverlapError,
    ["'loop'", "'b'"],
  ],
  [
    'the same output twice',
    () => n('twice', 'a', ['b', 'b']),
    DuplicateNodeOutputError,
    ["'twice'", "'b'"],
  ],
  [
    'a tag with a comma',
    () => n('tagged', 'a', 'b', ['x,y']),
    InvalidNameError,
    ["'tagged'", '"x,y"'],
  ],
  [
    'inputs given as a number',
    () => node(id, { inputs: 3 as unknown as string, name: 'num' }),
    InvalidNodeDefinitionError,
    ["'num'", "'inputs'", 'number 3'],
  ],
  [
    'a function that is not a function',
    () => node('fn' as unknown as NodeFunction, { name: 'nofn' }),
    InvalidNodeDefinitionError,
    ["'nofn'", "'func'"],
  ],
  [
    'a malformed timeout',
    () => node(id, { name: 'slow', timeout: 'soon' }),
    InvalidNodeDefinitionError,
    ["'slow'", "'timeout'", '"soon"'],
  ],
  [
    'a retry backoff below one',
    () => node(id, { name: 'flaky', retry: { backoffCoefficient: 0.5 } }),
    InvalidNodeDefinitionError,
    ["'flaky'", "'retry.backoffCoefficient'", '0.5'],
  ],
  [
    'a plain function given to pipeline()',
    () => pipeline([id as unknown as Pipeline]),
    InvalidPipelineItemError,
    ['Item 0', 'function id'],
  ],
];

describe('pipeline bad input', () => {
  it.each(cases)(
    'rejects %s with the right error class and names the culprit',
    async (_title, act, errorClass, mentions) => {
      const error = await thrown(act);
      expect(error).toBeInstanceOf(errorClass);
      expect(error).toBeInstanceOf(PipelineError);
      expect((error as Error).name).toBe(errorClass.name);
      for (const mention of mentions) expect((error as Error).message).toContain(mention);
    },
  );
});

describe('pipeline error fields', () => {
  it('exposes the cycle as node names starting from the smallest', async () => {
    const error = (await thrown(() =>
      pipeline([n('b', 'y', 'x'), n('a', 'x', 'y')]),
    )) as CircularDependencyError;
    expect(error.cycle).toEqual(['a', 'b']);
    expect(error.datasets).toEqual(['y', 'x']);
  });

  it('exposes every dataset with several producers', async () => {
    const error = (await thrown(() =>
      pipeline([n('p1', 'i', ['a', 'b']), n('p2', 'j', ['b', 'a'])]),
    )) as OutputNotUniqueError;
    expect(error.dataset).toBe('a');
    expect(error.nodes).toEqual(['p1', 'p2']);
    expect(error.conflicts.map((c) => c.dataset)).toEqual(['a', 'b']);
  });

  it('exposes suggestions of unknown nodes', async () => {
    const error = (await thrown(() => base().onlyNodes('trian', 'zzz'))) as UnknownNodeError;
    expect(error.names).toEqual(['trian', 'zzz']);
    expect(error.suggestions).toEqual({ trian: 'train' });
    expect(error.hint).toMatch(/namespace/);
  });
});
