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
}

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

  constructor(private readonly context: InterpolationContext) {}

  value(value: unknown, path: string[]): unknown {
    if (typeof value === 'string') return this.string(value, path);
    if (Array.isArray(value)) return value.map((item, i) => this.value(item, [...path, String(i)]));
    if (isMapping(value)) {
      const out: ConfigMap = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.value(item, [...path, key]);
      return out;
    }
    return value;
  }

  private string(text: string, path: string[]): unknown {
    if (!text.includes('${')) return text;
    const whole = WHOLE.exec(text);
    if (whole) return this.expression(whole[1] ?? '', path);
    return text.replace(EXPRESSION, (_match, escape: string, body: string) => {
      if (escape) return `\${${body}}`;
      const resolved = this.expression(body, path);
      return typeof resolved === 'string' ? resolved : JSON.stringify(resolved);
    });
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
    if (found !== MISSING) return found;
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
    const found = getPath(this.context.root, key);
    if (found === undefined) {
      throw this.error(
        `cannot resolve '\${${key}}': no key '${key}' in this ${this.context.kind} config`,
        key,
        path,
      );
    }
    this.#stack.push(key);
    try {
      return this.value(found, key.split('.'));
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
