import { parse } from 'yaml';
import { RuntimeParamsError } from './errors.js';
import type { ConfigMap } from './merge.js';
import { deepMerge } from './merge.js';

const KEY = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_0-9][\w-]*)*$/;

/**
 * Parses `--params` text, Kedro style: `a.b=1,c=x` → `{ a: { b: 1 }, c: 'x' }`. Dotted keys
 * nest; values are YAML scalars (`1` → number, `true` → boolean, `null` → null, `'1'` → the
 * string `1`). Items split on every comma, as in Kedro, so values cannot contain commas.
 * Throws `RuntimeParamsError` naming the bad item.
 */
export function parseRuntimeParams(text: string): ConfigMap {
  let result: ConfigMap = {};
  if (text.trim() === '') return result;
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const eq = item.indexOf('=');
    if (eq < 0) {
      throw new RuntimeParamsError(
        `Invalid runtime parameter '${item}': expected key=value (e.g. --params a.b=1,c=x)`,
        item,
      );
    }
    const key = item.slice(0, eq).trim();
    const valueText = item.slice(eq + 1).trim();
    if (!KEY.test(key)) {
      throw new RuntimeParamsError(
        `Invalid runtime parameter key '${key}' in '${item}': expected a dotted name like a.b`,
        item,
      );
    }
    if (valueText === '') {
      throw new RuntimeParamsError(
        `Runtime parameter '${key}' has no value in '${item}': expected key=value`,
        item,
      );
    }
    let value: unknown;
    try {
      value = parse(valueText) as unknown;
    } catch {
      value = valueText;
    }
    if (typeof value === 'object' && value !== null) value = valueText;
    let nested: unknown = value;
    for (const part of key.split('.').reverse()) nested = { [part]: nested };
    result = deepMerge(result, nested as ConfigMap);
  }
  return result;
}
