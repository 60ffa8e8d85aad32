import {
  MlflowInvalidParameterError,
  MlflowParamTooLongError,
  flattenDict,
  prepareParams,
} from '../../src/mlflow/index.js';

describe('parameters as kedro-mlflow logs them', () => {
  const nested = { model: { depth: 3, opt: { lr: 0.1 } }, seed: 42 };

  test('flattening is recursive by default with "." between keys', () => {
    expect(flattenDict(nested)).toEqual({ 'model.depth': 3, 'model.opt.lr': 0.1, seed: 42 });
  });

  test('non-recursive flattening splits only the first level', () => {
    expect(flattenDict(nested, { recursive: false, sep: '__' })).toEqual({
      model__depth: 3,
      model__opt: { lr: 0.1 },
      seed: 42,
    });
  });

  test('without flatten a dict is logged as one JSON param', () => {
    expect(prepareParams(nested)).toEqual({
      params: [
        { key: 'model', value: '{"depth":3,"opt":{"lr":0.1}}' },
        { key: 'seed', value: '42' },
      ],
      tags: [],
    });
  });

  test('with flatten every leaf becomes a param with stringified values', () => {
    const { params } = prepareParams(
      { ...nested, flag: true, none: null, list: [1, 2] },
      { flatten: true },
    );
    expect(params).toEqual([
      { key: 'model.depth', value: '3' },
      { key: 'model.opt.lr', value: '0.1' },
      { key: 'seed', value: '42' },
      { key: 'flag', value: 'true' },
      { key: 'none', value: 'None' },
      { key: 'list', value: '[1,2]' },
    ]);
  });

  test('invalid characters in names are replaced with "_"', () => {
    expect(prepareParams({ 'a@b#c': 1, 'ok/name-1.x y:z': 2 }).params.map((p) => p.key)).toEqual([
      'a_b_c',
      'ok/name-1.x y:z',
    ]);
  });

  const long = 'x'.repeat(6001);

  test('a long value fails by default with an error naming the param and the fix', () => {
    expect(() => prepareParams({ big: long })).toThrow(MlflowParamTooLongError);
    expect(() => prepareParams({ big: long })).toThrow(
      /Parameter 'big' is 6001 characters long; MLflow accepts at most 6000.*long_params_strategy/,
    );
  });

  test('truncate keeps the first 6000 characters', () => {
    expect(
      prepareParams({ big: long }, { longParamsStrategy: 'truncate' }).params[0]?.value,
    ).toHaveLength(6000);
  });

  test('tag logs the value as a tag instead of a param', () => {
    expect(prepareParams({ big: long, small: 1 }, { longParamsStrategy: 'tag' })).toEqual({
      params: [{ key: 'small', value: '1' }],
      tags: [{ key: 'big', value: long }],
    });
  });

  test('a name longer than 250 characters is refused', () => {
    expect(() => prepareParams({ ['k'.repeat(251)]: 1 })).toThrow(MlflowInvalidParameterError);
  });
});
