/**
 * `pipeline(items, options?)`: an immutable, validated graph of nodes, as in Kedro. Filters and
 * composition return new pipelines through the overridable `derive()` factory, so subclasses
 * (PipelineML) decide the type of what they return.
 */
import {
  DuplicateNodeNameError,
  EmptyPipelineSelectionError,
  InvalidPipelineItemError,
  OutputNotUniqueError,
  UnknownNodeError,
  quoteList,
} from './errors.js';
import { checkCriteria, nameArguments, stringArgument } from './arguments.js';
import { hasNamespaceOptions, namespaceNodes } from './namespace.js';
import type { PipelineOptions } from './namespace.js';
import { Node } from './node.js';
import type { NodeDescription } from './node.js';
import {
  checkDatasets,
  downstreamOf,
  fromNodes,
  inNamespace,
  named,
  selectByCriteria,
  tagged,
  toNodes,
  upstreamOf,
} from './selection.js';
import type { GraphIndex, PipelineFilterOptions } from './selection.js';
import { suggestAll } from '../utils/suggest.js';
import { layer } from './toposort.js';
import { describeValue } from '../utils/describe-value.js';

export type { PipelineFilterOptions };

/** What `pipeline()` and composition accept. */
export type PipelineItem = Node | Pipeline;

/** A pipeline as plain JSON-safe data. */
export interface PipelineDescription {
  readonly nodes: readonly NodeDescription[];
  /** Node names of each layer. */
  readonly layers: readonly (readonly string[])[];
}

function describeItem(item: unknown): string {
  if (Array.isArray(item)) return 'an array (pass nodes and pipelines directly, not nested arrays)';
  if (typeof item === 'function') return `${describeValue(item)} (wrap it with node())`;
  return describeValue(item);
}

function flatten(items: Iterable<unknown>): Node[] {
  const unique = new Set<Node>();
  let index = 0;
  for (const item of items) {
    if (item instanceof Pipeline) for (const n of item.nodes) unique.add(n);
    else if (item instanceof Node) unique.add(item);
    else throw new InvalidPipelineItemError(index, describeItem(item));
    index++;
  }
  return [...unique];
}

/** Names given to a filter: spread strings, or arrays of them. */
export type NameArgument = string | readonly string[];

const sortedUnique = (names: Iterable<string>): readonly string[] =>
  Object.freeze([...new Set(names)].sort());

/** An immutable graph of nodes, validated at construction. */
export class Pipeline implements Iterable<Node> {
  /** Nodes in topological order (layer by layer, by name within a layer). */
  readonly nodes: readonly Node[];
  /** Node name -> sorted names of the nodes it depends on. */
  readonly nodeDependencies: ReadonlyMap<string, readonly string[]>;
  readonly #layers: readonly (readonly Node[])[];
  readonly #byName = new Map<string, Node>();
  readonly #producers = new Map<string, Node>();
  readonly #consumers = new Map<string, Node[]>();
  readonly #lists = new Map<string, readonly string[]>();

  /** Prefer `pipeline()`. Identical node objects are kept once. */
  constructor(items: Iterable<PipelineItem> = []) {
    const nodes = flatten(items);
    const duplicates: string[] = [];
    const conflicts = new Map<string, Set<string>>();
    for (const node of nodes) {
      if (this.#byName.has(node.name)) duplicates.push(node.name);
      this.#byName.set(node.name, node);
      for (const output of node.outputs) {
        const other = this.#producers.get(output);
        if (other !== undefined)
          conflicts.set(output, (conflicts.get(output) ?? new Set([other.name])).add(node.name));
        this.#producers.set(output, node);
      }
      for (const input of node.inputs) {
        const list = this.#consumers.get(input);
        if (list) list.push(node);
        else this.#consumers.set(input, [node]);
      }
    }
    if (duplicates.length) throw new DuplicateNodeNameError(duplicates);
    if (conflicts.size) throw new OutputNotUniqueError(conflicts);
    const graph = layer(nodes, this.#producers);
    this.#layers = graph.layers;
    this.nodes = Object.freeze(graph.layers.flat());
    const dependencies = new Map<string, readonly string[]>();
    for (const node of this.nodes) {
      dependencies.set(
        node.name,
        sortedUnique((graph.dependencies.get(node) ?? []).map((dep) => dep.name)),
      );
    }
    this.nodeDependencies = dependencies;
    if (new.target === Pipeline) Object.freeze(this);
  }

  /**
   * Builds the pipeline returned by filters and composition. Subclasses override it to return
   * their own type when the selection keeps them valid.
   */
  protected derive(nodes: readonly Node[]): Pipeline {
    return new Pipeline(nodes);
  }

  get #graph(): GraphIndex {
    return {
      nodes: this.nodes,
      byName: this.#byName,
      producers: this.#producers,
      consumers: this.#consumers,
      tags: () => this.tags(),
      namespaces: () => this.namespaces(),
    };
  }

  [Symbol.iterator](): Iterator<Node> {
    return this.nodes[Symbol.iterator]();
  }

  /** Groups of nodes that can run concurrently, in order (Kahn layering). */
  layers(): readonly (readonly Node[])[] {
    return this.#layers;
  }

  #list(key: string, compute: () => Iterable<string>): readonly string[] {
    let list = this.#lists.get(key);
    if (list === undefined) this.#lists.set(key, (list = sortedUnique(compute())));
    return list;
  }

  /** Every dataset read by some node, sorted. */
  allInputs(): readonly string[] {
    return this.#list('allInputs', () => this.#consumers.keys());
  }

  /** Every dataset written by some node, sorted. */
  allOutputs(): readonly string[] {
    return this.#list('allOutputs', () => this.#producers.keys());
  }

  /** Free inputs: read and not produced (parameters included), sorted. */
  inputs(): readonly string[] {
    return this.#list('inputs', () => this.allInputs().filter((d) => !this.#producers.has(d)));
  }

  /** Final outputs: produced and not read by any node, sorted. */
  outputs(): readonly string[] {
    return this.#list('outputs', () => this.allOutputs().filter((d) => !this.#consumers.has(d)));
  }

  /** Every dataset the pipeline mentions, sorted. */
  datasets(): readonly string[] {
    return this.#list('datasets', () => [...this.allInputs(), ...this.allOutputs()]);
  }

  /** Every tag carried by some node, sorted. */
  tags(): readonly string[] {
    return this.#list('tags', () => this.nodes.flatMap((n) => n.tags));
  }

  /** Every namespace (and enclosing namespace) of some node, sorted. */
  namespaces(): readonly string[] {
    return this.#list('namespaces', () =>
      this.nodes
        .flatMap((n) =>
          (n.namespace ?? '').split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.')),
        )
        .filter(Boolean),
    );
  }

  /** The node named `name`; throws `UnknownNodeError` (with a suggestion) otherwise. */
  node(name: string): Node {
    const found = this.#byName.get(name);
    if (found === undefined)
      throw new UnknownNodeError([name], suggestAll([name], this.#byName.keys()));
    return found;
  }

  hasNode(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The node producing `dataset`, if any. */
  producerOf(dataset: string): Node | undefined {
    return this.#producers.get(dataset);
  }

  /** The nodes reading `dataset`, in topological order. */
  consumersOf(dataset: string): readonly Node[] {
    const consumers = new Set(this.#consumers.get(dataset) ?? []);
    return this.nodes.filter((n) => consumers.has(n));
  }

  // ---- composition ----

  /** This pipeline with the nodes of `others` added (identical node objects are kept once). */
  plus(...others: PipelineItem[]): Pipeline {
    return this.derive([...this.nodes, ...flatten(others)]);
  }

  /** This pipeline without the nodes (matched by name) of `others`. */
  minus(...others: PipelineItem[]): Pipeline {
    const names = new Set(flatten(others).map((n) => n.name));
    return this.derive(this.nodes.filter((n) => !names.has(n.name)));
  }

  /** The nodes (matched by name) of this pipeline that are also in every one of `others`. */
  intersect(...others: PipelineItem[]): Pipeline {
    const sets = others.map((other) => new Set(flatten([other]).map((n) => n.name)));
    return this.derive(this.nodes.filter((n) => sets.every((names) => names.has(n.name))));
  }

  // ---- filters ----

  // Each filter takes names spread or as arrays (`onlyNodes('a', 'b')`, `onlyNodes(['a', 'b'])`);
  // anything else is an InvalidArgumentError naming the argument.

  /** Exactly these nodes. */
  onlyNodes(...args: NameArgument[]): Pipeline {
    const names = nameArguments('onlyNodes', 'names', 'node names', args);
    return this.#derived(named(this.#graph, names), 'onlyNodes', names);
  }

  /** Nodes carrying any of these tags. */
  onlyNodesWithTags(...args: NameArgument[]): Pipeline {
    const tags = nameArguments('onlyNodesWithTags', 'tags', 'tags', args);
    return this.#derived(tagged(this.#graph, tags), 'onlyNodesWithTags', tags);
  }

  /** Nodes depending, directly or transitively, on these datasets. */
  fromInputs(...args: NameArgument[]): Pipeline {
    const datasets = nameArguments('fromInputs', 'datasets', 'dataset names', args);
    return this.#derived(
      downstreamOf(this.#graph, checkDatasets(this.#graph, datasets, 'input')),
      'fromInputs',
      datasets,
    );
  }

  /** Nodes needed, directly or transitively, to produce these datasets. */
  toOutputs(...args: NameArgument[]): Pipeline {
    const datasets = nameArguments('toOutputs', 'datasets', 'dataset names', args);
    return this.#derived(
      upstreamOf(this.#graph, checkDatasets(this.#graph, datasets, 'output')),
      'toOutputs',
      datasets,
    );
  }

  /** These nodes and every node downstream of them. */
  fromNodes(...args: NameArgument[]): Pipeline {
    const names = nameArguments('fromNodes', 'names', 'node names', args);
    return this.#derived(fromNodes(this.#graph, names), 'fromNodes', names);
  }

  /** These nodes and every node upstream of them. */
  toNodes(...args: NameArgument[]): Pipeline {
    const names = nameArguments('toNodes', 'names', 'node names', args);
    return this.#derived(toNodes(this.#graph, names), 'toNodes', names);
  }

  /** Nodes in namespace `namespace` or in a namespace nested in it. */
  onlyNodesWithNamespace(namespace: string): Pipeline {
    stringArgument('onlyNodesWithNamespace', 'namespace', 'a namespace (string)', namespace);
    return this.#derived(inNamespace(this.#graph, namespace), 'onlyNodesWithNamespace', [
      namespace,
    ]);
  }

  /** The nodes matching every criterion given (like Kedro's `Pipeline.filter`). */
  filter(criteria: PipelineFilterOptions): Pipeline {
    const result = selectByCriteria(this.#graph, checkCriteria(criteria));
    if (result === undefined) return this;
    return this.#derived(
      result.selected,
      'filter',
      [result.described],
      'the criteria are intersected: each one alone selects nodes, but no node matches all of them',
    );
  }

  #derived(
    selected: ReadonlySet<Node>,
    filter: string,
    args: readonly string[],
    hint?: string,
  ): Pipeline {
    if (selected.size === 0) {
      const criteria = filter === 'filter' ? (args[0] ?? '') : quoteList(args);
      throw new EmptyPipelineSelectionError(
        filter,
        criteria,
        args.length === 0 ? `give ${filter}() at least one argument` : hint,
      );
    }
    return this.derive(this.nodes.filter((n) => selected.has(n)));
  }

  // ---- description ----

  /** Execution order with free inputs and final outputs, like Kedro's `describe()`. */
  describe(): string {
    const lines = ['#### Pipeline execution order ####', `Inputs: ${this.inputs().join(', ')}`, ''];
    for (const node of this.nodes) lines.push(node.name);
    lines.push('', `Outputs: ${this.outputs().join(', ')}`, '##################################');
    return lines.join('\n');
  }

  toString(): string {
    return `Pipeline([\n${this.nodes.map((n) => `  ${n.toString()}`).join(',\n')}\n])`;
  }

  toJSON(): PipelineDescription {
    return {
      nodes: this.nodes.map((n) => n.toJSON()),
      layers: this.#layers.map((l) => l.map((n) => n.name)),
    };
  }
}

/**
 * Builds a pipeline from nodes and pipelines. With `namespace` / `inputs` / `outputs` /
 * `parameters` / `tags`, builds a modular pipeline as Kedro's `pipeline()` does.
 *
 * @example
 * pipeline([split, train, evaluate])
 * pipeline(dataScience, { namespace: 'candidate', inputs: ['model_input_table'], outputs: { metrics: 'candidate_metrics' } })
 */
export function pipeline(
  items: PipelineItem | readonly PipelineItem[],
  options?: PipelineOptions,
): Pipeline {
  const base = new Pipeline(
    Array.isArray(items) ? (items as readonly PipelineItem[]) : [items as PipelineItem],
  );
  if (!hasNamespaceOptions(options)) return base;
  return new Pipeline(namespaceNodes(base, options as PipelineOptions));
}
