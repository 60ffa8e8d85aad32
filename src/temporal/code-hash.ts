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

/**
 * The code hash of a whole project (a worker's build id): each registered pipeline hashed on its
 * own, so pipelines may share nodes and outputs (as `run` allows), then the hashes by name.
 */
export function projectCodeHash(pipelines: Readonly<Record<string, Pipeline>>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(pipelines).sort())
    hash.update(JSON.stringify([name, codeHash(pipelines[name]!)]));
  return hash.digest('hex').slice(0, 16);
}
