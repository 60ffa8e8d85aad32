/**
 * Node selection behind the pipeline filters: pure functions over a pipeline's indices, each
 * returning the selected nodes or throwing an error that names what was unknown.
 */
import {
  EmptyPipelineSelectionError,
  UnknownDatasetError,
  UnknownNodeError,
  UnknownTagError,
  quoteList,
} from './errors.js';
import type { Node } from './node.js';
import { suggestAll } from '../utils/suggest.js';

/** Criteria of `Pipeline.filter()`; the result is the intersection of every criterion given. */
export interface PipelineFilterOptions {
  /** Nodes carrying any of these tags. */
  readonly tags?: string | readonly string[];
  /** These nodes and everything downstream of them. */
  readonly fromNodes?: string | readonly string[];
  /** These nodes and everything upstream of them. */
  readonly toNodes?: string | readonly string[];
  /** Exactly these nodes. */
  readonly nodeNames?: string | readonly string[];
  /** Nodes depending, directly or not, on these datasets. */
  readonly fromInputs?: string | readonly string[];
  /** Nodes needed to produce these datasets. */
  readonly toOutputs?: string | readonly string[];
  /** Nodes in this namespace (or one nested in it). */
  readonly namespace?: string;
}

/** The indices of a pipeline the selections read. */
export interface GraphIndex {
  /** Nodes in topological order. */
  readonly nodes: readonly Node[];
  readonly byName: ReadonlyMap<string, Node>;
  readonly producers: ReadonlyMap<string, Node>;
  readonly consumers: ReadonlyMap<string, readonly Node[]>;
  tags(): readonly string[];
  namespaces(): readonly string[];
}

export function named(graph: GraphIndex, names: readonly string[]): Set<Node> {
  const unknown = names.filter((name) => !graph.byName.has(name));
  if (unknown.length) throw new UnknownNodeError(unknown, suggestAll(unknown, graph.byName.keys()));
  return new Set(names.map((name) => graph.byName.get(name) as Node));
}

export function tagged(graph: GraphIndex, tags: readonly string[]): Set<Node> {
  const known = graph.tags();
  const unknown = tags.filter((tag) => !known.includes(tag));
  if (unknown.length) throw new UnknownTagError(unknown, suggestAll(unknown, known), known);
  const wanted = new Set(tags);
  return new Set(graph.nodes.filter((n) => n.tags.some((tag) => wanted.has(tag))));
}

export function inNamespace(graph: GraphIndex, namespace: string): Set<Node> {
  const selected = graph.nodes.filter(
    (n) =>
      n.namespace !== undefined &&
      (n.namespace === namespace || n.namespace.startsWith(`${namespace}.`)),
  );
  if (selected.length === 0) {
    const known = graph.namespaces();
    throw new EmptyPipelineSelectionError(
      'onlyNodesWithNamespace',
      `'${namespace}'`,
      known.length
        ? `namespaces of this pipeline: ${quoteList(known)}`
        : 'no node of this pipeline has a namespace',
    );
  }
  return new Set(selected);
}

export function checkDatasets(
  graph: GraphIndex,
  datasets: readonly string[],
  role: 'input' | 'output',
): readonly string[] {
  const pool = role === 'input' ? graph.consumers : graph.producers;
  const unknown = datasets.filter((d) => !pool.has(d));
  if (unknown.length) {
    const other = role === 'input' ? graph.producers : graph.consumers;
    const misplaced = unknown.filter((d) => other.has(d));
    const hint = misplaced.length
      ? role === 'input'
        ? `${quoteList(misplaced)} only produced, never read: use toOutputs() or fromNodes()`
        : `${quoteList(misplaced)} only read, never produced (free inputs): use fromInputs()`
      : undefined;
    throw new UnknownDatasetError(unknown, role, suggestAll(unknown, pool.keys()), hint);
  }
  return datasets;
}

export function downstreamOf(graph: GraphIndex, datasets: Iterable<string>): Set<Node> {
  const selected = new Set<Node>();
  const queue = [...datasets];
  for (let dataset = queue.pop(); dataset !== undefined; dataset = queue.pop()) {
    for (const consumer of graph.consumers.get(dataset) ?? []) {
      if (selected.has(consumer)) continue;
      selected.add(consumer);
      queue.push(...consumer.outputs);
    }
  }
  return selected;
}

export function upstreamOf(graph: GraphIndex, datasets: Iterable<string>): Set<Node> {
  const selected = new Set<Node>();
  const queue = [...datasets];
  for (let dataset = queue.pop(); dataset !== undefined; dataset = queue.pop()) {
    const producer = graph.producers.get(dataset);
    if (producer === undefined || selected.has(producer)) continue;
    selected.add(producer);
    queue.push(...producer.inputs);
  }
  return selected;
}

export function fromNodes(graph: GraphIndex, names: readonly string[]): Set<Node> {
  const start = named(graph, names);
  const downstream = downstreamOf(
    graph,
    [...start].flatMap((n) => n.outputs),
  );
  return new Set([...start, ...downstream]);
}

export function toNodes(graph: GraphIndex, names: readonly string[]): Set<Node> {
  const start = named(graph, names);
  const upstream = upstreamOf(
    graph,
    [...start].flatMap((n) => n.inputs),
  );
  return new Set([...start, ...upstream]);
}

const asList = (value: string | readonly string[] | undefined): readonly string[] =>
  value === undefined ? [] : typeof value === 'string' ? [value] : value;

/**
 * The nodes matching every criterion given, with the criteria described for messages; undefined
 * when no criterion is given.
 */
export function selectByCriteria(
  graph: GraphIndex,
  criteria: PipelineFilterOptions,
): { selected: Set<Node>; described: string } | undefined {
  const selections: Set<Node>[] = [];
  const given: string[] = [];
  const apply = (
    key: keyof PipelineFilterOptions,
    select: (values: readonly string[]) => Set<Node>,
  ): void => {
    const values = asList(criteria[key]);
    if (values.length === 0) return;
    given.push(`${key}: [${quoteList(values)}]`);
    selections.push(select(values));
  };
  apply('tags', (v) => tagged(graph, v));
  apply('fromNodes', (v) => fromNodes(graph, v));
  apply('toNodes', (v) => toNodes(graph, v));
  apply('nodeNames', (v) => named(graph, v));
  apply('fromInputs', (v) => downstreamOf(graph, checkDatasets(graph, v, 'input')));
  apply('toOutputs', (v) => upstreamOf(graph, checkDatasets(graph, v, 'output')));
  apply('namespace', (v) => inNamespace(graph, v[0] ?? ''));
  const [first, ...rest] = selections;
  if (first === undefined) return undefined;
  const selected = new Set([...first].filter((n) => rest.every((s) => s.has(n))));
  return { selected, described: `{ ${given.join(', ')} }` };
}
