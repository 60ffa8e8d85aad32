/**
 * What a value is, in a few words, for the "received" part of error messages:
 * `null`, `undefined`, `the string "abc"`, `number 3`, `boolean true`,
 * `an array of 2 values`, `function train`, `a Date`, `an object with keys [a, b]`.
 * Never the whole content: long strings and key lists are cut, so a message stays one line
 * and does not echo a large (or secret) value.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `the string ${JSON.stringify(cut(value, MAX_TEXT))}`;
  if (Array.isArray(value))
    return `an array of ${value.length} value${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return describeObject(value);
  return `${typeof value} ${String(value)}`;
}

const MAX_TEXT = 40;
const MAX_KEYS = 10;

function describeObject(value: object): string {
  const kind = Object.getPrototypeOf(value) === null ? 'Object' : value.constructor?.name;
  if (kind !== undefined && kind !== 'Object')
    return `${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`;
  const keys = Object.keys(value).sort();
  const shown = keys.slice(0, MAX_KEYS).join(', ');
  return keys.length === 0
    ? 'an empty object'
    : `an object with keys [${shown}${keys.length > MAX_KEYS ? ', …' : ''}]`;
}

const cut = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}…` : text;
