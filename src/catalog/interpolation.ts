/**
 * `${...}` interpolation, following Kedro's OmegaConfigLoader:
 * - `${globals:key.path}` / `${globals:key.path, default}`: from globals.yml (base + env);
 * - `${runtime_params:key, default}`: from `--params`;
 * - `${oc.env:VAR}` / `${env:VAR}` (optional `, default`): environment variables, resolved only
 *   in credentials by default (as Kedro registers `oc.env` for credentials only); other kinds
 *   opt in with `allowEnvIn`;
 * - `${key.path}`: another value of the same kind and environment (every file of the kind, as
 *   OmegaConf merges them before resolving).
 * A value that is exactly one `${...}` keeps the referenced type; otherwise the text is spliced
 * in. `\${` escapes a literal `${`. Any unresolved reference is an `InterpolationError` naming
 * the file and the key path.
 *
 * Like YAML aliases, references can multiply (`b: ${a}${a}`, `c: ${b}${b}`, ...): each key is
 * resolved once (memoised), and the expanded size of one kind's config is capped at
 * `maxExpandedSize` (characters of text plus one per other value), so a small file cannot make
 * the loader run for minutes or take gigabytes.
 */
import { parse } from 'yaml';
import { InterpolationError } from './errors.js';
import type { ConfigMap } from './merge.js';
import { getPath, isMapping } from './merge.js';
import type { ConfigKind } from './yaml-files.js';

export interface InterpolationContext {
  readonly kind: ConfigKind;
  /** The whole config of this kind in this environment (for `${key.path}` references). */
  readonly root: ConfigMap;
  /** Top-level key → defining file, for messages. */
  readonly sources: Readonly<Record<string, string>>;
  readonly globals: ConfigMap;
  readonly runtimeParams: ConfigMap;
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly allowEnv: boolean;
  /**
   * Cap on the expanded size of the whole config of this kind: characters of every string plus
   * one per number, boolean, null, list and mapping. @default MAX_EXPANDED_SIZE
   */
  readonly maxExpandedSize?: number;
}

/** Default cap on the expanded size of one kind's config (10 million characters). */
export const MAX_EXPANDED_SIZE = 10_000_000;

const EXPRESSION = /(\\?)\$\{([^{}]*)\}/g;
const WHOLE = /^\$\{([^{}]*)\}$/;
const MISSING = Symbol('missing');

/** Resolves every `${...}` in `config` (a new object; the input is untouched). */
export function resolveInterpolations(config: ConfigMap, context: InterpolationContext): ConfigMap {
  const resolver = new Resolver(context);
  return resolver.value(config, []) as ConfigMap;
}

class Resolver {
  readonly #stack: string[] = [];
  /** Resolved `${key.path}` references, with the expanded size each one adds. */
  readonly #memo = new Map<string, { value: unknown; size: number }>();
  readonly #limit: number;
  #size = 0;

  constructor(private readonly context: InterpolationContext) {
    this.#limit = context.maxExpandedSize ?? MAX_EXPANDED_SIZE;
  }

  value(value: unknown, path: string[]): unknown {
    if (typeof value === 'string') return this.string(value, path);
    this.charge(1, path);
    if (Array.isArray(value)) return value.map((item, i) => this.value(item, [...path, String(i)]));
    if (isMapping(value)) {
      const out: ConfigMap = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.value(item, [...path, key]);
      return out;
    }
    return value;
  }

  private string(text: string, path: string[]): unknown {
    if (!text.includes('${')) {
      this.charge(text.length, path);
      return text;
    }
    const whole = WHOLE.exec(text);
    if (whole) return this.expression(whole[1] ?? '', path);
    // Every piece is charged before the text is joined, so an oversized text is never built.
    const parts: string[] = [];
    let last = 0;
    for (const match of text.matchAll(EXPRESSION)) {
      const [all, escape, body = ''] = match;
      parts.push(text.slice(last, match.index));
      this.charge(match.index - last, path);
      last = match.index + all.length;
      if (escape) {
        parts.push(`\${${body}}`);
        this.charge(body.length + 3, path);
        continue;
      }
      const resolved = this.expression(body, path);
      parts.push(typeof resolved === 'string' ? resolved : JSON.stringify(resolved));
    }
    parts.push(text.slice(last));
    this.charge(text.length - last, path);
    return parts.join('');
  }

  /** Adds `amount` to the expanded size; past the cap, an error naming the key being resolved. */
  private charge(amount: number, path: string[], expression = ''): void {
    this.#size += amount;
    if (this.#size <= this.#limit) return;
    throw this.error(
      `expanding \${...} references makes the ${this.context.kind} config larger than ${this.#limit} ` +
        `characters (references expand like YAML aliases, and are capped the same way); ` +
        `is a reference used many times over, e.g. 'b: \${a}\${a}', 'c: \${b}\${b}', ...?`,
      expression,
      path,
    );
  }

  private expression(body: string, path: string[]): unknown {
    const text = body.trim();
    const colon = /^([A-Za-z_][\w.]*):(.*)$/s.exec(text);
    if (!colon) return this.reference(text, path);
    const [, resolverName = '', rest = ''] = colon;
    const comma = rest.indexOf(',');
    const key = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    const fallback = comma < 0 ? MISSING : parseDefault(rest.slice(comma + 1));
    const found = this.lookup(resolverName, key, text, path);
    if (found !== MISSING) {
      this.charge(expandedSize(found), path, text);
      return found;
    }
    if (fallback !== MISSING) return fallback;
    throw this.error(
      `cannot resolve '\${${text}}': ${describeMissing(resolverName, key)}`,
      text,
      path,
    );
  }

  private lookup(resolverName: string, key: string, text: string, path: string[]): unknown {
    const { context } = this;
    switch (resolverName) {
      case 'globals':
        return orMissing(getPath(context.globals, key));
      case 'runtime_params':
        return orMissing(getPath(context.runtimeParams, key));
      case 'oc.env':
      case 'env': {
        if (!context.allowEnv) {
          throw this.error(
            `'\${${text}}' reads an environment variable, which is only allowed in credentials ` +
              `(as in Kedro); move the value to credentials.yml or pass allowEnvIn: ['${context.kind}']`,
            text,
            path,
          );
        }
        return orMissing(context.environment[key]);
      }
      default:
        throw this.error(
          `unknown resolver '${resolverName}' in '\${${text}}' (known: env, globals, oc.env, runtime_params)`,
          text,
          path,
        );
    }
  }

  private reference(key: string, path: string[]): unknown {
    if (this.#stack.includes(key)) {
      throw this.error(
        `circular reference '\${${key}}' (${[...this.#stack, key].join(' → ')})`,
        key,
        path,
      );
    }
    const memo = this.#memo.get(key);
    if (memo) {
      this.charge(memo.size, path, key);
      return typeof memo.value === 'object' && memo.value !== null
        ? structuredClone(memo.value)
        : memo.value;
    }
    const found = getPath(this.context.root, key);
    if (found === undefined) {
      throw this.error(
        `cannot resolve '\${${key}}': no key '${key}' in this ${this.context.kind} config`,
        key,
        path,
      );
    }
    this.#stack.push(key);
    const before = this.#size;
    try {
      const value = this.value(found, key.split('.'));
      this.#memo.set(key, { value, size: this.#size - before });
      return typeof value === 'object' && value !== null ? structuredClone(value) : value;
    } finally {
      this.#stack.pop();
    }
  }

  private error(message: string, expression: string, path: string[]): InterpolationError {
    const file = this.context.sources[path[0] ?? ''];
    const keyPath = [this.context.kind, ...path].join('.');
    return new InterpolationError(`${message} → at ${keyPath}${file ? ` in ${file}` : ''}`, {
      file,
      keyPath,
      expression,
    });
  }
}

/** The size `charge` counts for an already resolved value (globals, runtime params, env). */
function expandedSize(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + expandedSize(item), 1);
  if (isMapping(value))
    return Object.values(value).reduce((sum: number, item) => sum + expandedSize(item), 1);
  return 1;
}

function orMissing(value: unknown): unknown {
  return value === undefined ? MISSING : value;
}

function parseDefault(text: string): unknown {
  const trimmed = text.trim();
  try {
    const value: unknown = parse(trimmed);
    return value === undefined ? trimmed : value;
  } catch {
    return trimmed;
  }
}

function describeMissing(resolverName: string, key: string): string {
  if (resolverName === 'globals') return `no key '${key}' in globals.yml`;
  if (resolverName === 'runtime_params') return `no runtime parameter '${key}'`;
  return `environment variable '${key}' is not set`;
}
