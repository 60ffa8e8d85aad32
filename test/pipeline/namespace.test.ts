import { describe, expect, it } from '@jest/globals';
import { node, pipeline } from '../../src/pipeline/index.js';
import type { Pipeline } from '../../src/pipeline/index.js';

const id = (x: unknown): unknown => x;

/** model_input_table + params:split -> split -> train_x -> train -> regressor -> evaluate -> metrics */
function dataScience(): Pipeline {
  return pipeline([
    node(id, { inputs: ['model_input_table', 'params:split'], outputs: 'train_x', name: 'split' }),
    node(id, { inputs: ['train_x', 'parameters'], outputs: 'regressor', name: 'train' }),
    node(id, {
      inputs: ['regressor', 'params:eval.threshold'],
      outputs: 'metrics',
      name: 'evaluate',
    }),
  ]);
}

describe('namespaced pipelines', () => {
  it('prefixes node names and datasets but not parameters', () => {
    const p = pipeline(dataScience(), { namespace: 'candidate' });
    expect(p.nodes.map((n) => n.name)).toEqual([
      'candidate.split',
      'candidate.train',
      'candidate.evaluate',
    ]);
    expect(p.nodes.every((n) => n.namespace === 'candidate')).toBe(true);
    expect(p.inputs()).toEqual([
      'candidate.model_input_table',
      'parameters',
      'params:eval.threshold',
      'params:split',
    ]);
    expect(p.outputs()).toEqual(['candidate.metrics']);
  });

  it('keeps inputs remapped by name unprefixed', () => {
    const p = pipeline(dataScience(), { namespace: 'a', inputs: 'model_input_table' });
    expect(p.inputs()).toContain('model_input_table');
    const q = pipeline(dataScience(), { namespace: 'a', inputs: ['model_input_table'] });
    expect(q.inputs()).toContain('model_input_table');
  });

  it('renames inputs and outputs given as maps, including intermediate outputs', () => {
    const p = pipeline(dataScience(), {
      namespace: 'b',
      inputs: { model_input_table: 'shared_table' },
      outputs: { metrics: 'b_metrics', regressor: 'b_model' },
    });
    expect(p.inputs()).toContain('shared_table');
    expect(p.outputs()).toEqual(['b_metrics']);
    expect(p.allOutputs()).toEqual(['b.train_x', 'b_metrics', 'b_model']);
  });

  it('remaps parameters with or without the params: prefix', () => {
    const p = pipeline(dataScience(), {
      namespace: 'c',
      parameters: { split: 'params:c_split', 'params:eval.threshold': 'c.threshold' },
    });
    expect(p.inputs()).toEqual([
      'c.model_input_table',
      'parameters',
      'params:c.threshold',
      'params:c_split',
    ]);
  });

  it('prefixes unmapped parameters when asked to, as Kedro 0.19 does', () => {
    const p = pipeline(dataScience(), {
      namespace: 'd',
      prefixParameters: true,
      parameters: { split: 'split' },
    });
    expect(p.inputs()).toEqual([
      'd.model_input_table',
      'parameters',
      'params:d.eval.threshold',
      'params:split',
    ]);
  });

  it('lets two namespaced copies of one pipeline live side by side', () => {
    const both = pipeline([
      pipeline(dataScience(), { namespace: 'a', inputs: 'model_input_table' }),
      pipeline(dataScience(), { namespace: 'b', inputs: 'model_input_table' }),
    ]);
    expect(both.nodes.length).toBe(6);
    expect(both.layers()[0]?.map((n) => n.name)).toEqual(['a.split', 'b.split']);
  });

  it('composes nested namespaces', () => {
    const inner = pipeline(dataScience(), { namespace: 'inner' });
    const outer = pipeline(inner, { namespace: 'outer' });
    expect(outer.nodes[0]?.name).toBe('outer.inner.split');
    expect(outer.nodes[0]?.namespace).toBe('outer.inner');
    expect(outer.inputs()).toContain('outer.inner.model_input_table');
  });

  it('prefixes the default names of unnamed nodes with the renamed datasets', () => {
    const p = pipeline([node(id, { inputs: 'x', outputs: 'y' })], { namespace: 'ns' });
    expect(p.nodes[0]?.name).toBe('ns.id([ns.x]) -> [ns.y]');
    expect(p.nodes[0]?.toString()).toBe('ns.id([ns.x]) -> [ns.y]');
  });

  it('remaps datasets without a namespace', () => {
    const p = pipeline(dataScience(), { outputs: { metrics: 'final_metrics' } });
    expect(p.outputs()).toEqual(['final_metrics']);
    expect(p.nodes[0]?.name).toBe('split');
  });

  it('keeps functions and run behaviour of namespaced nodes', async () => {
    const p = pipeline([node((x: number) => x + 1, { inputs: 'x', outputs: 'y', name: 'inc' })], {
      namespace: 'ns',
      inputs: 'x',
    });
    await expect(p.node('ns.inc').run({ x: 1 })).resolves.toEqual({ 'ns.y': 2 });
  });
});
