/**
 * Issue 13, bad input: public pipeline and catalog methods given an argument of the wrong shape
 * either accept it (an array of names where names are spread) or throw a typed error naming the
 * argument; never a TypeError from deep inside, never a silent no-op.
 */
import { describe, expect, it } from '@jest/globals';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import { InvalidArgumentError, node, pipeline, PipelineError } from '../../src/pipeline/index.js';
import type { Pipeline } from '../../src/pipeline/index.js';

const id = (x: unknown): unknown => x;
const names = (p: Pipeline): string[] => p.nodes.map((n) => n.name);

function project(): Pipeline {
  return pipeline([
    node(id, { inputs: 'raw', outputs: 'clean', name: 'preprocess', tags: ['data'] }),
    node(id, { inputs: 'clean', outputs: 'model', name: 'train', tags: ['ml'] }),
    node(id, { inputs: 'raw', outputs: 'report', name: 'report', tags: ['reporting'] }),
  ]);
}

/** Calls a method with arguments the types forbid, as JavaScript callers and YAML-fed code can. */
const call = (target: object, method: string, ...args: unknown[]): unknown =>
  (target as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);

const attempt = (fn: () => unknown): unknown => {
  try {
    return fn();
  } catch (error) {
    return error;
  }
};

describe('pipeline filters given arrays', () => {
  it.each([
    ['onlyNodes', ['train', 'report'], ['report', 'train']],
    ['onlyNodesWithTags', ['ml', 'reporting'], ['report', 'train']],
    ['fromInputs', ['clean'], ['train']],
    ['toOutputs', ['model'], ['preprocess', 'train']],
    ['fromNodes', ['preprocess'], ['preprocess', 'train']],
    ['toNodes', ['train'], ['preprocess', 'train']],
  ])('%s accepts an array of names as it accepts them spread', (method, args, expected) => {
    const fromArray = call(project(), method, args) as Pipeline;
    const fromSpread = call(project(), method, ...args) as Pipeline;
    expect(names(fromArray)).toEqual(expected);
    expect(names(fromSpread)).toEqual(expected);
  });
});

describe('pipeline filters given the wrong shape', () => {
  it.each([
    [
      'onlyNodes',
      [42],
      'onlyNodes(names): expected node names (strings, or arrays of strings)',
      'names[0]',
    ],
    ['onlyNodesWithTags', [{ tags: ['ml'] }], 'onlyNodesWithTags(tags)', 'tags[0]'],
    ['fromInputs', [[['clean']]], 'fromInputs(datasets)', 'datasets[0][0]'],
    ['toOutputs', [null], 'toOutputs(datasets)', 'datasets[0]'],
    ['fromNodes', [undefined], 'fromNodes(names)', 'names[0]'],
    ['toNodes', [new Set(['train'])], 'toNodes(names)', 'names[0]'],
    ['onlyNodesWithNamespace', [['ns']], 'onlyNodesWithNamespace(namespace)', 'namespace'],
    ['filter', [['train']], 'filter(criteria): expected an object of criteria', 'criteria'],
    ['filter', ['ml'], 'filter(criteria): expected an object of criteria', 'criteria'],
    ['filter', [null], 'filter(criteria)', 'criteria'],
    ['filter', [{ tag: 'ml' }], "unknown criterion 'tag' (did you mean 'tags'?)", 'criteria.tag'],
    ['filter', [{ nodeNames: 5 }], 'a node name or an array of them', 'criteria.nodeNames'],
    ['filter', [{ tags: ['ml', 3] }], 'a tag or an array of them', 'criteria.tags[1]'],
    ['filter', [{ namespace: ['a'] }], 'a namespace (string)', 'criteria.namespace'],
  ])(
    '%s(%j) throws InvalidArgumentError naming the argument',
    (method, args, message, argument) => {
      const error = attempt(() => call(project(), method, ...args));
      expect(error).not.toBeInstanceOf(TypeError);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toBeInstanceOf(PipelineError);
      expect(error).toMatchObject({ name: 'InvalidArgumentError', method, argument });
      expect((error as Error).message).toContain(message);
    },
  );

  it('filter still works with strings and arrays of strings', () => {
    expect(names(project().filter({ tags: ['ml', 'data'], toNodes: 'train' }))).toEqual([
      'preprocess',
      'train',
    ]);
  });
});

describe('DataCatalog public methods given the wrong shape', () => {
  const catalog = (): DataCatalog =>
    new DataCatalog({ a: new MemoryDataset({ name: 'a', data: 1 }) }, { p: 1 });

  it.each([
    ['load', [['a']], 'name'],
    ['save', [42, 1], 'name'],
    ['exists', [{ name: 'a' }], 'name'],
    ['release', [undefined], 'name'],
    ['has', [null], 'name'],
    ['getDataset', [['a']], 'name'],
    ['isPersisted', [1], 'name'],
    ['withDatasets', [['a']], 'datasets'],
    ['withDatasets', [{ b: { not: 'a dataset' } }], 'datasets.b'],
  ])('%s(%j) throws a typed error naming the argument', async (method, args, argument) => {
    let error: unknown;
    try {
      await call(catalog(), method, ...args);
    } catch (e) {
      error = e;
    }
    expect(error).not.toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ name: 'DatasetArgumentError', method, argument });
    expect((error as Error).message).toContain(`DataCatalog.${method}(`);
  });

  it('a constructor given datasets of the wrong shape names the entry', () => {
    const error = attempt(
      () => new DataCatalog({ a: 'data/a.csv' } as unknown as Record<string, MemoryDataset>),
    );
    expect(error).toMatchObject({ name: 'DatasetArgumentError', argument: 'datasets.a' });
  });
});
