import {
  MlflowInvalidParameterError,
  isValidKey,
  sanitizeKey,
  validateAlias,
} from '../../src/mlflow/index.js';
import { chunkBatch } from '../../src/mlflow/runs.js';
import {
  validateMetric,
  validateParam,
  toWireNumber,
  fromWireNumber,
} from '../../src/mlflow/validation.js';

describe('client-side validation', () => {
  test.each([['alpha'], ['a/b.c-d e:f_1'], ['café'], ['x'.repeat(250)]])(
    "'%s' is a valid key",
    (key) => {
      expect(isValidKey(key)).toBe(true);
    },
  );

  test.each([[''], ['a!b'], ['a,b'], ['x'.repeat(251)]])("'%s' is not a valid key", (key) => {
    expect(isValidKey(key)).toBe(false);
  });

  test('sanitizeKey replaces every invalid character with "_"', () => {
    expect(sanitizeKey('params:model[0]!')).toBe('params:model_0__');
  });

  test('an invalid param name is refused with the name, the bad characters and the sanitised name', () => {
    expect(() => validateParam({ key: 'lr@1', value: 1 })).toThrow(MlflowInvalidParameterError);
    expect(() => validateParam({ key: 'lr@1', value: 1 })).toThrow(
      "Invalid param name 'lr@1': '@' not allowed",
    );
    expect(() => validateParam({ key: 'lr@1', value: 1 })).toThrow("sanitizeKey() gives 'lr_1'");
  });

  test('a param value over 6000 characters is refused (the server would silently truncate it)', () => {
    expect(() => validateParam({ key: 'p', value: 'x'.repeat(6001) })).toThrow(
      "Param 'p' is 6001 characters long",
    );
  });

  test.each([
    [
      'a string',
      'abc',
      'Invalid value for metric \'loss\': expected a number (NaN and ±Infinity allowed), received the string "abc"',
    ],
    [
      'null',
      null,
      "Invalid value for metric 'loss': expected a number (NaN and ±Infinity allowed), received null",
    ],
    [
      'a boolean',
      true,
      "Invalid value for metric 'loss': expected a number (NaN and ±Infinity allowed), received boolean true",
    ],
  ])('a metric value that is %s is refused with the metric name', (_label, value, message) => {
    expect(() => validateMetric({ key: 'loss', value: value as unknown as number }, 0)).toThrow(
      message,
    );
  });

  test('a fractional step is refused', () => {
    expect(() => validateMetric({ key: 'loss', value: 1, step: 1.5 }, 0)).toThrow(
      "Invalid step for metric 'loss': expected an integer",
    );
  });

  test('NaN and ±Infinity travel as MLflow strings and come back as numbers', () => {
    expect([NaN, Infinity, -Infinity, 1.5].map(toWireNumber)).toEqual([
      'NaN',
      'Infinity',
      '-Infinity',
      1.5,
    ]);
    expect(fromWireNumber('NaN')).toBeNaN();
    expect(fromWireNumber(2)).toBe(2);
    expect(validateMetric({ key: 'm', value: NaN }, 7)).toEqual({
      key: 'm',
      value: 'NaN',
      timestamp: 7,
      step: 0,
    });
  });

  test.each([['latest'], ['LATEST'], ['v1'], ['V42']])("the alias '%s' is reserved", (alias) => {
    expect(() => validateAlias(alias)).toThrow(/is reserved by MLflow/);
  });

  test('log-batch chunks respect 1000 metrics, 100 params, 100 tags and 1000 entities per call', () => {
    const metrics = Array.from({ length: 2500 }, (_, i) => ({
      key: 'm',
      value: i,
      timestamp: 0,
      step: i,
    }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const tags = Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
    const chunks = chunkBatch({ metrics, params, tags });
    for (const c of chunks) {
      expect(c.metrics.length).toBeLessThanOrEqual(1000);
      expect(c.params.length).toBeLessThanOrEqual(100);
      expect(c.tags.length).toBeLessThanOrEqual(100);
      expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(1000);
    }
    expect(chunks.flatMap((c) => c.metrics)).toEqual(metrics);
    expect(chunks.flatMap((c) => c.params)).toEqual(params);
    expect(chunks.flatMap((c) => c.tags)).toEqual(tags);
    expect(chunks).toHaveLength(3);
  });
});
