import type { Node } from '../pipeline/node.js';
import type { Pipeline } from '../pipeline/pipeline.js';

/**
 * The nodes to restart from after `failed` failed (Kedro's resume suggestion): walking upstream
 * from the failed node until every input of the chosen nodes is persisted, since memory datasets
 * are lost with the process.
 */
export function resumeSuggestion(
  pipeline: Pipeline,
  failed: Node,
  isPersisted: (dataset: string) => boolean,
): string[] {
  const producerOf = new Map<string, Node>();
  for (const node of pipeline.nodes)
    for (const output of node.outputs) producerOf.set(output, node);
  const start = new Set<string>();
  const seen = new Set<Node>();
  const visit = (node: Node): void => {
    if (seen.has(node)) return;
    seen.add(node);
    const lost = node.inputs.filter((input) => producerOf.has(input) && !isPersisted(input));
    if (lost.length === 0) start.add(node.name);
    for (const input of lost) visit(producerOf.get(input)!);
  };
  visit(failed);
  return [...start].sort();
}
