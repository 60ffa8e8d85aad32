/**
 * Worker-thread node execution vs inline: the per-node overhead of running a no-op node function
 * in a (warm) thread — one call through runNode, and a 100-node chain through the local runner —
 * the cold start of a thread (loading the project), and the cost of moving an 8 MB typed array
 * each way. Prints a table and writes bench/results/node-thread.json.
 *   node --import tsx bench/node-thread.ts
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataCatalog } from '../src/catalog/data-catalog.js';
import { MemoryDataset } from '../src/datasets/memory.js';
import type { RunInfo } from '../src/hooks/types.js';
import type { Pipeline } from '../src/pipeline/pipeline.js';
import { runPipelineLocally } from '../src/runner/local-runner.js';
import { NodeThreadPool, threadExecutor } from '../src/runner/node-thread.js';
import { inlineExecutor, runNode, type NodeExecutor } from '../src/runner/run-node.js';
import {
  noopChain,
  payloads,
} from '../test/runner/fixtures/thread-project/temporal-mlflow.config.js';
import { median, writeResults } from './support.js';

const CALLS = 500;
const CHAIN_REPEATS = 15;
const FLOATS = 1_000_000; // 8 MB
const PAYLOAD_REPEATS = 15;
const projectDir = fileURLToPath(
  new URL('../test/runner/fixtures/thread-project', import.meta.url),
);
const runOf = (pipelineName: string): RunInfo => ({
  runId: 'bench',
  pipelineName,
  env: 'local',
  projectDir: join(projectDir),
  runtimeParams: {},
});

const pool = new NodeThreadPool();
const coldStarted = performance.now();
await pool.prestart(projectDir, 1);
const coldStartMs = performance.now() - coldStarted;
const threads = threadExecutor({ pool });

/** Median milliseconds of one runNode call of a no-op node on a memory catalog. */
async function perCall(execute: NodeExecutor): Promise<number> {
  const node = noopChain.node('noop_1');
  const catalog = new DataCatalog({
    noop_0: new MemoryDataset({ data: 1 }),
    noop_1: new MemoryDataset(),
  });
  const times: number[] = [];
  for (let i = 0; i < CALLS + 50; i++) {
    const started = performance.now();
    await runNode({ node, catalog, hooks: [], run: runOf('noop_chain'), execute });
    if (i >= 50) times.push(performance.now() - started); // 50 warm-up calls
  }
  return median(times);
}

/** Median milliseconds per node of the 100-node chain through the local runner. */
async function perChainNode(execute: NodeExecutor): Promise<number> {
  const perNode: number[] = [];
  for (let i = 0; i < CHAIN_REPEATS + 2; i++) {
    const started = performance.now();
    await runPipelineLocally({
      pipeline: noopChain,
      catalog: new DataCatalog({}, { n: 1 }),
      run: runOf('noop_chain'),
      execute,
    });
    if (i >= 2) perNode.push((performance.now() - started) / noopChain.nodes.length);
  }
  return median(perNode);
}

/** Median milliseconds of a node making (out) or reading (in) an 8 MB Float64Array. */
async function payload(
  execute: NodeExecutor,
  name: 'make_floats' | 'count_floats',
): Promise<number> {
  const pipeline: Pipeline = payloads;
  const node = pipeline.node(name);
  const catalog = new DataCatalog(
    {
      floats: new MemoryDataset({ data: new Float64Array(FLOATS).fill(1), copyMode: 'assign' }),
      float_count: new MemoryDataset(),
    },
    { n: FLOATS },
  );
  const times: number[] = [];
  for (let i = 0; i < PAYLOAD_REPEATS + 2; i++) {
    const started = performance.now();
    await runNode({
      node,
      catalog:
        name === 'make_floats'
          ? catalog.withDatasets({ floats: new MemoryDataset({ copyMode: 'assign' }) })
          : catalog,
      hooks: [],
      run: runOf('payloads'),
      execute,
    });
    if (i >= 2) times.push(performance.now() - started);
  }
  return median(times);
}

const rows = [];
for (const [what, measure] of [
  ['runNode, one no-op node', perCall],
  ['local runner, 100-node chain (per node)', perChainNode],
  ['node returning 8 MB Float64Array (moved)', (e: NodeExecutor) => payload(e, 'make_floats')],
  ['node reading 8 MB Float64Array (copied)', (e: NodeExecutor) => payload(e, 'count_floats')],
] as const) {
  const inline = await measure(inlineExecutor);
  const thread = await measure(threads);
  rows.push({
    what,
    inlineMedianMs: Number(inline.toFixed(4)),
    threadMedianMs: Number(thread.toFixed(4)),
    overheadMs: Number((thread - inline).toFixed(4)),
  });
}
await pool.close();
console.table(rows);
console.log(`cold start of one thread (project loaded through tsx): ${coldStartMs.toFixed(0)} ms`);
writeResults('node-thread', {
  target: 'worker-thread execution adds ≤ 2 ms per node (median, warm threads)',
  calls: CALLS,
  chainRepeats: CHAIN_REPEATS,
  coldStartMs: Math.round(coldStartMs),
  rows,
});
