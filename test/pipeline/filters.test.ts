import { describe, expect, it } from '@jest/globals';
import { EmptyPipelineSelectionError, node, pipeline } from '../../src/pipeline/index.js';
import type { Pipeline } from '../../src/pipeline/index.js';

const id = (x: unknown): unknown => x;
const names = (p: Pipeline): string[] => p.nodes.map((n) => n.name);

/**
 * raw -> preprocess -> clean -> split -> (train_x, test_x) -> train -> model -> evaluate -> metrics
 *                                                 test_x -----------------------^
 * raw -> report (independent)
 */
function project(): Pipeline {
  return pipeline([
    node(id, { inputs: 'raw', outputs: 'clean', name: 'preprocess', tags: ['data'] }),
    node(id, {
      inputs: ['clean', 'params:split'],
      outputs: ['train_x', 'test_x'],
      name: 'split',
      tags: ['data', 'ml'],
    }),
    node(id, { inputs: 'train_x', outputs: 'model', name: 'train', tags: ['ml', 'training'] }),
    node(id, { inputs: ['model', 'test_x'], outputs: 'metrics', name: 'evaluate', tags: ['ml'] }),
    node(id, { inputs: 'raw', outputs: 'report', name: 'report', tags: ['reporting'] }),
  ]);
}

describe('pipeline filters', () => {
  it('keeps exactly the named nodes with onlyNodes', () => {
    expect(names(project().onlyNodes('train', 'preprocess'))).toEqual(['preprocess', 'train']);
  });

  it('keeps nodes having any of the tags with onlyNodesWithTags', () => {
    expect(names(project().onlyNodesWithTags('training', 'reporting'))).toEqual([
      'report',
      'train',
    ]);
  });

  it('keeps nodes depending on the given datasets with fromInputs', () => {
    expect(names(project().fromInputs('model'))).toEqual(['evaluate']);
    expect(names(project().fromInputs('train_x'))).toEqual(['train', 'evaluate']);
    expect(names(project().fromInputs('raw'))).toEqual([
      'preprocess',
      'report',
      'split',
      'train',
      'evaluate',
    ]);
  });

  it('keeps nodes needed for the given datasets with toOutputs', () => {
    expect(names(project().toOutputs('model'))).toEqual(['preprocess', 'split', 'train']);
    expect(names(project().toOutputs('clean', 'report'))).toEqual(['preprocess', 'report']);
  });

  it('keeps the named nodes and everything downstream with fromNodes', () => {
    expect(names(project().fromNodes('split'))).toEqual(['split', 'train', 'evaluate']);
  });

  it('keeps the named nodes and everything upstream with toNodes', () => {
    expect(names(project().toNodes('train'))).toEqual(['preprocess', 'split', 'train']);
  });

  it('keeps nodes of a namespace and of namespaces nested in it', () => {
    const inner = pipeline(project().onlyNodes('train'), { namespace: 'inner', inputs: 'train_x' });
    const outer = pipeline([inner], { namespace: 'outer', inputs: 'train_x' });
    const both = pipeline([
      outer,
      pipeline(project().onlyNodes('report'), { namespace: 'other', inputs: 'raw' }),
    ]);
    expect(names(both.onlyNodesWithNamespace('outer'))).toEqual(['outer.inner.train']);
    expect(names(both.onlyNodesWithNamespace('outer.inner'))).toEqual(['outer.inner.train']);
    expect(both.namespaces()).toEqual(['other', 'outer', 'outer.inner']);
  });

  it('intersects every criterion given to filter', () => {
    const p = project();
    expect(names(p.filter({ tags: ['ml'], fromNodes: ['split'], toNodes: ['train'] }))).toEqual([
      'split',
      'train',
    ]);
    expect(names(p.filter({ fromInputs: 'clean', toOutputs: 'model' }))).toEqual([
      'split',
      'train',
    ]);
    expect(names(p.filter({ nodeNames: ['report', 'train'], tags: 'training' }))).toEqual([
      'train',
    ]);
  });

  it('returns the pipeline itself when filter is given no criterion', () => {
    const p = project();
    expect(p.filter({})).toBe(p);
  });

  it('throws when filter criteria select nodes separately but none together', () => {
    expect(() => project().filter({ tags: 'reporting', fromNodes: 'split' })).toThrow(
      EmptyPipelineSelectionError,
    );
  });

  it('leaves the original pipeline untouched', () => {
    const p = project();
    p.onlyNodes('train');
    expect(p.nodes.length).toBe(5);
  });
});
