import { tableFromArrays } from 'apache-arrow';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MemoryDataset } from '../../src/datasets/memory.js';
import type { RunInfo } from '../../src/hooks/types.js';
import { isPipelineMl } from '../../src/model/pipeline-ml.js';
import { node, pipeline } from '../../src/pipeline/index.js';
import type { Pipeline } from '../../src/pipeline/pipeline.js';
import { LocalCacheStore } from '../../src/runner/cache-store.js';
import { runPipelineLocally, type RunProgress } from '../../src/runner/local-runner.js';
import {
  CACHE_TAG,
  contentHash,
  isPlainData,
  NO_CACHE_TAG,
  NodeCache,
  nodeCodeHash,
} from '../../src/runner/node-cache.js';
import { inlineExecutor, type NodeExecutor } from '../../src/runner/run-node.js';
import { Session } from '../../src/session.js';
import { copyExampleProject } from '../support/example-model.js';

const TRAINING_NODES = [
  'evaluate_routing',
  'fit_vocabulary',
  'route_test_tickets',
  'split_tickets',
  'train_classifier',
  'vectorize_test',
  'vectorize_train',
];

const runOf = (runId: string, projectDir = '.'): RunInfo => ({
  runId,
  pipelineName: '__default__',
  env: 'local',
  projectDir,
  runtimeParams: {},
});

/** An executor that records the nodes whose functions really ran. */
function countingExecutor(): { execute: NodeExecutor; executed: string[] } {
  const executed: string[] = [];
  return {
    executed,
    execute: async (call) => {
      executed.push(call.node.name);
      return inlineExecutor(call);
    },
  };
}

const cacheDirs: string[] = [];
function freshCache(): NodeCache {
  const dir = mkdtempSync(join(tmpdir(), 'node-cache-test-'));
  cacheDirs.push(dir);
  return new NodeCache({ store: new LocalCacheStore(dir), warn: (message) => fail(message) });
}
afterAll(() => {
  for (const dir of cacheDirs) rmSync(dir, { recursive: true, force: true });
});

/** The example's training pipeline in a (possibly edited) copy, run once with `cache`. */
async function trainExample(
  projectDir: string,
  cache: NodeCache | undefined,
  runtimeParams: Record<string, unknown> = {},
) {
  const session = await Session.open({ projectDir, runtimeParams, environment: {} });
  const registered = session.pipeline('__default__');
  if (!isPipelineMl(registered)) throw new Error('the example should be a PipelineML');
  const counter = countingExecutor();
  const progress: RunProgress[] = [];
  const result = await runPipelineLocally({
    pipeline: registered.training as Pipeline,
    // No MLflow here: the metrics stay in memory.
    catalog: session.catalog.withDatasets({ routing_metrics: new MemoryDataset() }),
    run: { ...runOf(`run-${Math.random()}`, projectDir), runtimeParams },
    execute: counter.execute,
    cache,
    onProgress: (event) => progress.push(event),
  });
  return { result, executed: counter.executed.sort(), progress };
}

const read = (projectDir: string, file: string): string =>
  readFileSync(join(projectDir, 'data', file), 'utf8');

describe('the node cache under the local runner', () => {
  it('runs nothing the second time an unchanged project trains, and rewrites its persisted outputs from the cache', async () => {
    const projectDir = copyExampleProject();
    const cache = freshCache();
    const first = await trainExample(projectDir, cache);
    expect(first.executed).toEqual(TRAINING_NODES);
    expect(first.result.cachedNodes).toEqual({});
    const classifier = read(projectDir, '06_models/classifier.json');
    const answers = read(projectDir, '07_model_output/test_answers.json');
    // The catalog stays true: outputs deleted since are written back from the cache.
    rmSync(join(projectDir, 'data', '06_models', 'classifier.json'));
    rmSync(join(projectDir, 'data', '07_model_output', 'test_answers.json'));

    const second = await trainExample(projectDir, cache);
    expect(second.executed).toEqual([]);
    expect(Object.keys(second.result.cachedNodes).sort()).toEqual(TRAINING_NODES);
    expect(read(projectDir, '06_models/classifier.json')).toBe(classifier);
    expect(read(projectDir, '07_model_output/test_answers.json')).toBe(answers);
    const completed = second.progress.filter((event) => event.event === 'node-completed');
    expect(completed.every((event) => event.cached === true)).toBe(true);
    expect(completed.at(-1)!.cachedCount).toBe(TRAINING_NODES.length);
  });

  it("re-runs only the nodes downstream of the classifier's parameter when it changes", async () => {
    const projectDir = copyExampleProject();
    const cache = freshCache();
    await trainExample(projectDir, cache);
    const changed = await trainExample(projectDir, cache, { model: { smoothing: 0.5 } });
    expect(changed.executed).toEqual([
      'evaluate_routing',
      'route_test_tickets',
      'train_classifier',
    ]);
    expect(Object.keys(changed.result.cachedNodes).sort()).toEqual([
      'fit_vocabulary',
      'split_tickets',
      'vectorize_test',
      'vectorize_train',
    ]);
    // Back to the first value: everything comes from the cache again.
    const back = await trainExample(projectDir, cache);
    expect(back.executed).toEqual([]);
  });

  it('invalidates a changed node function and its descendants, and nothing upstream', async () => {
    const original = copyExampleProject();
    const edited = copyExampleProject();
    const nodesFile = join(edited, 'src', 'nodes.ts');
    const source = readFileSync(nodesFile, 'utf8');
    // fit_vocabulary now drops a token: its output, so its descendants' inputs, change.
    const before = 'return { tokens: tokens.sort() };';
    expect(source).toContain(before);
    writeFileSync(nodesFile, source.replace(before, 'return { tokens: tokens.sort().slice(1) };'));
    const cache = freshCache();
    await trainExample(original, cache);
    const rerun = await trainExample(edited, cache);
    expect(rerun.executed).toEqual(TRAINING_NODES.filter((name) => name !== 'split_tickets'));
    expect(Object.keys(rerun.result.cachedNodes)).toEqual(['split_tickets']);
  });

  it('caches nodes tagged deterministic (all with nodes: all), never those tagged no-cache', async () => {
    const calls: string[] = [];
    const cache = freshCache();
    const build = () =>
      pipeline([
        node((x: number) => (calls.push('double'), x * 2), {
          inputs: 'x',
          outputs: 'y',
          name: 'double',
          tags: [CACHE_TAG],
        }),
        node((y: number) => (calls.push('untagged'), y), {
          inputs: 'y',
          outputs: 'u',
          name: 'untagged',
        }),
        node((y: number) => (calls.push('stamp'), y + 1), {
          inputs: 'y',
          outputs: 'z',
          name: 'stamp',
          tags: [CACHE_TAG, NO_CACHE_TAG],
        }),
      ]);
    const run = (withCache: NodeCache | undefined) =>
      runPipelineLocally({
        pipeline: build(),
        catalog: new DataCatalog({ x: new MemoryDataset({ data: 20 }) }),
        run: runOf('tagged'),
        cache: withCache,
      });
    await run(cache);
    const second = await run(cache);
    expect(second.freeOutputs).toEqual({ z: 41, u: 40 });
    expect(second.cachedNodes).toEqual({ double: 'tagged' });
    const all = new NodeCache({ store: cache.store, nodes: 'all' });
    expect((await run(all)).cachedNodes).toEqual({ double: 'tagged' });
    expect((await run(all)).cachedNodes).toEqual({ double: 'tagged', untagged: 'tagged' });
    await run(undefined);
    const order = (names: string[]) => [...names].sort();
    expect(calls.slice(0, 3).sort()).toEqual(order(['double', 'stamp', 'untagged']));
    expect(calls.slice(3, 5).sort()).toEqual(order(['stamp', 'untagged']));
    expect(calls.slice(5, 7).sort()).toEqual(order(['stamp', 'untagged']));
    expect(calls.slice(7, 8)).toEqual(['stamp']);
    expect(calls.slice(8).sort()).toEqual(order(['double', 'stamp', 'untagged']));
  });

  it('never caches a node whose inputs or outputs the codec would not give back as they are', async () => {
    class Fitted {
      constructor(readonly weight: number) {}
      predict(x: number) {
        return x * this.weight;
      }
    }
    const calls: string[] = [];
    const build = () =>
      pipeline([
        node((w: number) => (calls.push('fit'), new Fitted(w)), {
          inputs: 'w',
          outputs: 'model',
          name: 'fit',
          tags: CACHE_TAG,
        }),
        node((model: Fitted) => (calls.push('use'), model.predict(2)), {
          inputs: 'model',
          outputs: 'prediction',
          name: 'use',
          tags: CACHE_TAG,
        }),
      ]);
    const cache = freshCache();
    for (let i = 0; i < 2; i++) {
      const result = await runPipelineLocally({
        pipeline: build(),
        catalog: new DataCatalog({ w: new MemoryDataset({ data: 3 }) }),
        run: runOf('classes'),
        cache,
      });
      expect(result.freeOutputs).toEqual({ prediction: 6 });
    }
    expect(calls).toEqual(['fit', 'use', 'fit', 'use']);
  });
});

describe('node cache keys', () => {
  it.each([
    ['a number', 1, true],
    [
      'nested plain data',
      { a: [1, 'x', null, new Date(0)], m: new Map([[1, new Set([2])]]) },
      true,
    ],
    ['a typed array', new Float64Array([1, 2]), true],
    ['an object without prototype', Object.create(null) as object, true],
    ['a function', () => 1, false],
    ['a class instance inside an array', [new (class Model {})()], false],
    ['a Buffer (it would come back as a Uint8Array)', Buffer.from('x'), false],
  ])('tells whether %s is plain data', (_what, value, plain) => {
    expect(isPlainData(value)).toBe(plain);
  });

  it('hash the same value the same way, and another value another way', () => {
    expect(contentHash({ a: [1, 2] })).toBe(contentHash({ a: [1, 2] }));
    expect(contentHash({ a: [1, 2] })).not.toBe(contentHash({ a: [2, 1] }));
  });

  it('hash Arrow tables by content (without encoding them), and tell them apart', () => {
    const table = (a: number[], b: string[]) => tableFromArrays({ a: Float64Array.from(a), b });
    expect(isPlainData(table([1], ['x']))).toBe(true);
    expect(contentHash(table([1, 2], ['x', 'y']))).toBe(contentHash(table([1, 2], ['x', 'y'])));
    expect(contentHash(table([1, 2], ['x', 'y']))).not.toBe(contentHash(table([1, 3], ['x', 'y'])));
    expect(contentHash(table([1, 2], ['x', 'y']))).not.toBe(contentHash(table([1, 2], ['x', 'z'])));
    expect(contentHash(tableFromArrays({ a: Float64Array.from([1, 2]) }))).not.toBe(
      contentHash(tableFromArrays({ c: Float64Array.from([1, 2]) })),
    );
  });

  it('change with the function source, the wiring and the tags of a node', () => {
    const base = node((x: number) => x + 1, { inputs: 'x', outputs: 'y', name: 'n' });
    const hashes = [
      base,
      node((x: number) => x + 2, { inputs: 'x', outputs: 'y', name: 'n' }),
      node((x: number) => x + 1, { inputs: ['x'], outputs: 'y', name: 'n' }),
      node((x: number) => x + 1, { inputs: 'x', outputs: 'z', name: 'n' }),
      node((x: number) => x + 1, { inputs: 'x', outputs: 'y', name: 'n', tags: 'v2' }),
    ].map(nodeCodeHash);
    expect(new Set(hashes).size).toBe(hashes.length);
    expect(nodeCodeHash(node((x: number) => x + 1, { inputs: 'x', outputs: 'y', name: 'n' }))).toBe(
      hashes[0],
    );
  });
});
