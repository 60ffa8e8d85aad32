/**
 * Random scoring requests for the fuzz test and bench/serving-hardening.ts: every format
 * (dataframe_split, dataframe_records, instances, inputs, CSV), sizes up to and just over the
 * server's limits, and a share of damaged ones (wrong types, nulls, unknown keys and params,
 * truncated bodies, wrong content types). Deterministic for a seed. The model is the fixture's:
 * one double column `x`.
 */

export interface FuzzLimits {
  bodyLimitBytes: number;
  maxRecords: number;
  maxColumns: number;
}

export interface FuzzRequest {
  kind: string;
  contentType: string;
  body: string;
}

/** mulberry32: a small deterministic PRNG. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FORMATS = [
  'dataframe_split',
  'dataframe_records',
  'instances',
  'inputs',
  'inputs_columns',
  'csv',
] as const;

/** Makes request generator: `next()` returns one random request. */
export function fuzzRequests(limits: FuzzLimits, seed = 1): () => FuzzRequest {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const logUniform = (lo: number, hi: number) =>
    Math.max(lo, Math.floor(Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo)))));
  const value = (damaged: boolean): unknown => {
    if (damaged) {
      const r = rnd();
      if (r < 0.3) return null;
      if (r < 0.5) return 'abc';
      if (r < 0.6) return String(Math.round(rnd() * 100));
      if (r < 0.7) return true;
      if (r < 0.8) return [1, 2];
      if (r < 0.9) return { y: 1 };
    }
    return Math.round(rnd() * 1e6) / 100;
  };
  return () => {
    const format = pick(FORMATS);
    // Mostly small bodies, some medium, a few near (or over) the limit.
    const r = rnd();
    const targetBytes =
      r < 0.9
        ? logUniform(20, 64 * 1024)
        : r < 0.99
          ? logUniform(64 * 1024, 1024 * 1024)
          : logUniform(limits.bodyLimitBytes / 2, limits.bodyLimitBytes * 1.1);
    const wide = rnd() < 0.02;
    const columns = wide
      ? logUniform(Math.max(1, limits.maxColumns - 2), limits.maxColumns + 2)
      : logUniform(1, Math.min(limits.maxColumns, 64));
    const rows = Math.max(
      0,
      Math.min(Math.floor(limits.maxRecords * 1.02), Math.floor(targetBytes / (columns * 9 + 4))),
    );
    const damaged = rnd() < 0.15;
    const names = ['x', ...Array.from({ length: columns - 1 }, (_, i) => `c${i}`)];
    const row = () => names.map(() => value(damaged && rnd() < 0.2));
    let body: string;
    let contentType = 'application/json';
    switch (format) {
      case 'dataframe_split':
        body = JSON.stringify({
          dataframe_split: { columns: names, data: Array.from({ length: rows }, row) },
        });
        break;
      case 'dataframe_records':
      case 'instances':
      case 'inputs': {
        const records = Array.from({ length: rows }, () => {
          const values = row();
          return Object.fromEntries(names.map((n, i) => [n, values[i]]));
        });
        body = JSON.stringify({ [format]: records });
        break;
      }
      case 'inputs_columns':
        body = JSON.stringify({
          inputs: Object.fromEntries(
            names.map((n) => [
              n,
              Array.from({ length: rows }, () => value(damaged && rnd() < 0.2)),
            ]),
          ),
        });
        break;
      case 'csv':
        contentType = 'text/csv';
        body = [
          names.join(','),
          ...Array.from({ length: rows }, () =>
            row()
              .map((v) =>
                v == null
                  ? ''
                  : typeof v === 'object'
                    ? `"${JSON.stringify(v).replace(/"/g, '""')}"`
                    : String(v),
              )
              .join(','),
          ),
        ].join('\n');
        break;
    }
    if (damaged) {
      const d = rnd();
      if (d < 0.2) body = body.slice(0, Math.floor(rnd() * body.length));
      else if (d < 0.3 && contentType !== 'text/csv')
        body = body.replace(/^\{/, '{"params": {"offset": 1, "unknown": 2}, ');
      else if (d < 0.4 && contentType !== 'text/csv') body = body.replace(/^\{/, '{"extra": 1, ');
      else if (d < 0.45)
        contentType = pick(['text/plain', 'application/json; charset=latin-1', '']);
      else if (d < 0.5) body = body.replace(/"x"/, '"x", "x"');
    }
    return { kind: `${format}${damaged ? ' (damaged)' : ''}`, contentType, body };
  };
}
