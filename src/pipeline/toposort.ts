/** Kahn layering of a node graph, with the cycle reported when there is one. O(V + E + V log V). */
import { CircularDependencyError } from './errors.js';
import type { Node } from './node.js';

export interface Graph {
  /** Layers of nodes that can run concurrently; each layer sorted by name. */
  readonly layers: readonly (readonly Node[])[];
  /** Node -> the distinct nodes producing its inputs. */
  readonly dependencies: ReadonlyMap<Node, readonly Node[]>;
}

const byName = (a: Node, b: Node): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Builds the layers; throws `CircularDependencyError` naming one cycle. */
export function layer(nodes: readonly Node[], producers: ReadonlyMap<string, Node>): Graph {
  const dependencies = new Map<Node, readonly Node[]>();
  const dependents = new Map<Node, Node[]>();
  const waiting = new Map<Node, number>();
  for (const node of nodes) {
    const deps = new Set<Node>();
    for (const input of node.inputs) {
      const producer = producers.get(input);
      if (producer !== undefined) deps.add(producer);
    }
    dependencies.set(node, [...deps]);
    waiting.set(node, deps.size);
    for (const dep of deps) {
      const list = dependents.get(dep);
      if (list) list.push(node);
      else dependents.set(dep, [node]);
    }
  }

  const layers: (readonly Node[])[] = [];
  let current = nodes.filter((node) => waiting.get(node) === 0);
  let placed = 0;
  while (current.length > 0) {
    current.sort(byName);
    layers.push(Object.freeze(current));
    placed += current.length;
    const next: Node[] = [];
    for (const node of current) {
      for (const dependent of dependents.get(node) ?? []) {
        const left = (waiting.get(dependent) ?? 0) - 1;
        waiting.set(dependent, left);
        if (left === 0) next.push(dependent);
      }
    }
    current = next;
  }
  if (placed < nodes.length) throw cycleError(nodes, waiting, dependencies);
  return { layers: Object.freeze(layers), dependencies };
}

/** Walks dependencies among unplaced nodes (each has an unplaced dependency) until one repeats. */
function cycleError(
  nodes: readonly Node[],
  waiting: ReadonlyMap<Node, number>,
  dependencies: ReadonlyMap<Node, readonly Node[]>,
): CircularDependencyError {
  const unplaced = nodes.filter((node) => (waiting.get(node) ?? 0) > 0).sort(byName);
  const pending = new Set(unplaced);
  const path: Node[] = [];
  const position = new Map<Node, number>();
  let cursor = unplaced[0];
  while (cursor !== undefined && !position.has(cursor)) {
    position.set(cursor, path.length);
    path.push(cursor);
    cursor = [...(dependencies.get(cursor) ?? [])]
      .filter((dep) => pending.has(dep))
      .sort(byName)[0];
  }
  // path walks upstream: reverse the loop so that each node depends on the one before it.
  const loop = path.slice(cursor === undefined ? 0 : (position.get(cursor) ?? 0)).reverse();
  const start = loop.reduce(
    (best, node, i) => ((loop[best]?.name ?? '') <= node.name ? best : i),
    0,
  );
  const cycle = [...loop.slice(start), ...loop.slice(0, start)];
  const datasets = cycle.map((node, i) => {
    const consumer = cycle[(i + 1) % cycle.length];
    return consumer?.inputs.find((input) => node.outputs.includes(input)) ?? '?';
  });
  return new CircularDependencyError(
    cycle.map((node) => node.name),
    datasets,
  );
}
