import { node } from '../../src/pipeline/node.js';
import {
  datasetAt,
  deserializeThrown,
  findUncloneable,
  formatPath,
  serializeThrown,
} from '../../src/runner/node-thread-values.js';

class Model {
  weights = [1];
  predict(): number {
    return 0;
  }
}

describe('findUncloneable', () => {
  it.each([
    ['a number', 1],
    ['a bigint', 1n],
    ['null and undefined in an object', { a: null, b: undefined }],
    ['nested plain data', { rows: [{ x: 1, y: 'a' }], at: new Date(0), re: /x/g }],
    ['a null-prototype object', Object.create(null) as object],
    ['Map and Set', new Map([['k', new Set([1, 2])]])],
    [
      'typed arrays and buffers',
      { f: new Float64Array(3), b: new ArrayBuffer(8), d: new DataView(new ArrayBuffer(2)) },
    ],
    ['an Error', new RangeError('x')],
    [
      'a cycle',
      (() => {
        const a: Record<string, unknown> = {};
        a.self = a;
        return a;
      })(),
    ],
  ])('accepts %s', (_, value) => {
    expect(findUncloneable(value)).toBeUndefined();
  });

  it.each([
    ['a function', () => 1, [], 'a function <anonymous>'],
    ['a named function in an array', [1, function fit() {}], [1], 'a function fit'],
    ['a symbol in an object', { s: Symbol('k') }, ['s'], 'a symbol Symbol(k)'],
    [
      'a class instance deep inside',
      { a: { 'b-c': [new Model()] } },
      ['a', 'b-c', 0],
      'an instance of class Model',
    ],
    [
      'a class instance in a Map',
      new Map([['m', new Model()]]),
      [{ member: 'Map value' }],
      'an instance of class Model',
    ],
    ['a promise', { p: Promise.resolve(1) }, ['p'], 'an instance of class Promise'],
  ])('finds %s with its path', (_, value, path, found) => {
    expect(findUncloneable(value)).toEqual({ path, found });
  });

  it('lists whole, unshared ArrayBuffers to move, each once', () => {
    const whole = new Float64Array(4);
    const partial = new Uint8Array(new ArrayBuffer(16), 4, 4);
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const transfer: ArrayBuffer[] = [];
    findUncloneable({ whole, again: whole, partial, shared, raw: whole.buffer }, transfer);
    expect(transfer).toEqual([whole.buffer]);
  });
});

describe('formatPath and datasetAt', () => {
  it.each([
    [[0, 'weights', 2], '[0].weights[2]'],
    [['b-c', { member: 'Set' as const }], '["b-c"] (Set)'],
    [[], ''],
  ])('formats %j as %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });

  const single = node((x: unknown) => x, { inputs: 'table', outputs: 'model' });
  const list = node((a: unknown, b: unknown) => [a, b], {
    inputs: ['a', 'b'],
    outputs: ['c', 'd'],
  });
  const dict = node(({ x }: { x: unknown }) => ({ m: x }), {
    inputs: { x: 'xs' },
    outputs: { m: 'metrics' },
  });

  it.each([
    ['a single input', single.inputSpec, [0, 'w'], 'input', 'table', ['w']],
    ['a positional input', list.inputSpec, [1, 'w'], 'input', 'b', ['w']],
    ['an object input', dict.inputSpec, [0, 'x', 3], 'input', 'xs', [3]],
    ['a single output', single.outputSpec, ['w'], 'output', 'model', ['w']],
    ['a tuple output', list.outputSpec, [1], 'output', 'd', []],
    ['an object output', dict.outputSpec, ['m', 'k'], 'output', 'metrics', ['k']],
  ] as const)('finds the dataset of %s', (_, spec, path, direction, dataset, rest) => {
    expect(datasetAt(spec, path, direction)).toEqual({ dataset, rest });
  });
});

describe('thrown values across threads', () => {
  it('rebuild an Error with its name, class name, fields and cause', () => {
    class DataError extends Error {
      override readonly name = 'DataError';
      readonly code = 'E42';
      readonly model = new Model(); // not cloneable: dropped
    }
    const original = new DataError('bad', { cause: { detail: 1 } });
    const copy = deserializeThrown(structuredClone(serializeThrown(original))) as Error;
    expect(copy).toBeInstanceOf(Error);
    expect(copy.constructor.name).toBe('DataError');
    expect(copy).toMatchObject({
      name: 'DataError',
      message: 'bad',
      code: 'E42',
      cause: { detail: 1 },
    });
    expect(copy).not.toHaveProperty('model');
    expect(copy.stack).toBe(original.stack);
  });

  it.each([
    ['a plain object', { code: 42 }, { code: 42 }],
    ['a string', 'oops', 'oops'],
    ['a function, as its description', function boom() {}, '[Function: boom]'],
  ])('keep %s that is not an Error', (_, thrown, expected) => {
    expect(deserializeThrown(structuredClone(serializeThrown(thrown)))).toEqual(expected);
  });
});
