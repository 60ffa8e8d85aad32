import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import type { Hooks, RunInfo } from '../../src/hooks/types.js';
import { node, pipeline } from '../../src/pipeline/index.js';
import {
  NodeRunError,
  NonErrorThrownError,
  UndefinedOutputError,
} from '../../src/runner/errors.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { runNode } from '../../src/runner/run-node.js';

const run: RunInfo = {
  runId: 'test-run',
  pipelineName: 'bad',
  env: 'local',
  projectDir: '.',
  runtimeParams: {},
};

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('a node that throws something other than an Error', () => {
  it.each([
    ['an object', { code: 42 }, '{"code":42}'],
    ['a string', 'disk full', '"disk full"'],
    ['a number', 7, '7'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a bigint', 10n, '10n'],
  ])('is reported with its content when it throws %s', async (_, thrown, shown) => {
    const errors: Error[] = [];
    const hooks: Hooks[] = [{ onNodeError: ({ error }) => void errors.push(error) }];
    const error = await failureOf(
      runNode({
        node: node(
          () => {
            throw thrown;
          },
          { outputs: 'x', name: 'thrower' },
        ),
        catalog: new DataCatalog({ x: new MemoryDataset() }),
        hooks,
        run,
      }),
    );
    expect(error).toBeInstanceOf(NonErrorThrownError);
    const typed = error as NonErrorThrownError;
    expect(typed.message).toBe(`Node 'thrower' threw a value that is not an Error: ${shown}`);
    expect(typed.nodeName).toBe('thrower');
    expect(typed.value).toBe(thrown);
    // Hooks see the same Error, with a message, instead of the raw value.
    expect(errors).toEqual([typed]);
  });

  it('keeps the content in the local runner failure instead of [object Object]', async () => {
    const error = await failureOf(
      runPipelineLocally({
        pipeline: pipeline([
          node(
            () => {
              throw { code: 42 };
            },
            { outputs: 'x', name: 'thrower' },
          ),
        ]),
        catalog: new DataCatalog({}),
        run,
      }),
    );
    expect(error).toBeInstanceOf(NodeRunError);
    expect((error as Error).message).toMatch(
      /^Node 'thrower' failed: Node 'thrower' threw a value that is not an Error: \{"code":42\}/,
    );
    expect(((error as Error).cause as NonErrorThrownError).value).toEqual({ code: 42 });
  });
});

describe('a node that returns undefined into a dataset', () => {
  it.each([
    ['a single output', { outputs: 'model' }, () => undefined, 'model'],
    ['a tuple output', { outputs: ['a', 'b'] }, () => [1, undefined], 'b'],
    [
      'an object output',
      { outputs: { m: 'metrics', s: 'scores' } },
      () => ({ m: {}, s: undefined }),
      'scores',
    ],
    ['an async single output', { outputs: 'model' }, async () => undefined, 'model'],
  ])('is an error naming the node and the dataset for %s', async (_, wiring, fn, dataset) => {
    const saved: string[] = [];
    const catalog = new DataCatalog({});
    const error = await failureOf(
      runNode({
        node: node(fn, { ...wiring, name: 'fit' }),
        catalog: {
          load: (name) => catalog.load(name),
          has: () => true,
          getDataset: () => undefined,
          parameters: {},
          save: async (name) => void saved.push(name),
        },
        hooks: [],
        run,
      }),
    );
    expect(error).toBeInstanceOf(UndefinedOutputError);
    expect(error).toMatchObject({ nodeName: 'fit', dataset });
    expect((error as Error).message).toBe(
      `Node 'fit' returned undefined for output '${dataset}': a dataset cannot hold undefined ` +
        `(return null, or declare no output for a node that returns nothing).`,
    );
    expect(saved).toEqual([]);
  });

  it('accepts null and a node without outputs that returns nothing', async () => {
    const catalog = new DataCatalog({ kept: new MemoryDataset() });
    await runNode({ node: node(() => null, { outputs: 'kept' }), catalog, hooks: [], run });
    await expect(catalog.load('kept')).resolves.toBeNull();
    await expect(
      runNode({ node: node(() => undefined, { name: 'side_effect' }), catalog, hooks: [], run }),
    ).resolves.toEqual({});
  });
});
