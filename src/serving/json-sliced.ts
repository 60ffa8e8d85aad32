/**
 * JSON parsing that can be paused: the top levels of a large document are walked here and every
 * run of small values (up to {@link PIECE_CHARS} characters) is handed to the native `JSON.parse`,
 * so the work between two checkpoints is bounded whatever the document's shape. Linear in the
 * input's length; the result equals `JSON.parse(text)` (last duplicate key wins), except that a
 * document with a `__proto__` key is refused ({@link ProtoKeyError}), as fastify's JSON parser
 * refuses it: records are handed to user code, where `Object.assign` or a merge would set a
 * prototype from it. Errors are `SyntaxError`s naming the position.
 */
import type { Sliced } from './slicing.js';

/** Largest span handed to `JSON.parse` at once (about 0.1–0.3 ms of work). */
export const PIECE_CHARS = 32 * 1024;

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipSpace(text: string, pos: number): number {
  while (pos < text.length && isSpace(text.charCodeAt(pos))) pos++;
  return pos;
}

/** The index after the string starting at `pos` (a quote), or -1 if it is not closed. */
function stringEnd(text: string, pos: number): number {
  let i = pos + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let j = q - 1; j > pos && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/**
 * From `pos`, the index of the first `,`, `]` or `}` outside any nested value or string: the end of
 * the value (or object member) starting at `pos`. -1 when none is found before `limit`.
 */
function delimiterAfter(text: string, pos: number, limit: number): number {
  const end = Math.min(limit, text.length);
  let depth = 0;
  for (let i = pos; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const after = stringEnd(text, i);
      if (after < 0) return -1;
      i = after - 1;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) depth++;
    else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      if (depth === 0) return i;
      depth--;
    } else if (c === COMMA && depth === 0) return i;
  }
  return -1;
}

function syntaxError(text: string, pos: number, expected: string): SyntaxError {
  const got = pos < text.length ? JSON.stringify(text[pos]) : 'the end of the input';
  return new SyntaxError(`Expected ${expected} at position ${pos}, found ${got}`);
}

/**
 * `"__proto__"` in JSON text, its characters possibly escaped (secure-json-parse's test, as
 * fastify's JSON parser): only a text that matches is searched for such a key once parsed.
 */
const PROTO_TEXT =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"/;

/** Thrown for a document with a `__proto__` key (fastify's answer to prototype poisoning). */
export class ProtoKeyError extends SyntaxError {
  constructor() {
    super('Object contains forbidden prototype property');
    this.name = 'ProtoKeyError';
  }
}

/** Throws {@link ProtoKeyError} when `value` or anything in it has an own `__proto__` key. */
function refuseProtoKeys(value: unknown): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
      continue;
    }
    if (Object.hasOwn(v, '__proto__')) throw new ProtoKeyError();
    for (const key in v) stack.push((v as Record<string, unknown>)[key]);
  }
}

/** `JSON.parse`, refusing `__proto__` keys (the only place of this module where text is parsed). */
function parseChecked(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  if (PROTO_TEXT.test(text)) refuseProtoKeys(value);
  return value;
}

function parsePiece(text: string, from: number, to: number, open: string, close: string): unknown {
  try {
    return parseChecked(open + text.slice(from, to) + close);
  } catch (e) {
    if (e instanceof ProtoKeyError) throw e;
    throw new SyntaxError(`${(e as Error).message} (in the piece at positions ${from}–${to})`);
  }
}

/** Copies own properties without invoking the `__proto__` setter. */
function assignOwn(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const key of Object.keys(source)) {
    if (key === '__proto__')
      Object.defineProperty(target, key, {
        value: source[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else target[key] = source[key];
  }
}

/** Parses the value starting at `pos` (no leading space); returns it and the index after it. */
function* parseValue(text: string, pos: number): Sliced<[unknown, number]> {
  const c = text.charCodeAt(pos);
  if (c !== OPEN_BRACKET && c !== OPEN_BRACE) {
    if (c === QUOTE) {
      const end = stringEnd(text, pos);
      if (end < 0) throw new SyntaxError(`Unterminated string starting at position ${pos}`);
      return [parsePiece(text, pos, end, '', ''), end];
    }
    let end = delimiterAfter(text, pos, text.length);
    if (end < 0) end = text.length;
    while (end > pos && isSpace(text.charCodeAt(end - 1))) end--;
    if (end === pos) throw syntaxError(text, pos, 'a value');
    return [parsePiece(text, pos, end, '', ''), end];
  }
  // A small container: one native parse.
  let small = delimiterAfter(text, pos, pos + PIECE_CHARS);
  if (small < 0 && pos + PIECE_CHARS >= text.length) small = text.length;
  if (small >= 0) {
    while (small > pos && isSpace(text.charCodeAt(small - 1))) small--;
    return [parsePiece(text, pos, small, '', ''), small];
  }
  return c === OPEN_BRACKET ? yield* parseArray(text, pos) : yield* parseObject(text, pos);
}

/** A large array: runs of small elements parsed natively, large elements walked recursively. */
function* parseArray(text: string, open: number): Sliced<[unknown, number]> {
  const out: unknown[] = [];
  let pos = skipSpace(text, open + 1);
  if (text.charCodeAt(pos) === CLOSE_BRACKET) return [out, pos + 1];
  let batchStart = pos;
  const flush = (to: number) => {
    if (to <= batchStart) return;
    const part = parsePiece(text, batchStart, to, '[', ']') as unknown[];
    for (let i = 0; i < part.length; i++) out.push(part[i]);
  };
  for (;;) {
    const d = delimiterAfter(text, pos, pos + PIECE_CHARS);
    if (d >= 0) {
      // A small element ending at d.
      const closer = text.charCodeAt(d);
      if (closer === COMMA && d + 1 - batchStart < PIECE_CHARS) {
        pos = skipSpace(text, d + 1);
        continue;
      }
      flush(d);
      yield;
      if (closer === CLOSE_BRACKET) return [out, d + 1];
      if (closer !== COMMA) throw syntaxError(text, d, "',' or ']'");
      pos = batchStart = skipSpace(text, d + 1);
      continue;
    }
    // A large element at pos: flush what precedes it (up to its comma), then walk it.
    if (pos > batchStart) {
      let comma = pos - 1;
      while (comma > batchStart && isSpace(text.charCodeAt(comma))) comma--;
      flush(comma);
    }
    yield;
    const [value, after] = yield* parseValue(text, pos);
    out.push(value);
    pos = skipSpace(text, after);
    const next = text.charCodeAt(pos);
    if (next === CLOSE_BRACKET) return [out, pos + 1];
    if (next !== COMMA) throw syntaxError(text, pos, "',' or ']'");
    pos = batchStart = skipSpace(text, pos + 1);
  }
}

/** A large object: runs of small members parsed natively, large members walked recursively. */
function* parseObject(text: string, open: number): Sliced<[unknown, number]> {
  const out: Record<string, unknown> = {};
  let pos = skipSpace(text, open + 1);
  if (text.charCodeAt(pos) === CLOSE_BRACE) return [out, pos + 1];
  let batchStart = pos;
  const flush = (to: number) => {
    if (to <= batchStart) return;
    assignOwn(out, parsePiece(text, batchStart, to, '{', '}') as Record<string, unknown>);
  };
  for (;;) {
    const d = delimiterAfter(text, pos, pos + PIECE_CHARS);
    if (d >= 0) {
      const closer = text.charCodeAt(d);
      if (closer === COMMA && d + 1 - batchStart < PIECE_CHARS) {
        pos = skipSpace(text, d + 1);
        continue;
      }
      flush(d);
      yield;
      if (closer === CLOSE_BRACE) return [out, d + 1];
      if (closer !== COMMA) throw syntaxError(text, d, "',' or '}'");
      pos = batchStart = skipSpace(text, d + 1);
      continue;
    }
    if (pos > batchStart) {
      let comma = pos - 1;
      while (comma > batchStart && isSpace(text.charCodeAt(comma))) comma--;
      flush(comma);
    }
    yield;
    if (text.charCodeAt(pos) !== QUOTE) throw syntaxError(text, pos, 'a property name');
    const keyEnd = stringEnd(text, pos);
    if (keyEnd < 0) throw new SyntaxError(`Unterminated string starting at position ${pos}`);
    const key = parsePiece(text, pos, keyEnd, '', '') as string;
    if (key === '__proto__') throw new ProtoKeyError();
    pos = skipSpace(text, keyEnd);
    if (text.charCodeAt(pos) !== COLON) throw syntaxError(text, pos, "':'");
    pos = skipSpace(text, pos + 1);
    const [value, after] = yield* parseValue(text, pos);
    assignOwn(out, { [key]: value });
    pos = skipSpace(text, after);
    const next = text.charCodeAt(pos);
    if (next === CLOSE_BRACE) return [out, pos + 1];
    if (next !== COMMA) throw syntaxError(text, pos, "',' or '}'");
    pos = batchStart = skipSpace(text, pos + 1);
  }
}

/** `JSON.parse` as sliced work (see the module doc). */
export function* parseJsonSliced(text: string): Sliced<unknown> {
  if (text.length <= PIECE_CHARS) return parseChecked(text);
  const start = skipSpace(text, 0);
  if (start >= text.length) throw syntaxError(text, start, 'a value');
  const [value, after] = yield* parseValue(text, start);
  const end = skipSpace(text, after);
  if (end < text.length) throw syntaxError(text, end, 'the end of the input');
  return value;
}
