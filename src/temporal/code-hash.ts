import { createHash } from 'node:crypto';
import type { Pipeline } from '../pipeline/pipeline.js';

/**
 * A short hash of a pipeline's code and wiring: every node's name, inputs, outputs and function
 * source. Two workers agree on it exactly when they would run the same pipeline.
 */
export function codeHash(pipeline: Pipeline): string {
  let cached = hashes.get(pipeline);
  if (cached === undefined) hashes.set(pipeline, (cached = computeCodeHash(pipeline)));
  return cached;
}

// Pipelines are immutable: hash each once (node activities ask for it on every node).
const hashes = new WeakMap<Pipeline, string>();

function computeCodeHash(pipeline: Pipeline): string {
  const hash = createHash('sha256');
  for (const node of pipeline.nodes) {
    hash.update(JSON.stringify([node.name, node.inputs, node.outputs]));
    hash.update(node.func.toString());
  }
  return hash.digest('hex').slice(0, 16);
}
