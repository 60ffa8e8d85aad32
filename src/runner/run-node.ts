import type { CatalogView, Hooks, NodeInfo, RunInfo } from '../hooks/types.js';
import type { Node } from '../pipeline/node.js';

/** The catalog operations a node run needs. */
export interface NodeCatalog extends CatalogView {
  save(name: string, data: unknown): Promise<void>;
}

export function nodeInfo(node: Node): NodeInfo {
  return { name: node.name, inputs: node.inputs, outputs: node.outputs, tags: node.tags };
}

async function callHooks<K extends keyof Hooks>(
  hooks: readonly Hooks[],
  method: K,
  args: Parameters<NonNullable<Hooks[K]>>[0],
): Promise<void> {
  for (const hook of hooks) {
    const fn = hook[method] as ((a: typeof args) => Promise<void> | void) | undefined;
    if (fn) await fn.call(hook, args);
  }
}

export { callHooks };

/**
 * Runs one node as Kedro does: load its inputs from the catalog, `beforeNodeRun` hooks, call the
 * function, `afterNodeRun` hooks, save its outputs. Shared by the local runner and the Temporal
 * node activity, so both behave the same.
 */
export async function runNode(args: {
  node: Node;
  catalog: NodeCatalog;
  hooks: readonly Hooks[];
  run: RunInfo;
}): Promise<Record<string, unknown>> {
  const { node, catalog, hooks, run } = args;
  const info = nodeInfo(node);
  const loaded = await Promise.all(
    node.inputs.map(async (name) => [name, await catalog.load(name)] as const),
  );
  const inputs = Object.fromEntries(loaded);
  await callHooks(hooks, 'beforeNodeRun', { run, node: info, inputs, catalog });
  let outputs: Record<string, unknown>;
  try {
    outputs = await node.run(inputs);
  } catch (error) {
    await callHooks(hooks, 'onNodeError', {
      run,
      node: info,
      inputs,
      error: error as Error,
      catalog,
    });
    throw error;
  }
  await callHooks(hooks, 'afterNodeRun', { run, node: info, inputs, outputs, catalog });
  await Promise.all(node.outputs.map((name) => catalog.save(name, outputs[name])));
  return outputs;
}
