/**
 * Loads a project's configuration, Kedro style: `conf/base/` then `conf/<env>/`, file patterns
 * per kind (see yaml-files.ts), `${...}` interpolation (see interpolation.ts), runtime params.
 *
 * Merge of env over base, per kind (`mergeStrategy`):
 * - `catalog`, `credentials`: destructive (Kedro's default): an env entry replaces the base
 *   entry of the same name whole, so an env catalog entry never inherits stale base keys.
 * - `parameters`, `mlflow`, `globals`: soft (deep merge, Kedro's `merge_strategy: soft`), so an
 *   env can override one nested parameter. Kedro's default is destructive for every kind; we
 *   default parameters to soft because overriding `model_options.test_size` in `local` without
 *   restating the whole block is what users expect (pass `mergeStrategy` to change it).
 * Runtime params are deep-merged over the parameters last.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_CONFIG_ENV, DEFAULT_CONFIG_ENV } from '../constants.js';
import { CatalogConfigError } from './errors.js';
import { resolveInterpolations } from './interpolation.js';
import type { ConfigMap } from './merge.js';
import { deepMerge, shallowMerge } from './merge.js';
import type { ConfigKind, EnvConfig } from './yaml-files.js';
import { CONFIG_KINDS, loadEnvConfig } from './yaml-files.js';

export type MergeStrategy = 'soft' | 'destructive';

export interface LoadProjectConfigOptions {
  /** The project root, holding `conf/`. */
  projectDir: string;
  /** @default 'local' */
  env?: string;
  /** Overrides deep-merged over parameters (e.g. from `parseRuntimeParams`). @default {} */
  runtimeParams?: Record<string, unknown>;
  /** Variables for `${oc.env:...}`. @default process.env */
  environment?: Readonly<Record<string, string | undefined>>;
  /** Kinds besides credentials where `${oc.env:...}` may resolve. @default [] */
  allowEnvIn?: readonly ConfigKind[];
  /** Merge strategy of env over base per kind (see module doc). */
  mergeStrategy?: Partial<Record<ConfigKind, MergeStrategy>>;
  /** The config folder, relative to `projectDir`. @default 'conf' */
  confSource?: string;
  /**
   * Cap on the expanded size of each kind's config once `${...}` references are resolved
   * (characters, plus one per other value). @default MAX_EXPANDED_SIZE (10 million)
   */
  maxExpandedSize?: number;
}

export interface ProjectConfig {
  readonly env: string;
  readonly catalog: ConfigMap;
  readonly parameters: ConfigMap;
  /** Never log or print: pass to `DataCatalog.fromConfig` only. */
  readonly credentials: ConfigMap;
  /** mlflow.yml, parsed and interpolated; validated by the MLflow config schema. */
  readonly mlflow: ConfigMap;
  readonly globals: ConfigMap;
  /** Files read per kind (relative to the project), base first. */
  readonly files: Readonly<Record<ConfigKind, readonly string[]>>;
  /** Top-level key → the file that defines its final value, per kind. */
  readonly sources: Readonly<Record<ConfigKind, Readonly<Record<string, string>>>>;
}

export const DEFAULT_MERGE_STRATEGY: Readonly<Record<ConfigKind, MergeStrategy>> = {
  catalog: 'destructive',
  credentials: 'destructive',
  parameters: 'soft',
  mlflow: 'soft',
  globals: 'soft',
};

/** Reads, merges and interpolates `conf/base` + `conf/<env>`. */
export async function loadProjectConfig(options: LoadProjectConfigOptions): Promise<ProjectConfig> {
  const env = options.env ?? DEFAULT_CONFIG_ENV;
  const confDir = join(options.projectDir, options.confSource ?? 'conf');
  const baseDir = join(confDir, BASE_CONFIG_ENV);
  if (!existsSync(baseDir) && !existsSync(join(confDir, env))) {
    throw new CatalogConfigError(
      `No configuration found: neither ${join(confDir, BASE_CONFIG_ENV)} nor ${join(confDir, env)} exists`,
      {
        file: confDir,
      },
    );
  }
  const strategy = { ...DEFAULT_MERGE_STRATEGY, ...options.mergeStrategy };
  const envs = env === BASE_CONFIG_ENV ? [baseDir] : [baseDir, join(confDir, env)];
  const raw = {} as Record<ConfigKind, EnvConfig[]>;
  for (const kind of CONFIG_KINDS) {
    raw[kind] = await Promise.all(envs.map((dir) => loadEnvConfig(dir, kind, options.projectDir)));
  }

  const merge = (kind: ConfigKind, layers: ConfigMap[]): ConfigMap =>
    layers.reduce(
      (acc, layer) =>
        strategy[kind] === 'soft' ? deepMerge(acc, layer) : shallowMerge(acc, layer),
      {},
    );
  const runtimeParams = (options.runtimeParams ?? {}) as ConfigMap;
  const environment = options.environment ?? process.env;
  const allowEnvIn = new Set<ConfigKind>(['credentials', ...(options.allowEnvIn ?? [])]);

  // Globals first: they feed every other kind. They may use env and runtime params but not globals.
  const resolveKind = (kind: ConfigKind, globals: ConfigMap): ConfigMap =>
    merge(
      kind,
      raw[kind].map((layer) =>
        resolveInterpolations(layer.config, {
          kind,
          root: layer.config,
          sources: layer.sources,
          globals,
          runtimeParams,
          environment,
          allowEnv: allowEnvIn.has(kind),
          ...(options.maxExpandedSize !== undefined
            ? { maxExpandedSize: options.maxExpandedSize }
            : {}),
        }),
      ),
    );
  const globals = resolveKind('globals', {});
  const resolved = {} as Record<ConfigKind, ConfigMap>;
  for (const kind of CONFIG_KINDS)
    resolved[kind] = kind === 'globals' ? globals : resolveKind(kind, globals);

  const files = {} as Record<ConfigKind, string[]>;
  const sources = {} as Record<ConfigKind, Record<string, string>>;
  for (const kind of CONFIG_KINDS) {
    files[kind] = raw[kind].flatMap((layer) => layer.files);
    sources[kind] = Object.assign({}, ...raw[kind].map((layer) => layer.sources)) as Record<
      string,
      string
    >;
  }
  return {
    env,
    catalog: resolved.catalog,
    parameters: deepMerge(resolved.parameters, runtimeParams),
    credentials: resolved.credentials,
    mlflow: resolved.mlflow,
    globals,
    files,
    sources,
  };
}
