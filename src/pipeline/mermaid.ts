import { isParameter } from './node-options.js';
import type { Pipeline } from './pipeline.js';

/** Mermaid identifiers may not contain most punctuation: a stable, readable id per name. */
function mermaidId(prefix: string, name: string, ids: Map<string, string>): string {
  const key = `${prefix}:${name}`;
  let id = ids.get(key);
  if (!id) {
    id = `${prefix}${ids.size}_${name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40)}`;
    ids.set(key, id);
  }
  return id;
}

const label = (text: string): string => `"${text.replace(/"/g, '#quot;')}"`;

export interface MermaidOptions {
  /** Show `params:*` and `parameters` inputs. @default false */
  showParameters?: boolean;
  /** Flowchart direction. @default 'TB' */
  direction?: 'TB' | 'LR';
}

/**
 * The pipeline as a Mermaid flowchart: nodes as boxes, datasets as cylinders, wired as the data
 * flows (for READMEs, docs and `temporal-mlflow viz`).
 */
export function pipelineToMermaid(pipeline: Pipeline, options: MermaidOptions = {}): string {
  const ids = new Map<string, string>();
  const lines = [`flowchart ${options.direction ?? 'TB'}`];
  const shown = (dataset: string): boolean =>
    options.showParameters === true || !isParameter(dataset);
  for (const dataset of pipeline.datasets()) {
    if (shown(dataset)) lines.push(`  ${mermaidId('d', dataset, ids)}[(${label(dataset)})]`);
  }
  for (const node of pipeline.nodes) {
    const nodeId = mermaidId('n', node.name, ids);
    lines.push(`  ${nodeId}[${label(node.name)}]`);
    for (const input of node.inputs)
      if (shown(input)) lines.push(`  ${mermaidId('d', input, ids)} --> ${nodeId}`);
    for (const output of node.outputs) lines.push(`  ${nodeId} --> ${mermaidId('d', output, ids)}`);
  }
  return lines.join('\n');
}
