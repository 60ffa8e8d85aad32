import { describe, expect, it } from '@jest/globals';
import { Pipeline, node, pipeline } from '../../src/pipeline/index.js';
import type { Node } from '../../src/pipeline/index.js';

const id = (x: unknown): unknown => x;
const names = (nodes: readonly Node[]): string[] => nodes.map((n) => n.name);

/** raw -> clean -> (features_a, features_b) -> model */
function diamond(): Pipeline {
  return pipeline([
    node(id, {
      inputs: ['features_a', 'features_b', 'params:model'],
      outputs: 'model',
      name: 'train',
    }),
    node(id, { inputs: 'clean', outputs: 'features_b', name: 'featurize_b' }),
    node(id, { inputs: 'clean', outputs: 'features_a', name: 'featurize_a' }),
    node(id, { inputs: 'raw', outputs: 'clean', name: 'preprocess' }),
  ]);
}

describe('pipeline structure', () => {
  it('sorts nodes topologically, breaking ties by name', () => {
    expect(names(diamond().nodes)).toEqual(['preprocess', 'featurize_a', 'featurize_b', 'train']);
  });

  it('groups the nodes of a diamond into three layers, the branches together', () => {
    expect(diamond().layers().map(names)).toEqual([
      ['preprocess'],
      ['featurize_a', 'featurize_b'],
      ['train'],
    ]);
  });

  it('lists free inputs including parameters, and final outputs', () => {
    const p = diamond();
    expect(p.inputs()).toEqual(['params:model', 'raw']);
    expect(p.outputs()).toEqual(['model']);
    expect(p.allInputs()).toEqual(['clean', 'features_a', 'features_b', 'params:model', 'raw']);
    expect(p.allOutputs()).toEqual(['clean', 'features_a', 'features_b', 'model']);
    expect(p.datasets()).toEqual([
      'clean',
      'features_a',
      'features_b',
      'model',
      'params:model',
      'raw',
    ]);
  });

  it('maps each node to the nodes it depends on', () => {
    const deps = diamond().nodeDependencies;
    expect(deps.get('train')).toEqual(['featurize_a', 'featurize_b']);
    expect(deps.get('featurize_a')).toEqual(['preprocess']);
    expect(deps.get('preprocess')).toEqual([]);
  });

  it('finds nodes by name, producer and consumers', () => {
    const p = diamond();
    expect(p.node('train').outputs).toEqual(['model']);
    expect(p.hasNode('nope')).toBe(false);
    expect(p.producerOf('clean')?.name).toBe('preprocess');
    expect(names(p.consumersOf('clean'))).toEqual(['featurize_a', 'featurize_b']);
  });

  it('accepts an empty pipeline', () => {
    const p = pipeline([]);
    expect(p.nodes).toEqual([]);
    expect(p.layers()).toEqual([]);
    expect(p.inputs()).toEqual([]);
  });

  it('is immutable and iterable', () => {
    const p = diamond();
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.nodes)).toBe(true);
    expect([...p].length).toBe(4);
  });

  it('describes itself in execution order', () => {
    const p = diamond();
    expect(p.describe()).toContain('Inputs: params:model, raw');
    expect(p.toString()).toContain('train: id([features_a, features_b, params:model]) -> [model]');
    expect(p.toJSON().layers).toEqual([['preprocess'], ['featurize_a', 'featurize_b'], ['train']]);
  });
});

describe('pipeline composition', () => {
  const a = node(id, { inputs: 'x', outputs: 'y', name: 'a' });
  const b = node(id, { inputs: 'y', outputs: 'z', name: 'b' });
  const c = node(id, { inputs: 'z', outputs: 'w', name: 'c' });

  it('combines nodes and pipelines and keeps identical node objects once', () => {
    const p = pipeline([pipeline([a, b]), pipeline([b, c]), a]);
    expect(names(p.nodes)).toEqual(['a', 'b', 'c']);
  });

  it('adds pipelines with plus and removes nodes with minus', () => {
    const ab = pipeline([a, b]);
    const abc = ab.plus(pipeline([c]));
    expect(names(abc.nodes)).toEqual(['a', 'b', 'c']);
    expect(names(abc.minus(ab).nodes)).toEqual(['c']);
    expect(names(ab.nodes)).toEqual(['a', 'b']);
  });

  it('intersects pipelines by node name', () => {
    expect(names(pipeline([a, b, c]).intersect(pipeline([b, c]), pipeline([c])).nodes)).toEqual([
      'c',
    ]);
  });

  it('tags every node of a pipeline built with tags', () => {
    expect(pipeline([a, b], { tags: 'training' }).nodes.map((n) => n.tags)).toEqual([
      ['training'],
      ['training'],
    ]);
  });
});

describe('pipeline subclasses', () => {
  class TaggedPipeline extends Pipeline {
    readonly label: string;
    constructor(nodes: readonly Node[], label: string) {
      super(nodes);
      this.label = label;
    }
    protected override derive(nodes: readonly Node[]): Pipeline {
      return new TaggedPipeline(nodes, this.label);
    }
  }

  it('returns the subclass from filters and composition through derive', () => {
    const p = new TaggedPipeline(diamond().nodes, 'ml');
    const filtered = p.toNodes('featurize_a');
    expect(filtered).toBeInstanceOf(TaggedPipeline);
    expect((filtered as TaggedPipeline).label).toBe('ml');
    expect(p.minus(pipeline([p.node('train')]))).toBeInstanceOf(TaggedPipeline);
    expect(p.filter({ tags: [], nodeNames: ['train'] })).toBeInstanceOf(TaggedPipeline);
  });
});

describe('pipeline performance shapes', () => {
  it('builds a 1,000-node chain into 1,000 layers', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) =>
      node(id, { inputs: `d${i}`, outputs: `d${i + 1}`, name: `n${i}` }),
    );
    const p = pipeline(nodes.reverse());
    expect(p.layers().length).toBe(1000);
    expect(p.nodes[0]?.name).toBe('n0');
    expect(p.nodes[999]?.name).toBe('n999');
  });

  it('builds a 1,000-node fan-out into two layers', () => {
    const leaves = Array.from({ length: 1000 }, (_, i) =>
      node(id, { inputs: 'root', outputs: `leaf${i}`, name: `leaf${i}` }),
    );
    const p = pipeline([node(() => 0, { outputs: 'root', name: 'source' }), ...leaves]);
    expect(p.layers().map((l) => l.length)).toEqual([1, 1000]);
    expect(p.outputs().length).toBe(1000);
  });
});
