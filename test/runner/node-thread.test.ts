import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import type { RunInfo } from '../../src/hooks/types.js';
import type { Node } from '../../src/pipeline/node.js';
import {
  NodeRunError,
  NodeThreadError,
  NonErrorThrownError,
  UncloneableValueError,
} from '../../src/runner/errors.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { NodeThreadPool, threadExecutor } from '../../src/runner/node-thread.js';
import { runNode } from '../../src/runner/run-node.js';
import { waitFor } from '../support/worker-process.js';
import { threadNodes } from './fixtures/thread-project/temporal-mlflow.config.js';

const projectDir = join(import.meta.dirname, 'fixtures', 'thread-project');
const run: RunInfo = {
  runId: 'thread-test',
  pipelineName: 'threads',
  env: 'local',
  projectDir,
  runtimeParams: {},
};
const nodeNamed = (name: string): Node => threadNodes.node(name);

let pool: NodeThreadPool;
beforeAll(async () => {
  pool = new NodeThreadPool({ maxIdleThreads: 2 });
  // Loading the TypeScript project in a thread takes a second or two on a busy machine.
  await pool.prestart(projectDir, 2);
});
afterAll(async () => {
  await pool.close();
});

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** runNode with the thread executor on a memory catalog holding `inputs`. */
function runInThread(
  name: string,
  inputs: Record<string, unknown>,
  signal?: AbortSignal,
  threads: NodeThreadPool = pool,
) {
  const node = nodeNamed(name);
  const datasets: Record<string, MemoryDataset> = {};
  const parameters: Record<string, unknown> = {};
  for (const [dataset, data] of Object.entries(inputs)) {
    if (dataset.startsWith('params:')) parameters[dataset.slice('params:'.length)] = data;
    else datasets[dataset] = new MemoryDataset({ data, copyMode: 'assign' });
  }
  for (const dataset of node.outputs) datasets[dataset] = new MemoryDataset();
  return runNode({
    node,
    catalog: new DataCatalog(datasets, parameters),
    hooks: [],
    run,
    execute: threadExecutor({ pool: threads }),
    signal,
  });
}

describe('node functions in worker threads', () => {
  it('keep the main event loop free: a setInterval ticks while a node blocks its thread for 3 s', async () => {
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 50);
    const started = performance.now();
    try {
      const outputs = await runInThread('busy', { 'params:busy_ms': 3_000 });
      expect(outputs.busy_result).toMatchObject({ isMainThread: false });
    } finally {
      clearInterval(timer);
    }
    const gaps = ticks.map((tick, i) => tick - (ticks[i - 1] ?? started));
    // Inline, the loop would tick once, after 3 s. Generous bounds: two shared cores.
    expect(ticks.length).toBeGreaterThan(20);
    expect(Math.max(...gaps)).toBeLessThan(1_000);
  });

  it('copy inputs by structured clone and move typed arrays back', async () => {
    const { vector } = await runInThread('make_vector', { 'params:n': 4 });
    // (Jest's test realm has its own Float64Array: compare tags, not classes.)
    expect(Object.prototype.toString.call(vector)).toBe('[object Float64Array]');
    expect([...(vector as Float64Array)]).toEqual([0, 0.5, 1, 1.5]);
    const settings = { scale: 2, tags: new Set(['b', 'a']), at: new Date('2024-05-01T00:00:00Z') };
    const { summary } = await runInThread('summarize', { vector, settings });
    expect(summary).toEqual({
      sum: 6,
      tags: ['a', 'b'],
      year: 2024,
      isMainThread: false,
      threadId: expect.any(Number),
    });
    // Inputs are copied, never moved: the caller's values stay usable.
    expect((vector as Float64Array).length).toBe(4);
  });

  it('rethrow errors with their name, message, fields and cause', async () => {
    const error = await failureOf(runInThread('coded_error', {}));
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'CodedError', message: 'bad rows', code: 42 });
    // Temporal types failures by constructor name (nonRetryableErrorTypes depend on it).
    expect((error as Error).constructor.name).toBe('CodedError');
    expect((error as Error).cause).toMatchObject({ name: 'RangeError', message: 'row 7' });
    expect((error as Error).stack).toContain('temporal-mlflow.config.ts');
  });

  it('keep a thrown non-Error value', async () => {
    const error = await failureOf(runInThread('throws_object', {}));
    expect(error).toBeInstanceOf(NonErrorThrownError);
    expect((error as NonErrorThrownError).value).toEqual({ code: 42, detail: ['a', 'b'] });
    expect((error as Error).message).toBe(
      `Node 'throws_object' threw a value that is not an Error: {"code":42,"detail":["a","b"]}`,
    );
  });

  it.each([
    [
      'a class instance returned',
      'fit_class',
      { weights: [1, 2] },
      'output',
      'model',
      "Node 'fit_class' cannot run in a worker thread: output 'model' holds an instance of class LinearModel",
    ],
    [
      'a function inside a returned tuple',
      'fit_function',
      { weights: [3] },
      'output',
      'predictor',
      "Node 'fit_function' cannot run in a worker thread: output 'predictor' holds a function predict at predictor.predict",
    ],
    [
      'a class instance given',
      'use_model',
      {
        model: new (class LinearModel {
          weights = [1];
        })(),
      },
      'input',
      'model',
      "Node 'use_model' cannot run in a worker thread: input 'model' holds an instance of class LinearModel",
    ],
  ])(
    'refuse %s with a typed error naming node and dataset',
    async (_, name, inputs, direction, dataset, message) => {
      const error = await failureOf(runInThread(name, inputs));
      expect(error).toBeInstanceOf(UncloneableValueError);
      expect(error).toMatchObject({ nodeName: name, direction, dataset });
      expect((error as Error).message).toContain(message);
      expect((error as Error).message).toContain('node(fn, { ..., thread: false })');
    },
  );

  it('run a node declared with thread: false on the event loop, class instances included', async () => {
    class LinearModel {
      constructor(readonly weights: number[]) {}
      predict(x: number): number {
        return this.weights[0]! * x;
      }
    }
    const { inline_prediction } = await runInThread('use_model_inline', {
      model: new LinearModel([5]),
    });
    expect(inline_prediction).toEqual({ prediction: 10, isMainThread, threadId: 0 });
  });

  it('leave async nodes on the event loop, where they wait without holding a thread', async () => {
    await expect(runInThread('async_node', {})).resolves.toEqual({ async_is_main: true });
  });

  it('run an async node in a thread when the pool is asked directly', async () => {
    await expect(
      pool.run({ projectDir, pipeline: 'threads', node: 'async_node', args: [] }),
    ).resolves.toBe(false); // the function's own result: isMainThread in the thread
  });

  it('run at most maxThreads nodes of a project at once; the others wait for a free thread', async () => {
    const small = new NodeThreadPool({ maxThreads: 1 });
    try {
      const results = await Promise.all(
        [0, 1, 2].map(() => runInThread('busy', { 'params:busy_ms': 200 }, undefined, small)),
      );
      expect(results).toHaveLength(3);
      // The one thread: a spare could never run a node beside it, so none was started.
      expect(small.size).toBe(1);
    } finally {
      await small.close();
    }
  });

  it('see process.env as the caller sees it now, not as it was when the thread started', async () => {
    for (const value of ['first', 'second']) {
      process.env.NODE_THREAD_TEST_VALUE = value;
      await expect(runInThread('read_env', {})).resolves.toEqual({ env_value: value });
    }
    delete process.env.NODE_THREAD_TEST_VALUE;
    await expect(runInThread('read_env', {})).resolves.toEqual({ env_value: null });
  });

  it("share the process's own environment: nodes see it live and may set it, with nothing sent per call", async () => {
    // Under Jest process.env is a proxy of the test file's; a plain Node process shows the shared case.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'shared-env-threads.ts')],
      {
        timeout: 60_000,
        killSignal: 'SIGKILL',
        env: { ...process.env, NODE_THREAD_TEST_VALUE: '' },
      },
    );
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      seen: ['first', 'second', null, 'from a node'],
      threads: 0,
    });
  }, 90_000);

  it('terminate the thread when the signal aborts, even during a busy loop', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const controller = new AbortController();
    const single = new NodeThreadPool({ spareThreads: 0 });
    try {
      const running = failureOf(
        runInThread('spin', { flag, 'params:spin_ms': 60_000 }, controller.signal, single),
      );
      await waitFor(() => Atomics.load(flag, 0) === 1, 'the spin node to start', 30_000);
      expect(single.size).toBe(1);
      controller.abort(new Error('cancelled by the test'));
      expect(await running).toEqual(new Error('cancelled by the test'));
      await waitFor(() => single.size === 0, 'the aborted thread to end', 10_000);
    } finally {
      await single.close();
    }
    Atomics.store(flag, 1, 1); // would stop the spin, had the thread survived
  });

  it('let the local runner stop a run when its signal aborts, terminating running threads', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(8));
    const controller = new AbortController();
    const running = failureOf(
      runPipelineLocally({
        pipeline: threadNodes.onlyNodes('spin', 'busy'),
        catalog: new DataCatalog(
          { flag: new MemoryDataset({ data: flag, copyMode: 'assign' }) },
          { spin_ms: 60_000, busy_ms: 1 },
        ),
        run,
        execute: threadExecutor({ pool }),
        maxConcurrency: 1,
        signal: controller.signal,
      }),
    );
    await waitFor(() => Atomics.load(flag, 0) === 1, 'the spin node to start', 30_000);
    controller.abort(new Error('stop'));
    const error = await running;
    expect(error).toBeInstanceOf(NodeRunError);
    expect((error as NodeRunError).cause).toEqual(new Error('stop'));
  });

  it('name the node and the project when the thread cannot find the node', async () => {
    const error = await failureOf(
      pool.run({ projectDir, pipeline: 'threads', node: 'no_such_node', args: [] }),
    );
    expect(error).toBeInstanceOf(NodeThreadError);
    expect((error as Error).message).toMatch(
      /^Node 'no_such_node' of pipeline 'threads' could not run in a worker thread: the thread's project has no node 'no_such_node' in pipeline 'threads'/,
    );
  });

  it('give the second of two parallel nodes the spare thread already loading, on a cold pool, and start none beyond maxThreads', async () => {
    const cold = new NodeThreadPool({ spareThreads: 1, maxIdleThreads: 4, maxThreads: 2 });
    try {
      const result = await runPipelineLocally({
        pipeline: threadNodes.onlyNodes('busy', 'busy_2'),
        catalog: new DataCatalog({}, { busy_ms: 1_000 }),
        run,
        execute: threadExecutor({ pool: cold }),
      });
      expect(Object.keys(result.freeOutputs).sort()).toEqual(['busy_result', 'busy_result_2']);
      // The first node's thread and the spare the second node took: no third thread started cold
      // for the second node, and no spare beside two running nodes, which are maxThreads (the
      // cores): it could only load the project for nothing. (Cold loads take unequal times: no
      // overlap check.)
      expect(cold.size).toBe(2);
    } finally {
      await cold.close();
    }
  });

  it('start no spare when two warm threads take two parallel nodes: those are all the threads maxThreads lets run', async () => {
    const warm = new NodeThreadPool({ spareThreads: 1, maxIdleThreads: 4, maxThreads: 2 });
    try {
      await warm.prestart(projectDir, 2);
      await runPipelineLocally({
        pipeline: threadNodes.onlyNodes('busy', 'busy_2'),
        catalog: new DataCatalog({}, { busy_ms: 300 }),
        run,
        execute: threadExecutor({ pool: warm }),
      });
      // Before: a third thread loaded the project for every parallel step of a training (about
      // 0.25 s of CPU each on a 2-core worker), then idled or was ended.
      expect(warm.size).toBe(2);
      expect(warm.idle).toBe(2);
    } finally {
      await warm.close();
    }
  });

  it('keep spareThreads + 1 idle threads past the idle timeout: the next node finds its project loaded', async () => {
    const quick = new NodeThreadPool({ idleTimeoutMs: 1, maxIdleThreads: 4, spareThreads: 1 });
    try {
      // Two parallel nodes: two threads running them and a spare loading, three idle afterwards.
      await runPipelineLocally({
        pipeline: threadNodes.onlyNodes('busy', 'busy_2'),
        catalog: new DataCatalog({}, { busy_ms: 1 }),
        run,
        execute: threadExecutor({ pool: quick }),
      });
      await waitFor(
        () => quick.size === 2 && quick.idle === 2,
        'the idle thread beyond the two kept ones to end',
        30_000,
      );
      await runInThread('busy', { 'params:busy_ms': 1 }, undefined, quick);
      // The node took a kept thread, and the other one is its spare: no thread started.
      expect(quick.size).toBe(2);
    } finally {
      await quick.close();
    }
  });

  it('let the local runner run CPU-bound branches at the same time', async () => {
    await pool.prestart(projectDir, 2); // two warm threads: neither node waits for a project load
    const result = await runPipelineLocally({
      pipeline: threadNodes.onlyNodes('busy', 'busy_2'),
      catalog: new DataCatalog({}, { busy_ms: 1_500 }),
      run,
      execute: threadExecutor({ pool }),
    });
    type Busy = { start: number; end: number; threadId: number };
    const a = result.freeOutputs.busy_result as Busy;
    const b = result.freeOutputs.busy_result_2 as Busy;
    expect(a.threadId).not.toBe(b.threadId);
    // Overlap: each loop started before the other ended (inline, they run one after the other).
    expect(a.start).toBeLessThan(b.end);
    expect(b.start).toBeLessThan(a.end);
  });
});
