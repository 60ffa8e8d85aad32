/**
 * Configuration and the data catalog: `loadProjectConfig` reads `conf/base` + `conf/<env>`,
 * `DataCatalog.fromConfig` turns the catalog section into datasets, and `parseRuntimeParams`
 * parses `--params`. Every configuration mistake is a `CatalogConfigError` naming file and key.
 *
 * @module
 */

// Configuration
export { loadProjectConfig, DEFAULT_MERGE_STRATEGY } from './config-loader.js';
export type { LoadProjectConfigOptions, MergeStrategy, ProjectConfig } from './config-loader.js';
export { parseRuntimeParams } from './runtime-params.js';
export { MAX_EXPANDED_SIZE, resolveInterpolations } from './interpolation.js';
export type { InterpolationContext } from './interpolation.js';
export { CONFIG_KINDS, parseConfigText } from './yaml-files.js';
export type { ConfigKind } from './yaml-files.js';
export { deepMerge, getPath } from './merge.js';

// Catalog
export { DataCatalog, PARAMETERS, PARAMS_PREFIX } from './data-catalog.js';
export type { CatalogFromConfigOptions } from './catalog-builder.js';
export { compilePattern, matchPattern, sortPatterns } from './patterns.js';
export type { DatasetPattern } from './patterns.js';

// Errors
export {
  CatalogConfigError,
  ConfigParseError,
  DuplicateConfigKeyError,
  InterpolationError,
  RuntimeParamsError,
  CredentialsNotFoundError,
  ParameterNotFoundError,
  formatIssues,
} from './errors.js';
export type { ConfigIssue } from './errors.js';
