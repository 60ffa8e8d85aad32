import { DatasetArgumentError, DatasetError, DatasetNotFoundError } from '../datasets/errors.js';
import type { Dataset } from '../datasets/types.js';
import type { CatalogView } from '../hooks/types.js';
import { closestMatch } from '../utils/suggest.js';
import type { CatalogFromConfigOptions } from './catalog-builder.js';
import { buildCatalogEntries, PatternResolver } from './catalog-builder.js';
import { ParameterNotFoundError } from './errors.js';
import { allPaths, getPath } from './merge.js';
import { describeValue } from '../utils/describe-value.js';

/** The dataset name that loads every parameter. */
export const PARAMETERS = 'parameters';
/** Prefix of dataset names that load one (nested, dotted) parameter. */
export const PARAMS_PREFIX = 'params:';

function isParamName(name: string): boolean {
  return name === PARAMETERS || name.startsWith(PARAMS_PREFIX);
}

/** A short description of a value for messages: `number 42`, `an array`, `object Set`, `null`. */
/** A plain `{ key: value }` object (from any realm: structuredClone, vm contexts, YAML). */
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  Object.prototype.toString.call(value) === '[object Object]';

const isDataset = (value: unknown): value is Dataset =>
  typeof value === 'object' &&
  value !== null &&
  ['load', 'save', 'exists', 'describe'].every(
    (method) => typeof (value as Record<string, unknown>)[method] === 'function',
  );

/** The dataset name argument of a public method, checked (JavaScript callers, argv, YAML). */
function checkName(method: string, name: unknown, parameters = 'name'): string {
  if (typeof name === 'string') return name;
  throw new DatasetArgumentError({
    method,
    parameters,
    argument: 'name',
    expected: 'a dataset name (string)',
    received: describeValue(name),
  });
}

/** `{ name: Dataset }`, checked entry by entry. */
function checkDatasets(method: string, datasets: unknown, parameters: string): void {
  if (!isPlainObject(datasets)) {
    throw new DatasetArgumentError({
      method,
      parameters,
      argument: 'datasets',
      expected: 'an object of datasets by name ({ name: dataset })',
      received: describeValue(datasets),
    });
  }
  for (const [name, dataset] of Object.entries(datasets)) {
    if (isDataset(dataset)) continue;
    throw new DatasetArgumentError({
      method,
      parameters,
      argument: `datasets.${name}`,
      expected: 'a Dataset (an object with load, save, exists and describe)',
      received: describeValue(dataset),
    });
  }
}

/**
 * The data catalog (Kedro's DataCatalog): named datasets, dataset patterns and parameters.
 * Immutable: `withDatasets` returns a new catalog. `params:a.b` loads a nested parameter and
 * `parameters` all of them (as deep copies, so nodes cannot change them for others).
 */
export class DataCatalog implements CatalogView {
  readonly #datasets: Readonly<Record<string, Dataset>>;
  readonly #parameters: Readonly<Record<string, unknown>>;
  readonly #patterns: PatternResolver;

  constructor(
    datasets: Record<string, Dataset> = {},
    parameters: Record<string, unknown> = {},
    patterns?: PatternResolver,
  ) {
    checkDatasets('constructor', datasets, 'datasets, parameters');
    if (!isPlainObject(parameters)) {
      throw new DatasetArgumentError({
        method: 'constructor',
        parameters: 'datasets, parameters',
        argument: 'parameters',
        expected: 'an object of parameters',
        received: describeValue(parameters),
      });
    }
    for (const name of Object.keys(datasets)) {
      if (isParamName(name))
        throw new DatasetError(`Dataset name '${name}' is reserved for parameters`, {
          dataset: name,
        });
    }
    this.#datasets = Object.freeze({ ...datasets });
    this.#parameters = Object.freeze(structuredClone(parameters));
    this.#patterns = patterns ?? PatternResolver.empty();
  }

  /**
   * Builds a catalog from configuration (see `loadProjectConfig`). Every entry is validated
   * now; all issues are reported together in one `CatalogConfigError`.
   */
  static fromConfig(options: CatalogFromConfigOptions): DataCatalog {
    const parameters = 'options';
    if (!isPlainObject(options) || !isPlainObject(options.catalog)) {
      throw new DatasetArgumentError({
        method: 'fromConfig',
        parameters,
        argument: isPlainObject(options) ? 'options.catalog' : 'options',
        expected: isPlainObject(options)
          ? 'catalog entries by dataset name (ProjectConfig.catalog)'
          : 'an object such as { ...projectConfig, projectDir }',
        received: describeValue(isPlainObject(options) ? options.catalog : options),
      });
    }
    if (typeof options.projectDir !== 'string') {
      throw new DatasetArgumentError({
        method: 'fromConfig',
        parameters,
        argument: 'options.projectDir',
        expected: 'the project folder (string)',
        received: describeValue(options.projectDir),
      });
    }
    const { datasets, patterns } = buildCatalogEntries(options);
    return new DataCatalog(datasets, options.parameters ?? {}, patterns);
  }

  /** Parameters after env and runtime overrides (read-only). */
  get parameters(): Readonly<Record<string, unknown>> {
    return this.#parameters;
  }

  /** A new catalog with `datasets` added (replacing same-named ones); this one is unchanged. */
  withDatasets(datasets: Record<string, Dataset>): DataCatalog {
    checkDatasets('withDatasets', datasets, 'datasets');
    return new DataCatalog(
      { ...this.#datasets, ...datasets },
      this.#parameters as Record<string, unknown>,
      this.#patterns,
    );
  }

  /** True for a declared dataset, a name matching a pattern, `parameters`, or an existing `params:` key. */
  has(name: string): boolean {
    checkName('has', name);
    if (name === PARAMETERS) return true;
    if (name.startsWith(PARAMS_PREFIX))
      return getPath(this.#parameters, name.slice(PARAMS_PREFIX.length)) !== undefined;
    return name in this.#datasets || this.#patterns.matches(name);
  }

  /** The dataset of `name` (resolving patterns), or undefined. Parameters have none. */
  getDataset(name: string): Dataset | undefined {
    checkName('getDataset', name);
    if (isParamName(name)) return undefined;
    return this.#datasets[name] ?? this.#patterns.resolve(name);
  }

  /** Declared datasets and those resolved from patterns so far, sorted. */
  listDatasets(): string[] {
    return [...new Set([...Object.keys(this.#datasets), ...this.#patterns.resolvedNames()])].sort();
  }

  /** Catalog patterns in match order (most specific first). */
  listPatterns(): string[] {
    return this.#patterns.patterns.map((pattern) => pattern.pattern);
  }

  /** `describe()` of every listed dataset (credentials-free). */
  describeDatasets(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(
      this.listDatasets().map((name) => [name, this.requireDataset(name).describe()]),
    );
  }

  async load(name: string): Promise<unknown> {
    checkName('load', name);
    if (name === PARAMETERS) return structuredClone(this.#parameters);
    if (name.startsWith(PARAMS_PREFIX))
      return structuredClone(this.parameter(name.slice(PARAMS_PREFIX.length)));
    return this.requireDataset(name).load();
  }

  async save(name: string, data: unknown): Promise<void> {
    checkName('save', name, 'name, data');
    if (isParamName(name))
      throw new DatasetError(`Cannot save to '${name}': parameters are read-only`, {
        dataset: name,
        operation: 'save',
      });
    await this.requireDataset(name).save(data);
  }

  /** False for unknown names (as Kedro). */
  async exists(name: string): Promise<boolean> {
    checkName('exists', name);
    if (isParamName(name)) return this.has(name);
    const dataset = this.getDataset(name);
    return dataset ? dataset.exists() : false;
  }

  async release(name: string): Promise<void> {
    checkName('release', name);
    if (isParamName(name)) return;
    await this.requireDataset(name).release();
  }

  /** Whether the data outlives this process (parameters: yes; memory datasets and unknown: no). */
  isPersisted(name: string): boolean {
    checkName('isPersisted', name);
    if (isParamName(name)) return true;
    return this.getDataset(name)?.persisted ?? false;
  }

  private parameter(key: string): unknown {
    const value = getPath(this.#parameters, key);
    if (value !== undefined) return value;
    const known = allPaths(this.#parameters as Record<string, unknown>);
    const suggestion = closestMatch(key, known);
    throw new ParameterNotFoundError(
      `Parameter '${key}' not found (requested as '${PARAMS_PREFIX}${key}').` +
        `${suggestion ? ` Did you mean '${PARAMS_PREFIX}${suggestion}'?` : ''}` +
        ` Top-level parameters: ${Object.keys(this.#parameters).sort().join(', ') || '(none)'}`,
      { key, suggestion },
    );
  }

  private requireDataset(name: string): Dataset {
    const dataset = this.getDataset(name);
    if (dataset) return dataset;
    const known = this.listDatasets();
    const suggestion = closestMatch(name, known);
    const patterns = this.listPatterns();
    const patternNote = patterns.length
      ? ` No pattern matches it either (patterns: ${patterns.join(', ')}).`
      : '';
    throw new DatasetNotFoundError(
      `Dataset '${name}' not found in the catalog.${suggestion ? ` Did you mean '${suggestion}'?` : ''}${patternNote}` +
        ` Known datasets: ${known.join(', ') || '(none)'}`,
      { dataset: name, suggestion },
    );
  }
}
