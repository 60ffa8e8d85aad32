/**
 * Builds datasets from catalog config: validates every entry (type, credentials, the factory's
 * own zod schema), collecting ALL issues with their paths and files before failing with one
 * `CatalogConfigError`. Credentials are looked up by key and handed to the factory only; they
 * never appear in descriptions or messages.
 */
import { dirname, resolve } from 'node:path';
import { DatasetConfigError } from '../datasets/errors.js';
import { isExplicitAbsolute, normalizeRoot } from '../datasets/paths.js';
import { DatasetRegistry } from '../datasets/registry.js';
import type { Dataset } from '../datasets/types.js';
import { didYouMean } from '../utils/suggest.js';
import type { ConfigIssue } from './errors.js';
import { CatalogConfigError, CredentialsNotFoundError } from './errors.js';
import type { ConfigMap } from './merge.js';
import { isMapping } from './merge.js';
import type { DatasetPattern } from './patterns.js';
import {
  compilePattern,
  isPattern,
  matchPattern,
  sortPatterns,
  substitutePlaceholders,
} from './patterns.js';

export interface CatalogFromConfigOptions {
  /** Catalog entries by dataset name (or pattern), as `loadProjectConfig` returns them. */
  catalog: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  /** Relative file paths resolve against it. */
  projectDir: string;
  /** @default a registry of the built-in types */
  registry?: DatasetRegistry;
  /**
   * Which file defines each entry (`ProjectConfig.sources`), for messages; spreading a
   * `ProjectConfig` into these options passes it.
   */
  sources?: { readonly catalog?: Readonly<Record<string, string>> };
  /** Files read (`ProjectConfig.files`), to name credentials files in messages. */
  files?: { readonly credentials?: readonly string[] };
  /**
   * Absolute folders (or files) outside the project that dataset paths may also resolve into,
   * besides those the catalog declares itself (see `declaredRoots`).
   */
  allowedPaths?: readonly string[];
}

/**
 * The absolute locations a catalog spells out, which dataset paths may resolve into besides the
 * project folder: every absolute `filepath` of a plain entry (nested entries included), and for
 * a pattern the folder of the literal text before its first placeholder (`/data/shared/` for
 * `/data/shared/{name}.csv`). Paths climbing with `..` declare nothing.
 */
export function declaredRoots(catalog: Readonly<Record<string, unknown>>): string[] {
  const roots = new Set<string>();
  const visit = (value: unknown, pattern: boolean): void => {
    if (Array.isArray(value)) value.forEach((item) => visit(item, pattern));
    if (!isMapping(value)) return;
    for (const [key, item] of Object.entries(value)) {
      if (key === 'filepath' && typeof item === 'string') {
        const at = pattern ? item.search(/\{[A-Za-z_]\w*\}/) : -1;
        const declared = at < 0 ? item : item.slice(0, item.lastIndexOf('/', at) + 1);
        if (declared && isExplicitAbsolute(declared)) roots.add(normalizeRoot(declared));
      } else visit(item, pattern);
    }
  };
  for (const [name, entry] of Object.entries(catalog)) visit(entry, isPattern(name));
  return [...roots].sort();
}

/** Builds datasets for names matching catalog patterns, once per name. */
export class PatternResolver {
  readonly #cache = new Map<string, Dataset>();

  constructor(
    readonly patterns: readonly DatasetPattern[],
    private readonly build: (
      name: string,
      entry: ConfigMap,
      pattern: string,
      values: Readonly<Record<string, string>>,
    ) => Dataset,
  ) {}

  static empty(): PatternResolver {
    return new PatternResolver([], () => {
      throw new Error('no patterns');
    });
  }

  matches(name: string): boolean {
    return this.#cache.has(name) || matchPattern(this.patterns, name) !== undefined;
  }

  resolve(name: string): Dataset | undefined {
    const cached = this.#cache.get(name);
    if (cached) return cached;
    const match = matchPattern(this.patterns, name);
    if (!match) return undefined;
    const dataset = this.build(
      name,
      substitutePlaceholders(match.pattern.config, match.values) as ConfigMap,
      match.pattern.pattern,
      match.values,
    );
    this.#cache.set(name, dataset);
    return dataset;
  }

  resolvedNames(): string[] {
    return [...this.#cache.keys()];
  }
}

const RESERVED = /^(parameters|params:.*)$/;

/** Validates and builds every entry; throws one `CatalogConfigError` listing all issues. */
export function buildCatalogEntries(options: CatalogFromConfigOptions): {
  datasets: Record<string, Dataset>;
  patterns: PatternResolver;
} {
  const registry = options.registry ?? new DatasetRegistry();
  const credentials = options.credentials ?? {};
  const sources = options.sources?.catalog ?? {};
  const credentialsFiles = options.files?.credentials ?? [];
  const credentialsWhere = credentialsFiles.length
    ? credentialsFiles.join(', ')
    : 'credentials.yml';
  const issues: ConfigIssue[] = [];
  const errors: unknown[] = [];
  const projectRoot = normalizeRoot(resolve(options.projectDir));
  const allowedRoots = [
    projectRoot,
    ...new Set([
      ...declaredRoots(options.catalog),
      ...(options.allowedPaths ?? []).map((path) => normalizeRoot(resolve(path))),
    ]),
  ].filter((root, i) => i === 0 || root !== projectRoot);

  const buildOne = (
    name: string,
    entry: ConfigMap,
    collect: boolean,
    fileKey = name,
    extraRoots: readonly string[] = [],
  ): Dataset | undefined => {
    const file = sources[fileKey];
    const { credentials: credentialsRef, ...rest } = entry;
    let resolvedCredentials: Record<string, unknown> | undefined;
    if (typeof credentialsRef === 'string') {
      const found = credentials[credentialsRef];
      if (!isMapping(found)) {
        const known = Object.keys(credentials).sort();
        const message =
          `unknown credentials key '${credentialsRef}' for dataset '${fileKey}': not defined in ${credentialsWhere}.` +
          `${didYouMean(credentialsRef, known)} Known keys: ${known.length ? known.join(', ') : '(none)'}`;
        issues.push({ path: ['catalog', fileKey, 'credentials'], message, file });
        errors.push(
          new CredentialsNotFoundError(message, { dataset: fileKey, key: credentialsRef, file }),
        );
        return undefined;
      }
      resolvedCredentials = found;
    } else if (isMapping(credentialsRef)) {
      resolvedCredentials = credentialsRef;
    } else if (credentialsRef !== undefined) {
      issues.push({
        path: ['catalog', fileKey, 'credentials'],
        message: 'credentials must be a key of credentials.yml',
        file,
      });
      return undefined;
    }
    try {
      return registry.create(rest, {
        name,
        projectDir: options.projectDir,
        allowedRoots: extraRoots.length ? [...allowedRoots, ...extraRoots] : allowedRoots,
        ...(resolvedCredentials ? { credentials: resolvedCredentials } : {}),
      });
    } catch (error) {
      if (!collect) throw error;
      errors.push(error);
      if (error instanceof DatasetConfigError) {
        for (const issue of error.issues) {
          const message =
            issue.path[0] === 'type'
              ? error.message.replace(/ Register your own.*$/, '')
              : issue.message;
          issues.push({ path: ['catalog', fileKey, ...issue.path], message, file });
        }
      } else {
        issues.push({
          path: ['catalog', fileKey],
          message: error instanceof Error ? error.message : String(error),
          file,
        });
      }
      return undefined;
    }
  };

  const datasets: Record<string, Dataset> = {};
  const patterns: DatasetPattern[] = [];
  for (const [name, entry] of Object.entries(options.catalog)) {
    const file = sources[name];
    if (RESERVED.test(name)) {
      issues.push({
        path: ['catalog', name],
        message: `'${name}' is reserved for parameters; rename the dataset`,
        file,
      });
      continue;
    }
    if (!isMapping(entry)) {
      issues.push({
        path: ['catalog', name],
        message: `expected a mapping with a 'type', received ${entry === null ? 'null' : typeof entry}`,
        file,
      });
      continue;
    }
    if (isPattern(name)) {
      // Validate the pattern's config now (placeholders left in), build per name at lookup.
      if (buildOne(name, entry, true) !== undefined) patterns.push(compilePattern(name, entry));
      continue;
    }
    const dataset = buildOne(name, entry, true);
    if (dataset) datasets[name] = dataset;
  }
  if (issues.length) {
    const summary = CatalogConfigError.fromIssues(
      'Invalid catalog configuration',
      issues,
      errors[0],
    );
    const only = issues.length === 1 ? errors[0] : undefined;
    if (only instanceof CredentialsNotFoundError) {
      throw new CredentialsNotFoundError(summary.message, {
        dataset: only.dataset,
        key: only.key,
        file: only.file,
        issues,
      });
    }
    throw summary;
  }
  const resolver = new PatternResolver(sortPatterns(patterns), (name, entry, pattern, values) => {
    // A placeholder value that is itself an explicit absolute path (a dataset name such as
    // `/data/out/preds_csv`, typed by whoever names the dataset) declares its own folder.
    const explicit = Object.values(values)
      .filter(isExplicitAbsolute)
      .map((value) => normalizeRoot(dirname(value)));
    const built = buildOne(name, entry, false, pattern, explicit);
    if (built) return built;
    throw CatalogConfigError.fromIssues(
      `Invalid catalog configuration for '${name}'`,
      issues.splice(0),
    );
  });
  return { datasets, patterns: resolver };
}
