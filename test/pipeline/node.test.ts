import { describe, expect, it } from '@jest/globals';
import { Node, NodeOutputShapeError, node, parseDuration } from '../../src/pipeline/index.js';

function add(a: number, b: number): number {
  return a + b;
}

describe('node inputs', () => {
  it('calls a function without inputs with no arguments', async () => {
    const n = node(() => 42, { outputs: 'answer' });
    expect(n.inputs).toEqual([]);
    await expect(n.run({})).resolves.toEqual({ answer: 42 });
  });

  it('passes a single string input as the only argument', async () => {
    const n = node((x: number) => x * 2, { inputs: 'x', outputs: 'y' });
    await expect(n.run({ x: 21 })).resolves.toEqual({ y: 42 });
  });

  it('passes array inputs as positional arguments in order', async () => {
    const n = node((a: string, b: string) => a + b, {
      inputs: ['first', 'second'],
      outputs: 'joined',
    });
    expect(n.inputs).toEqual(['first', 'second']);
    await expect(n.run({ second: 'b', first: 'a' })).resolves.toEqual({ joined: 'ab' });
  });

  it('passes object inputs as one object argument keyed by argument name', async () => {
    const n = node(({ x, y }: { x: number; y: number }) => x - y, {
      inputs: { x: 'train_x', y: 'train_y' },
      outputs: 'diff',
    });
    expect(n.inputs).toEqual(['train_x', 'train_y']);
    await expect(n.run({ train_x: 10, train_y: 3 })).resolves.toEqual({ diff: 7 });
  });

  it('exposes params and parameters inputs as ordinary dataset names', async () => {
    const n = node((rate: number, all: Record<string, unknown>) => [rate, all], {
      inputs: ['params:model.learning_rate', 'parameters'],
      outputs: 'echo',
    });
    expect(n.inputs).toEqual(['params:model.learning_rate', 'parameters']);
    await expect(
      n.run({ 'params:model.learning_rate': 0.1, parameters: { a: 1 } }),
    ).resolves.toEqual({ echo: [0.1, { a: 1 }] });
  });

  it('lists an input used twice only once but passes it twice', async () => {
    const n = node(add, { inputs: ['x', 'x'], outputs: 'double' });
    expect(n.inputs).toEqual(['x']);
    await expect(n.run({ x: 4 })).resolves.toEqual({ double: 8 });
  });

  it('passes undefined values that are present in the inputs record', async () => {
    const n = node((v: unknown) => v === undefined, { inputs: 'maybe', outputs: 'was_undefined' });
    await expect(n.run({ maybe: undefined })).resolves.toEqual({ was_undefined: true });
  });
});

describe('node outputs', () => {
  it('ignores the return value of a node without outputs', async () => {
    const n = node((x: number) => x, { inputs: 'x' });
    expect(n.outputs).toEqual([]);
    await expect(n.run({ x: 1 })).resolves.toEqual({});
  });

  it('maps the whole return value to a single string output', async () => {
    const n = node(() => [1, 2, 3], { outputs: 'list' });
    await expect(n.run({})).resolves.toEqual({ list: [1, 2, 3] });
  });

  it('maps a returned tuple to array outputs in order', async () => {
    const n = node(() => ['train', 'test'] as const, { outputs: ['train_set', 'test_set'] });
    await expect(n.run({})).resolves.toEqual({ train_set: 'train', test_set: 'test' });
  });

  it('maps a returned object to object outputs by key', async () => {
    const n = node(() => ({ model: 'm', metrics: { acc: 1 } }), {
      outputs: { model: 'regressor', metrics: 'scores' },
    });
    expect(n.outputs).toEqual(['regressor', 'scores']);
    await expect(n.run({})).resolves.toEqual({ regressor: 'm', scores: { acc: 1 } });
  });

  it('awaits async functions', async () => {
    const n = node(
      async (x: number) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return [x, x + 1];
      },
      { inputs: 'x', outputs: ['a', 'b'] },
    );
    await expect(n.run({ x: 1 })).resolves.toEqual({ a: 1, b: 2 });
  });

  it('rejects a tuple of the wrong length naming the node and both counts', async () => {
    const n = node(() => [1, 2, 3], { outputs: ['a', 'b'], name: 'split' });
    const error = await n.run({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeOutputShapeError);
    expect((error as Error).message).toMatch(/'split'/);
    expect((error as Error).message).toMatch(/an array of 2 values/);
    expect((error as Error).message).toMatch(/an array of 3 values/);
  });

  it('rejects a returned object with an unexpected key', async () => {
    const n = node(() => ({ a: 1, b: 2, c: 3 }), { outputs: { a: 'x', b: 'y' }, name: 'extra' });
    const error = (await n.run({}).catch((e: unknown) => e)) as NodeOutputShapeError;
    expect(error).toBeInstanceOf(NodeOutputShapeError);
    expect(error.keys).toEqual(['c']);
    expect(error.message).toMatch(/unexpected key 'c'/);
  });

  it('lets errors thrown by the function propagate unchanged', async () => {
    class Boom extends Error {}
    const n = node(
      () => {
        throw new Boom('boom');
      },
      { outputs: 'x' },
    );
    await expect(n.run({})).rejects.toBeInstanceOf(Boom);
  });
});

describe('node names and signature', () => {
  it('derives a Kedro-like default name from the function name and datasets', () => {
    expect(node(add, { inputs: ['a', 'b'], outputs: 'c' }).name).toBe('add([a,b]) -> [c]');
    expect(node(() => 1, { outputs: 'c' }).name).toBe('<anonymous>(None) -> [c]');
  });

  it('uses the given name and prints a readable signature', () => {
    const n = node(add, { inputs: ['a', 'b'], outputs: 'c', name: 'sum' });
    expect(n.name).toBe('sum');
    expect(n.toString()).toBe('sum: add([a, b]) -> [c]');
    expect(String(node(add, { inputs: 'a' }))).toBe('add([a]) -> None');
  });

  it('prefixes the name with the namespace', () => {
    expect(node(add, { inputs: 'a', name: 'sum', namespace: 'team.ds' }).name).toBe('team.ds.sum');
  });
});

describe('node options', () => {
  it('sorts and de-duplicates tags', () => {
    expect(node(add, { tags: ['b', 'a', 'b'] }).tags).toEqual(['a', 'b']);
    expect(node(add, { tags: 'solo' }).tags).toEqual(['solo']);
  });

  it.each([
    [1500, 1500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
  ])('accepts timeout %p as %p ms', (timeout, ms) => {
    expect(node(add, { timeout }).timeoutMs).toBe(ms);
  });

  it('returns undefined for malformed durations', () => {
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('5 minutes')).toBeUndefined();
  });

  it('keeps the retry policy it is given', () => {
    const retry = {
      maximumAttempts: 3,
      initialIntervalMs: 100,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: ['DatasetError'],
    };
    expect(node(add, { retry }).retry).toEqual(retry);
  });

  it('is immutable', () => {
    const n = node(add, { inputs: ['a', 'b'], outputs: 'c', tags: ['t'] });
    expect(Object.isFrozen(n)).toBe(true);
    expect(Object.isFrozen(n.inputs)).toBe(true);
    expect(Object.isFrozen(n.tags)).toBe(true);
  });

  it('returns new nodes from with* methods and leaves the original alone', () => {
    const n = node(add, { inputs: ['a', 'b'], outputs: 'c', name: 'sum', tags: 'x' });
    const copy = n
      .withTags('y')
      .withName('total')
      .withTimeout('1m')
      .withRetry({ maximumAttempts: 2 });
    expect(copy).toBeInstanceOf(Node);
    expect(copy).not.toBe(n);
    expect(copy.tags).toEqual(['x', 'y']);
    expect(copy.name).toBe('total');
    expect(copy.timeoutMs).toBe(60_000);
    expect(copy.retry).toEqual({ maximumAttempts: 2 });
    expect(n.tags).toEqual(['x']);
    expect(n.name).toBe('sum');
    expect(n.timeoutMs).toBeUndefined();
  });

  it('renames datasets while keeping the input and output forms', async () => {
    const n = node(({ x }: { x: number }) => ({ y: x + 1 }), {
      inputs: { x: 'a' },
      outputs: { y: 'b' },
    });
    const renamed = n.renameDatasets({ a: 'in', b: 'out' });
    expect(renamed.inputs).toEqual(['in']);
    expect(renamed.name).toBe('<anonymous>([in]) -> [out]');
    await expect(renamed.run({ in: 1 })).resolves.toEqual({ out: 2 });
  });

  it('describes itself as JSON-safe data', () => {
    const n = node(add, { inputs: ['a', 'b'], outputs: 'c', name: 'sum', timeout: '2s' });
    expect(JSON.parse(JSON.stringify(n))).toEqual({
      name: 'sum',
      func: 'add',
      inputs: ['a', 'b'],
      outputs: ['c'],
      tags: [],
      timeoutMs: 2000,
    });
  });
});
