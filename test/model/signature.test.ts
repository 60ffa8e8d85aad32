import {
  SignatureError,
  SignatureValidationError,
  inferParamsSchema,
  inferSchema,
  resolveParams,
  safeValidateRecords,
  signatureFromMlmodel,
  signatureToMlmodel,
  validateRecords,
} from '../../src/model/signature.js';
import type { ColSpec, ModelSignature } from '../../src/model/signature.js';

/** What `mlflow.models.infer_signature(df, pd.DataFrame({"y": [...]}), params=...).to_dict()` wrote (MLflow 3.17). */
const MLFLOW_SIGNATURE = {
  inputs:
    '[{"type": "long", "name": "i", "required": true}, {"type": "double", "name": "d", "required": true}, {"type": "string", "name": "s", "required": false}, {"type": "boolean", "name": "b", "required": true}, {"type": "datetime", "name": "t", "required": true}, {"type": "array", "items": {"type": "long"}, "name": "arr", "required": true}, {"type": "object", "properties": {"a": {"type": "long", "required": true}, "b": {"type": "string", "required": true}}, "name": "obj", "required": true}, {"type": "binary", "name": "by", "required": true}]',
  outputs: '[{"type": "double", "name": "y", "required": true}]',
  params:
    '[{"name": "offset", "default": 1.5, "shape": null, "type": "double"}, {"name": "n", "default": 3, "shape": null, "type": "long"}, {"name": "name", "default": "x", "shape": null, "type": "string"}, {"name": "flag", "default": true, "shape": null, "type": "boolean"}, {"name": "lst", "default": [1, 2], "shape": [-1], "type": "long"}]',
};

/** MLflow's JSON with its `", "`/`": "` separators removed, to compare with JSON.stringify output. */
const compact = (s: string) => JSON.stringify(JSON.parse(s));

describe('inferSchema', () => {
  it('infers each MLflow type from JS values, in first-seen column order', () => {
    const schema = inferSchema([
      {
        i: 1,
        d: 1.5,
        s: 'a',
        b: true,
        t: new Date('2024-01-01'),
        bin: new Uint8Array([1]),
        arr: [1, 2],
        obj: { a: 1, b: 'x' },
      },
      {
        i: 2,
        d: 2,
        s: 'b',
        b: false,
        t: new Date('2024-01-02'),
        bin: new Uint8Array([2]),
        arr: [3],
        obj: { a: 2, b: 'y' },
      },
    ]);
    expect(schema).toEqual([
      { type: 'long', name: 'i', required: true },
      { type: 'double', name: 'd', required: true },
      { type: 'string', name: 's', required: true },
      { type: 'boolean', name: 'b', required: true },
      { type: 'datetime', name: 't', required: true },
      { type: 'binary', name: 'bin', required: true },
      { type: 'array', items: { type: 'long' }, name: 'arr', required: true },
      {
        type: 'object',
        properties: { a: { type: 'long', required: true }, b: { type: 'string', required: true } },
        name: 'obj',
        required: true,
      },
    ]);
  });

  it('marks a column missing or null in some rows as not required, and an all-null column as any', () => {
    const schema = inferSchema([
      { a: 1, b: null, c: 'x' },
      { a: 2, b: null },
    ]);
    expect(schema).toEqual([
      { type: 'long', name: 'a', required: true },
      { type: 'any', name: 'b', required: false },
      { type: 'string', name: 'c', required: false },
    ]);
  });

  it('widens integers mixed with other numbers to double and merges object properties', () => {
    const schema = inferSchema([
      { x: 1, o: { a: 1 } },
      { x: 2.5, o: { a: 1.5, b: 'z' } },
    ]);
    expect(schema).toEqual([
      { type: 'double', name: 'x', required: true },
      {
        type: 'object',
        properties: {
          a: { type: 'double', required: true },
          b: { type: 'string', required: false },
        },
        name: 'o',
        required: true,
      },
    ]);
  });

  it('rejects a column holding two incompatible types, naming the column', () => {
    expect(() => inferSchema([{ x: 1 }, { x: 'a' }])).toThrow(
      new SignatureError(
        "Cannot infer a single MLflow type for column 'x': found both long and string",
      ),
    );
  });
});

describe('inferParamsSchema', () => {
  it('writes MLflow param specs with the values as defaults and shape [-1] for lists', () => {
    const params = inferParamsSchema({ offset: 1.5, n: 3, name: 'x', flag: true, lst: [1, 2] });
    expect(signatureToMlmodel({ inputs: [], params }).params).toBe(
      compact(MLFLOW_SIGNATURE.params),
    );
  });

  it('rejects a null default', () => {
    expect(() => inferParamsSchema({ p: null })).toThrow(
      "Cannot infer param 'p': its default is null",
    );
  });
});

describe('signatureToMlmodel / signatureFromMlmodel', () => {
  it('reads what MLflow writes and writes it back identically', () => {
    const sig = signatureFromMlmodel(MLFLOW_SIGNATURE);
    expect(sig.inputs[5]).toEqual({
      type: 'array',
      items: { type: 'long' },
      name: 'arr',
      required: true,
    });
    expect(sig.params?.[4]).toEqual({ name: 'lst', type: 'long', default: [1, 2], shape: [-1] });
    const written = signatureToMlmodel(sig);
    expect(written).toEqual({
      inputs: compact(MLFLOW_SIGNATURE.inputs),
      outputs: compact(MLFLOW_SIGNATURE.outputs),
      params: compact(MLFLOW_SIGNATURE.params),
    });
  });

  it('round-trips map and any types and a signature without outputs or params', () => {
    const sig: ModelSignature = {
      inputs: [
        { type: 'map', values: { type: 'double' }, name: 'm', required: true },
        { type: 'any', name: 'a', required: false },
      ],
    };
    const written = signatureToMlmodel(sig);
    expect(written.outputs).toBeNull();
    expect(written.params).toBeNull();
    expect(signatureFromMlmodel(written)).toEqual(sig);
  });

  it.each([
    [{ inputs: 'not json' }, 'signature.inputs is not valid JSON'],
    [{ inputs: '{}' }, 'signature.inputs must be a JSON array'],
    [
      { inputs: '[{"type": "tensor", "name": "x"}]' },
      "signature.inputs[0]: unsupported MLflow type 'tensor'",
    ],
    [{ outputs: '[]' }, 'signature.inputs is missing'],
    [{ inputs: '[]', params: '[{"name": "p"}]' }, 'signature.params[0]: expected'],
  ])('names what is wrong in a malformed MLmodel signature (%j)', (obj, message) => {
    expect(() => signatureFromMlmodel(obj)).toThrow(message);
  });
});

describe('validateRecords', () => {
  const schema: ColSpec[] = [
    { type: 'double', name: 'x', required: true },
    { type: 'long', name: 'n', required: true },
    { type: 'string', name: 's', required: false },
    { type: 'datetime', name: 't', required: false },
  ];

  it('accepts integers for doubles, ISO strings for datetimes, and returns the records unchanged', () => {
    const records = [
      { x: 1, n: 2, s: 'a', t: '2024-01-01T10:00:00Z' },
      { x: 1.5, n: -3 },
    ];
    expect(validateRecords(records, schema)).toBe(records);
  });

  it('drops columns the schema does not know, as MLflow ignores extra inputs', () => {
    expect(validateRecords([{ x: 1, n: 2, extra: true }], schema)).toEqual([{ x: 1, n: 2 }]);
  });

  it('collects every problem with its row and column', () => {
    const result = safeValidateRecords(
      [
        { x: 'a', n: 1.5 },
        { n: 2, s: 3 },
        { x: null, n: 1, t: 'yesterday' },
      ],
      schema,
    );
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.error).toBeInstanceOf(SignatureValidationError);
    expect(result.error.issues.map((i) => [i.code, i.column, i.row])).toEqual([
      ['wrong_type', 'x', 0],
      ['null_value', 'x', 2],
      ['missing_column', 'x', 1],
      ['wrong_type', 'n', 0],
      ['wrong_type', 's', 1],
      ['wrong_type', 't', 2],
    ]);
    expect(result.error.message).toContain('Input does not match the model signature (6 problems)');
    expect(result.error.message).toContain(
      `expected double, received string "a" → at row 0, column 'x'`,
    );
    expect(result.error.message).toContain(
      `expected long, received number 1.5 → at row 0, column 'n'`,
    );
    expect(result.error.message).toContain(
      `missing required column 'x' (double) in 1 of 3 rows (first: row 1)`,
    );
    expect(result.error.message).toContain(
      `The model's inputs are 'x' (double), 'n' (long), 's' (string, optional), 't' (datetime, optional)`,
    );
  });

  it('checks nested array and object values', () => {
    const nested: ColSpec[] = [
      { type: 'array', items: { type: 'long' }, name: 'a', required: true },
      {
        type: 'object',
        properties: { k: { type: 'string', required: true } },
        name: 'o',
        required: true,
      },
    ];
    expect(() => validateRecords([{ a: [1, 2], o: { k: 'v' } }], nested)).not.toThrow();
    expect(() => validateRecords([{ a: [1, 'x'], o: { k: 1 } }], nested)).toThrow(
      /expected array<long>, received array → at row 0, column 'a'[\s\S]*expected object\{k: string\}/,
    );
  });

  it('throws SignatureValidationError from validateRecords', () => {
    expect(() => validateRecords([{}], schema)).toThrow(SignatureValidationError);
  });
});

describe('resolveParams', () => {
  const specs = signatureFromMlmodel(MLFLOW_SIGNATURE).params!;

  it('applies defaults for params not given and keeps the given ones', () => {
    expect(resolveParams({ n: 7 }, specs)).toEqual({
      offset: 1.5,
      n: 7,
      name: 'x',
      flag: true,
      lst: [1, 2],
    });
    expect(resolveParams(undefined, specs)).toEqual({
      offset: 1.5,
      n: 3,
      name: 'x',
      flag: true,
      lst: [1, 2],
    });
  });

  it('accepts an integer for a double param, and an explicit null as MLflow does', () => {
    expect(resolveParams({ offset: 2, name: null }, specs)).toMatchObject({
      offset: 2,
      name: null,
    });
  });

  it('names every unknown param with the known ones and every badly typed one', () => {
    let error: unknown;
    try {
      resolveParams({ nope: 1, offst: 2, n: 'three', lst: 5 }, specs);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SignatureValidationError);
    const e = error as SignatureValidationError;
    expect(e.target).toBe('params');
    expect(e.issues.map((i) => [i.code, i.param])).toEqual([
      ['unknown_param', 'nope'],
      ['unknown_param', 'offst'],
      ['invalid_param', 'n'],
      ['invalid_param', 'lst'],
    ]);
    expect(e.message).toContain(
      "unknown param 'nope' (known params: 'flag', 'lst', 'n', 'name', 'offset')",
    );
    expect(e.message).toContain(`param 'n' expects long, received string "three"`);
    expect(e.message).toContain("param 'lst' expects list of long, received integer 5");
  });

  it('says when the model declares no params', () => {
    expect(() => resolveParams({ a: 1 }, undefined)).toThrow(
      "unknown param 'a' (the model declares no params)",
    );
  });
});
