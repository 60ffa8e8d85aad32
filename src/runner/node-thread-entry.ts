/**
 * The code of a node thread (started by node-thread.ts): loads the project once, then runs one
 * node function per request — found by pipeline and node name — and posts its result back,
 * moving ArrayBuffers instead of copying them where it can.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Node } from '../pipeline/node.js';
import { getPipeline, loadProject } from '../project/load-project.js';
import { findUncloneable, serializeThrown } from './node-thread-values.js';
import type { ThreadReply, ThreadRequest } from './node-thread-protocol.js';

const port = parentPort!;
const { projectDir } = workerData as { projectDir: string };
const nodes = new Map<string, Node>();

async function findNode(pipeline: string, name: string): Promise<Node | string> {
  const key = JSON.stringify([pipeline, name]);
  const cached = nodes.get(key);
  if (cached) return cached;
  let found: Node;
  try {
    const { definition } = await loadProject(projectDir);
    const registered = getPipeline(definition, pipeline);
    if (!registered.hasNode(name))
      return `the thread's project has no node '${name}' in pipeline '${pipeline}' (is the pipeline built the same way on every load?)`;
    found = registered.node(name);
  } catch (error) {
    return `the project failed to load in the thread: ${(error as Error).message ?? String(error)}`;
  }
  nodes.set(key, found);
  return found;
}

/** Makes this thread's `process.env` equal to the caller's. */
function syncEnvironment(env: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(process.env)) if (!Object.hasOwn(env, key)) delete process.env[key];
  Object.assign(process.env, env);
}

async function handle(request: ThreadRequest): Promise<void> {
  const reply = (message: ThreadReply, transfer: ArrayBuffer[] = []): void =>
    port.postMessage(message, transfer);
  const { id } = request;
  if (request.kind === 'load') {
    const loaded = await loadProject(projectDir).then(
      () => undefined,
      (error: unknown) => (error as Error).message ?? String(error),
    );
    return reply(
      loaded === undefined ? { id, kind: 'loaded' } : { id, kind: 'lookup', reason: loaded },
    );
  }
  if (request.env) syncEnvironment(request.env);
  const node = await findNode(request.pipeline, request.node);
  if (typeof node === 'string') return reply({ id, kind: 'lookup', reason: node });
  let result: unknown;
  try {
    result = await node.func(...request.args);
  } catch (thrown) {
    return reply({ id, kind: 'thrown', thrown: serializeThrown(thrown) });
  }
  const transfer: ArrayBuffer[] = [];
  const problem = findUncloneable(result, transfer);
  if (problem) return reply({ id, kind: 'uncloneable', ...problem });
  try {
    reply({ id, kind: 'result', result }, transfer);
  } catch {
    // A buffer that cannot move (e.g. pooled or WebAssembly memory): copy everything instead.
    try {
      reply({ id, kind: 'result', result });
    } catch (error) {
      reply({ id, kind: 'uncloneable', path: [], found: (error as Error).message });
    }
  }
}

port.on('message', (request: ThreadRequest) => void handle(request));
