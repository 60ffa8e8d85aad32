/**
 * Checks of the arguments of the public pipeline filters, for callers the types do not protect
 * (JavaScript, values read from YAML or argv): names may come spread or as arrays; anything else
 * is an `InvalidArgumentError` naming the argument, instead of a `TypeError` from deep inside or
 * a filter that silently selects everything.
 */
import { closestMatch } from '../utils/suggest.js';
import { InvalidArgumentError } from './errors.js';
import type { PipelineFilterOptions } from './selection.js';
import { describeValue } from '../utils/describe-value.js';

/** A short description of a value for messages: `number 42`, `an array`, `object Set`, `null`. */
/**
 * The names given to a variadic filter (`onlyNodes('a', 'b')` or `onlyNodes(['a', 'b'])`),
 * flattened one level; anything but strings is an `InvalidArgumentError`.
 */
export function nameArguments(
  method: string,
  parameter: string,
  what: string,
  args: readonly unknown[],
): string[] {
  const out: string[] = [];
  const fail = (argument: string, value: unknown): never => {
    throw new InvalidArgumentError({
      method,
      parameter,
      argument,
      expected: `${what} (strings, or arrays of strings)`,
      received: describeValue(value),
    });
  };
  args.forEach((arg, i) => {
    if (typeof arg === 'string') out.push(arg);
    else if (Array.isArray(arg)) {
      (arg as unknown[]).forEach((item, j) => {
        if (typeof item === 'string') out.push(item);
        else fail(`${parameter}[${i}][${j}]`, item);
      });
    } else fail(`${parameter}[${i}]`, arg);
  });
  return out;
}

/** One string argument (`onlyNodesWithNamespace(namespace)`). */
export function stringArgument(
  method: string,
  parameter: string,
  what: string,
  value: unknown,
): string {
  if (typeof value === 'string') return value;
  throw new InvalidArgumentError({
    method,
    parameter,
    argument: parameter,
    expected: what,
    received: describeValue(value),
  });
}

const LIST_CRITERIA = {
  tags: 'a tag',
  fromNodes: 'a node name',
  toNodes: 'a node name',
  nodeNames: 'a node name',
  fromInputs: 'a dataset name',
  toOutputs: 'a dataset name',
} as const;

const CRITERIA = [...Object.keys(LIST_CRITERIA), 'namespace'].sort();

/** `Pipeline.filter`'s criteria, checked: a plain object of known keys with string values. */
export function checkCriteria(criteria: unknown): PipelineFilterOptions {
  const method = 'filter';
  const parameter = 'criteria';
  if (
    criteria === null ||
    typeof criteria !== 'object' ||
    Array.isArray(criteria) ||
    criteria instanceof Set ||
    criteria instanceof Map
  ) {
    throw new InvalidArgumentError({
      method,
      parameter,
      argument: parameter,
      expected: `an object of criteria (${CRITERIA.join(', ')})`,
      received: describeValue(criteria),
      hint: "e.g. filter({ tags: ['training'], toNodes: 'evaluate' })",
    });
  }
  for (const [key, value] of Object.entries(criteria)) {
    if (value === undefined) continue;
    const argument = `${parameter}.${key}`;
    if (key === 'namespace') {
      if (typeof value === 'string') continue;
      throw new InvalidArgumentError({
        method,
        parameter,
        argument,
        expected: 'a namespace (string)',
        received: describeValue(value),
      });
    }
    const what = LIST_CRITERIA[key as keyof typeof LIST_CRITERIA];
    if (what === undefined) {
      const suggestion = closestMatch(key, CRITERIA);
      throw new InvalidArgumentError({
        method,
        parameter,
        argument,
        expected: '',
        received: '',
        problem:
          `unknown criterion '${key}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}; ` +
          `known criteria: ${CRITERIA.join(', ')}`,
      });
    }
    const expected = `${what} or an array of them`;
    if (typeof value === 'string') continue;
    if (!Array.isArray(value)) {
      throw new InvalidArgumentError({
        method,
        parameter,
        argument,
        expected,
        received: describeValue(value),
      });
    }
    (value as unknown[]).forEach((item, i) => {
      if (typeof item !== 'string') {
        throw new InvalidArgumentError({
          method,
          parameter,
          argument: `${argument}[${i}]`,
          expected,
          received: describeValue(item),
        });
      }
    });
  }
  return criteria as PipelineFilterOptions;
}
