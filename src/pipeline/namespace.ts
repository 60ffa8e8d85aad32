/**
 * Modular pipelines, as in Kedro's `pipeline(pipe, namespace=..., inputs=..., outputs=...,
 * parameters=...)`: node names and datasets get the `<namespace>.` prefix, except the datasets
 * remapped through `inputs` / `outputs` and the parameters.
 */
import { InvalidNodeDefinitionError, NamespaceError, quoteList } from './errors.js';
import { checkNamespace, isParameter, renameSpec } from './node-options.js';
import type { Node } from './node.js';
import { closestMatch } from '../utils/suggest.js';

/** A dataset remapping: a name (kept as is), an array of names, or `{ innerName: outerName }`. */
export type DatasetMapping = string | readonly string[] | Readonly<Record<string, string>>;

/** Options of `pipeline(items, options)`. */
export interface PipelineOptions {
  /** Prefix of node names and datasets (`ns.`). Nested namespaces compose: `outer.inner`. */
  readonly namespace?: string;
  /** Free inputs of the pipeline connected to outside datasets (not prefixed). */
  readonly inputs?: DatasetMapping;
  /** Datasets produced by the pipeline exposed under outside names (not prefixed). */
  readonly outputs?: DatasetMapping;
  /** Parameters remapped to other parameters (`params:` may be omitted on either side). */
  readonly parameters?: DatasetMapping;
  /**
   * Also prefix parameters that are not remapped (`params:x` -> `params:<ns>.x`), as Kedro 0.19+
   * does. @default false (parameters are shared, as in Kedro 0.18)
   */
  readonly prefixParameters?: boolean;
  /** Tags added to every node. */
  readonly tags?: string | readonly string[];
}

/** What the namespacing needs to know about the pipeline being wrapped. */
export interface NamespaceSource {
  readonly nodes: readonly Node[];
  /** Free inputs (consumed, not produced), sorted. */
  inputs(): readonly string[];
  /** Datasets produced by some node, sorted. */
  allOutputs(): readonly string[];
  /** Every dataset, sorted. */
  datasets(): readonly string[];
  producerOf(dataset: string): Node | undefined;
}

/** True when the options ask for more than plain composition. */
export function hasNamespaceOptions(options: PipelineOptions | undefined): boolean {
  if (!options) return false;
  return ['namespace', 'inputs', 'outputs', 'parameters', 'tags'].some(
    (key) => options[key as keyof PipelineOptions] !== undefined,
  );
}

function toMap(
  mapping: DatasetMapping | undefined,
  option: string,
  normalize: (d: string) => string = (d) => d,
): Map<string, string> {
  const out = new Map<string, string>();
  if (mapping === undefined) return out;
  const pairs: [unknown, unknown][] =
    typeof mapping === 'string'
      ? [[mapping, mapping]]
      : Array.isArray(mapping)
        ? mapping.map((d: unknown) => [d, d])
        : typeof mapping === 'object' && mapping !== null
          ? Object.entries(mapping)
          : [[mapping, mapping]];
  for (const [from, to] of pairs) {
    if (typeof from !== 'string' || typeof to !== 'string' || from === '' || to === '') {
      throw new InvalidNodeDefinitionError(
        '<modular pipeline>',
        option,
        'a dataset name, an array of names or an object {innerName: outerName}',
        JSON.stringify(mapping) ?? String(mapping),
      );
    }
    out.set(normalize(from), normalize(to));
  }
  return out;
}

const asParameter = (d: string): string => (isParameter(d) ? d : `params:${d}`);

function suggestion(names: readonly string[], candidates: readonly string[]): string | undefined {
  const hints = names.flatMap((name) => {
    const near = closestMatch(name, candidates);
    return near ? [`'${name}' -> did you mean '${near}'?`] : [];
  });
  return hints.length ? hints.join('; ') : undefined;
}

/** The nodes of `source` renamed and re-namespaced by `options`. */
export function namespaceNodes(source: NamespaceSource, options: PipelineOptions): Node[] {
  const namespace = checkNamespace(options.namespace, undefined);
  const inputs = toMap(options.inputs, 'inputs');
  const outputs = toMap(options.outputs, 'outputs');
  const parameters = toMap(options.parameters, 'parameters', asParameter);
  const free = new Set(source.inputs());
  const known = new Set(source.datasets());
  const parameterNames = source.inputs().filter(isParameter);

  for (const [option, mapping] of [
    ['inputs', inputs],
    ['outputs', outputs],
  ] as const) {
    const keys = [...mapping.keys()];
    const params = keys.filter(isParameter);
    if (params.length) {
      throw new NamespaceError(
        namespace,
        option,
        params,
        'parameters cannot be remapped as datasets',
        {
          expected: 'dataset names',
          hint: 'remap parameters with the `parameters` option',
        },
      );
    }
    const unknown = keys.filter((d) => !known.has(d));
    if (unknown.length) {
      throw new NamespaceError(namespace, option, unknown, 'the pipeline has no such dataset', {
        expected: `${option === 'inputs' ? 'free inputs' : 'outputs'} of the pipeline`,
        hint: suggestion(unknown, option === 'inputs' ? source.inputs() : source.allOutputs()),
      });
    }
  }
  const produced = [...inputs.keys()].filter((d) => !free.has(d));
  if (produced.length) {
    const by = produced.map((d) => `'${d}' by '${source.producerOf(d)?.name ?? '?'}'`).join(', ');
    throw new NamespaceError(
      namespace,
      'inputs',
      produced,
      `produced inside the pipeline (${by})`,
      {
        expected: `free inputs of the pipeline, among ${quoteList(source.inputs().filter((d) => !isParameter(d)))}`,
        hint: 'expose datasets produced inside the pipeline with the `outputs` option',
      },
    );
  }
  const notProduced = [...outputs.keys()].filter((d) => free.has(d));
  if (notProduced.length) {
    throw new NamespaceError(
      namespace,
      'outputs',
      notProduced,
      'no node of the pipeline produces them',
      {
        expected: `datasets produced by the pipeline, among ${quoteList(source.allOutputs())}`,
        hint: 'connect free inputs with the `inputs` option',
      },
    );
  }
  const unknownParameters = [...parameters.keys()].filter((p) => !free.has(p));
  if (unknownParameters.length) {
    throw new NamespaceError(
      namespace,
      'parameters',
      unknownParameters,
      'no node of the pipeline reads them',
      {
        expected: parameterNames.length
          ? `parameters among ${quoteList(parameterNames)}`
          : 'parameters read by the pipeline (it reads none)',
        hint: suggestion(unknownParameters, parameterNames),
      },
    );
  }

  const mapping = new Map([...inputs, ...outputs, ...parameters]);
  const prefixParameters = options.prefixParameters === true;
  const rename = (d: string): string => {
    const mapped = mapping.get(d);
    if (mapped !== undefined) return mapped;
    if (namespace === undefined || d === 'parameters') return d;
    if (isParameter(d))
      return prefixParameters ? `params:${namespace}.${d.slice('params:'.length)}` : d;
    return `${namespace}.${d}`;
  };
  const extraTags =
    options.tags === undefined
      ? []
      : typeof options.tags === 'string'
        ? [options.tags]
        : [...options.tags];

  return source.nodes.map((node) => {
    const nested =
      namespace === undefined
        ? node.namespace
        : node.namespace
          ? `${namespace}.${node.namespace}`
          : namespace;
    return node.withOptions({
      inputs: renameSpec(node.inputSpec, rename),
      outputs: renameSpec(node.outputSpec, rename),
      namespace: nested,
      tags: [...node.tags, ...extraTags],
    });
  });
}
