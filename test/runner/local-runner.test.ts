import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import type { Hooks, RunInfo } from '../../src/hooks/types.js';
import { node, pipeline } from '../../src/pipeline/index.js';
import { MissingInputsError, NodeRunError } from '../../src/runner/errors.js';
import { runPipelineLocally, type RunProgress } from '../../src/runner/local-runner.js';

const run: RunInfo = {
  runId: 'test-run',
  pipelineName: 'diamond',
  env: 'local',
  projectDir: '.',
  runtimeParams: {},
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** a → (b, c) → d, where b and c each take 150 ms. */
function diamond(spans: Record<string, [number, number]>) {
  const timed =
    (name: string, fn: (...args: number[]) => number) =>
    async (...args: number[]) => {
      const start = performance.now();
      await sleep(150);
      spans[name] = [start, performance.now()];
      return fn(...args);
    };
  return pipeline([
    node((x: number) => x + 1, { inputs: 'x', outputs: 'a', name: 'a' }),
    node(
      timed('b', (a) => a * 2),
      { inputs: 'a', outputs: 'b', name: 'b' },
    ),
    node(
      timed('c', (a) => a * 3),
      { inputs: 'a', outputs: 'c', name: 'c' },
    ),
    node((b: number, c: number) => b + c, { inputs: ['b', 'c'], outputs: 'd', name: 'd' }),
  ]);
}

describe('the local runner', () => {
  it('runs the independent branches of a diamond at the same time and returns its free output', async () => {
    const spans: Record<string, [number, number]> = {};
    const result = await runPipelineLocally({
      pipeline: diamond(spans),
      catalog: new DataCatalog({ x: new MemoryDataset({ data: 1 }) }),
      run,
    });
    expect(result.freeOutputs).toEqual({ d: 2 * 2 + 2 * 3 });
    const [bStart, bEnd] = spans.b!;
    const [cStart, cEnd] = spans.c!;
    // Overlap: each branch started before the other ended.
    expect(bStart).toBeLessThan(cEnd);
    expect(cStart).toBeLessThan(bEnd);
  });

  it('runs one node at a time when maxConcurrency is 1', async () => {
    const spans: Record<string, [number, number]> = {};
    await runPipelineLocally({
      pipeline: diamond(spans),
      catalog: new DataCatalog({ x: new MemoryDataset({ data: 1 }) }),
      run,
      maxConcurrency: 1,
    });
    const [first, second] = [spans.b!, spans.c!].sort((p, q) => p[0] - q[0]);
    expect(second![0]).toBeGreaterThanOrEqual(first![1] - 1);
  });

  it('reports progress for every node and ends with all nodes done', async () => {
    const events: RunProgress[] = [];
    await runPipelineLocally({
      pipeline: diamond({}),
      catalog: new DataCatalog({ x: new MemoryDataset({ data: 1 }) }),
      run,
      onProgress: (event) => events.push(event),
    });
    expect(
      events
        .filter((e) => e.event === 'node-completed')
        .map((e) => e.node)
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(events.at(-1)).toMatchObject({ done: 4, total: 4, running: [] });
  });

  it('releases a memory dataset once no remaining node needs it', async () => {
    const released: string[] = [];
    class Tracked extends MemoryDataset {
      constructor(private readonly label: string) {
        super();
      }
      protected override async doRelease(): Promise<void> {
        released.push(this.label);
        await super.doRelease();
      }
    }
    const p = pipeline([
      node((x: number) => x, { inputs: 'x', outputs: 'm1', name: 'first' }),
      node((m: number) => m, { inputs: 'm1', outputs: 'm2', name: 'second' }),
      node((m: number) => m, { inputs: 'm2', outputs: 'out', name: 'third' }),
    ]);
    const catalog = new DataCatalog({
      x: new MemoryDataset({ data: 5 }),
      m1: new Tracked('m1-registered'),
    });
    const result = await runPipelineLocally({ pipeline: p, catalog, run });
    // m1 is declared in the catalog (kept); m2 was added by the runner and released after 'third'.
    expect(released).toEqual([]);
    expect(result.freeOutputs).toEqual({ out: 5 });
    expect(catalog.has('m2')).toBe(false);
  });

  it('calls the hooks in Kedro order', async () => {
    const calls: string[] = [];
    const hooks: Hooks = {
      beforePipelineRun: () => void calls.push('beforePipelineRun'),
      beforeNodeRun: ({ node: n }) => void calls.push(`beforeNodeRun:${n.name}`),
      afterNodeRun: ({ node: n, outputs }) =>
        void calls.push(`afterNodeRun:${n.name}=${JSON.stringify(outputs)}`),
      afterPipelineRun: () => void calls.push('afterPipelineRun'),
    };
    const p = pipeline([
      node((x: number) => x * 10, { inputs: 'x', outputs: 'y', name: 'times_ten' }),
    ]);
    await runPipelineLocally({
      pipeline: p,
      catalog: new DataCatalog({ x: new MemoryDataset({ data: 4 }) }),
      run,
      hooks: [hooks],
    });
    expect(calls).toEqual([
      'beforePipelineRun',
      'beforeNodeRun:times_ten',
      'afterNodeRun:times_ten={"y":40}',
      'afterPipelineRun',
    ]);
  });

  it('names the failed node, calls the error hooks and prints a resume command from persisted inputs', async () => {
    const calls: string[] = [];
    const p = pipeline([
      node((x: number) => x, { inputs: 'x', outputs: 'mem', name: 'make_mem' }),
      node(
        () => {
          throw new Error('boom');
        },
        { inputs: 'mem', outputs: 'y', name: 'explode' },
      ),
    ]);
    const error = await runPipelineLocally({
      pipeline: p,
      catalog: new DataCatalog({ x: new MemoryDataset({ data: 1 }) }),
      run,
      hooks: [
        {
          onNodeError: ({ node: n }) => void calls.push(`onNodeError:${n.name}`),
          onPipelineError: () => void calls.push('onPipelineError'),
        },
      ],
      resumeCommandPrefix: 'temporal-mlflow run --pipeline diamond',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeRunError);
    const failure = error as NodeRunError;
    expect(failure.nodeName).toBe('explode');
    expect(failure.message).toContain("Node 'explode' failed: boom");
    // 'mem' is a memory dataset, lost with the process: resuming must start at its producer.
    expect(failure.resumeNodes).toEqual(['make_mem']);
    expect(failure.message).toContain(
      'temporal-mlflow run --pipeline diamond --from-nodes "make_mem"',
    );
    expect(calls).toEqual(['onNodeError:explode', 'onPipelineError']);
  });

  it('checks every free input before running anything', async () => {
    let ran = false;
    const p = pipeline([
      node(() => void (ran = true), { inputs: null, outputs: 'first', name: 'first' }),
      node((a: unknown, b: unknown) => [a, b], {
        inputs: ['first', 'customers'],
        outputs: 'joined',
        name: 'join',
      }),
      node((a: unknown) => a, { inputs: 'orders', outputs: 'o', name: 'orders' }),
    ]);
    const error = await runPipelineLocally({
      pipeline: p,
      catalog: new DataCatalog({}),
      run,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingInputsError);
    expect((error as Error).message).toMatch(/customers, orders/);
    expect(ran).toBe(false);
  });
});
