/**
 * Local-runner orchestration overhead: a chain and a fan-out of no-op nodes at 100 and 1,000
 * nodes; prints the median per-node overhead over repeated runs and writes
 * bench/results/runner.json.   node --import tsx bench/runner.ts
 */
import { DataCatalog } from '../src/catalog/data-catalog.js';
import { MemoryDataset } from '../src/datasets/memory.js';
import { node, pipeline, type Pipeline } from '../src/pipeline/index.js';
import { runPipelineLocally } from '../src/runner/local-runner.js';
import { median, writeResults } from './support.js';

const REPEATS = 15;

function chain(size: number): Pipeline {
  return pipeline(
    Array.from({ length: size }, (_, i) =>
      node((x: number) => x, {
        inputs: i === 0 ? 'seed' : `d${i - 1}`,
        outputs: `d${i}`,
        name: `n${i}`,
      }),
    ),
  );
}

function fanOut(size: number): Pipeline {
  return pipeline([
    node((x: number) => x, { inputs: 'seed', outputs: 'root', name: 'root' }),
    ...Array.from({ length: size - 1 }, (_, i) =>
      node((x: number) => x, { inputs: 'root', outputs: `leaf${i}`, name: `leaf${i}` }),
    ),
  ]);
}

async function measure(
  shape: string,
  build: (n: number) => Pipeline,
  size: number,
): Promise<Record<string, number | string>> {
  const p = build(size);
  const perNode: number[] = [];
  for (let i = 0; i < REPEATS + 2; i++) {
    const seeded = new DataCatalog({ seed: new MemoryDataset({ data: 1 }) });
    const started = performance.now();
    await runPipelineLocally({
      pipeline: p,
      catalog: seeded,
      run: {
        runId: `bench-${i}`,
        pipelineName: shape,
        env: 'local',
        projectDir: '.',
        runtimeParams: {},
      },
    });
    if (i >= 2) perNode.push((performance.now() - started) / size); // two warm-up runs
  }
  return {
    shape,
    nodes: size,
    medianMsPerNode: Number(median(perNode).toFixed(4)),
    minMsPerNode: Number(Math.min(...perNode).toFixed(4)),
  };
}

const rows = [];
for (const [shape, build] of [
  ['chain', chain],
  ['fan-out', fanOut],
] as const) {
  for (const size of [100, 1000]) rows.push(await measure(shape, build, size));
}
console.table(rows);
writeResults('runner', {
  target: 'median ≤ 0.2 ms per no-op node, flat from 100 to 1,000 nodes',
  rows,
});
