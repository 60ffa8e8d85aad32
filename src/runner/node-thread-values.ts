/**
 * Values crossing between the main thread and a node's worker thread: what structured clone copies
 * faithfully, which ArrayBuffers can move instead of being copied, and thrown values as data.
 */
import type { NormalizedSpec } from '../pipeline/node-options.js';
import { describeThrown } from './errors.js';

/** A step into a value: an array index, an object key, or a Map/Set member. */
export type PathSegment = number | string | { readonly member: 'Map value' | 'Map key' | 'Set' };

/** Something structured clone cannot copy faithfully, and where it is. */
export interface Uncloneable {
  readonly path: readonly PathSegment[];
  readonly found: string;
}

/** Object tags that structured clone copies as they are, without looking inside. */
const CLONEABLE_LEAVES = new Set([
  '[object ArrayBuffer]',
  '[object SharedArrayBuffer]',
  '[object Date]',
  '[object RegExp]',
  '[object Boolean]',
  '[object Number]',
  '[object String]',
  '[object BigInt]',
  '[object Error]',
]);

function describeUncloneable(value: unknown): string | undefined {
  if (typeof value === 'function') return `a function ${value.name || '<anonymous>'}`;
  if (typeof value === 'symbol') return `a symbol ${String(value)}`;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return undefined;
  const tag = Object.prototype.toString.call(value);
  if (CLONEABLE_LEAVES.has(tag) || tag === '[object Map]' || tag === '[object Set]')
    return undefined;
  // Plain objects of any realm (Jest's vm contexts included): a prototype whose prototype is null.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || Object.getPrototypeOf(proto) === null) return undefined;
  const name = (proto as { constructor?: { name?: string } }).constructor?.name;
  return `an instance of class ${name || '<anonymous>'}`;
}

/**
 * Walks `value` as structured clone would and returns the first thing it would refuse (a function,
 * a symbol) or silently damage (a class instance loses its prototype and methods). When `transfer`
 * is given, fills it with the ArrayBuffers that can be moved instead of copied: whole buffers
 * owned by one view, never shared or pooled ones.
 */
export function findUncloneable(value: unknown, transfer?: ArrayBuffer[]): Uncloneable | undefined {
  const seen = new Set<object>();
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    const found = describeUncloneable(current);
    if (found !== undefined) return { path, found };
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    if (ArrayBuffer.isView(current)) {
      if (transfer && isWholeBuffer(current)) addOnce(transfer, current.buffer as ArrayBuffer);
      continue;
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        stack.push({ value: current[i] as unknown, path: [...path, i] });
      continue;
    }
    const tag = Object.prototype.toString.call(current);
    if (tag === '[object ArrayBuffer]') {
      if (transfer) addOnce(transfer, current as ArrayBuffer);
    } else if (tag === '[object Map]') {
      for (const [key, member] of current as Map<unknown, unknown>) {
        stack.push({ value: key, path: [...path, { member: 'Map key' }] });
        stack.push({ value: member, path: [...path, { member: 'Map value' }] });
      }
    } else if (tag === '[object Set]') {
      for (const member of current as Set<unknown>)
        stack.push({ value: member, path: [...path, { member: 'Set' }] });
    } else if (!CLONEABLE_LEAVES.has(tag)) {
      for (const key of Object.keys(current))
        stack.push({ value: (current as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return undefined;
}

function isWholeBuffer(view: ArrayBufferView): boolean {
  const buffer = view.buffer as ArrayBufferLike;
  return (
    Object.prototype.toString.call(buffer) === '[object ArrayBuffer]' &&
    view.byteOffset === 0 &&
    view.byteLength === buffer.byteLength &&
    buffer.byteLength > 0
  );
}

function addOnce(list: ArrayBuffer[], buffer: ArrayBuffer): void {
  if (!list.includes(buffer)) list.push(buffer);
}

/** `[0].weights.get(…)`-style text of a path. */
export function formatPath(path: readonly PathSegment[]): string {
  return path
    .map((segment) =>
      typeof segment === 'number'
        ? `[${segment}]`
        : typeof segment === 'object'
          ? ` (${segment.member})`
          : /^[A-Za-z_$][\w$]*$/.test(segment)
            ? `.${segment}`
            : `[${JSON.stringify(segment)}]`,
    )
    .join('');
}

/**
 * The dataset a path starts in, and the rest of the path: for inputs the path starts at the
 * argument list (`spec` is the node's input spec), for outputs at the returned value.
 */
export function datasetAt(
  spec: NormalizedSpec,
  path: readonly PathSegment[],
  direction: 'input' | 'output',
): { dataset: string | undefined; rest: readonly PathSegment[] } {
  const steps = direction === 'input' && spec.kind !== 'list' ? path.slice(1) : path;
  switch (spec.kind) {
    case 'single':
      return { dataset: spec.dataset, rest: steps };
    case 'list': {
      const dataset = typeof steps[0] === 'number' ? spec.datasets[steps[0]] : undefined;
      return dataset === undefined ? { dataset, rest: path } : { dataset, rest: steps.slice(1) };
    }
    case 'dict': {
      const entry = spec.entries.find(([key]) => key === steps[0]);
      return entry
        ? { dataset: entry[1], rest: steps.slice(1) }
        : { dataset: undefined, rest: path };
    }
    case 'none':
      return { dataset: undefined, rest: path };
  }
}

/** A thrown value as data a MessagePort can carry. */
export type SerializedThrown =
  | {
      readonly kind: 'error';
      readonly name: string;
      readonly message: string;
      readonly stack: string | undefined;
      /** Own enumerable fields that clone faithfully (`code`, `status`, ...). */
      readonly fields: Record<string, unknown>;
      readonly cause?: SerializedThrown;
    }
  | { readonly kind: 'value'; readonly value: unknown }
  /** A thrown non-Error that cannot be cloned (a function, a class instance): its description. */
  | { readonly kind: 'text'; readonly text: string };

export function serializeThrown(thrown: unknown, depth = 0): SerializedThrown {
  if (isErrorLike(thrown)) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(thrown))
      if (!['name', 'message', 'stack', 'cause'].includes(key) && !findUncloneable(value))
        fields[key] = value;
    return {
      kind: 'error',
      name: thrown.name,
      message: thrown.message,
      stack: thrown.stack,
      fields,
      ...(thrown.cause !== undefined && depth < 8
        ? { cause: serializeThrown(thrown.cause, depth + 1) }
        : {}),
    };
  }
  return findUncloneable(thrown)
    ? { kind: 'text', text: describeThrown(thrown) }
    : { kind: 'value', value: thrown };
}

/** The thrown value back: an Error with the original name, message, stack, fields and cause. */
export function deserializeThrown(serialized: SerializedThrown): unknown {
  if (serialized.kind === 'value') return serialized.value;
  if (serialized.kind === 'text') return serialized.text;
  const ErrorClass = namedErrorClass(serialized.name);
  const error = new ErrorClass(
    serialized.message,
    serialized.cause ? { cause: deserializeThrown(serialized.cause) } : undefined,
  );
  Object.defineProperty(error, 'name', {
    value: serialized.name,
    writable: true,
    configurable: true,
  });
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  Object.assign(error, serialized.fields);
  return error;
}

const errorClasses = new Map<string, ErrorConstructor>();

/**
 * An Error subclass called `name`: Temporal types a failure by `error.constructor.name`, so a
 * node's `BadDataError` stays a `BadDataError` (and `nonRetryableErrorTypes` keep working).
 */
function namedErrorClass(name: string): ErrorConstructor {
  let ErrorClass = errorClasses.get(name);
  if (!ErrorClass) {
    ErrorClass = class extends Error {} as ErrorConstructor;
    Object.defineProperty(ErrorClass, 'name', { value: name });
    if (errorClasses.size < 256) errorClasses.set(name, ErrorClass);
  }
  return ErrorClass;
}

function isErrorLike(value: unknown): value is Error {
  return (
    value instanceof Error ||
    (typeof value === 'object' &&
      value !== null &&
      Object.prototype.toString.call(value) === '[object Error]')
  );
}
