/** The MLflow tracking hook, called directly, against the real MLflow server. */
import { jest } from '@jest/globals';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import type { NodeInfo, RunInfo } from '../../src/hooks/types.js';
import {
  MlflowError,
  MlflowInvalidParameterError,
  activeRun,
  createMlflowTrackingHook,
  experimentUrl,
  modelUrl,
  nodeParams,
  resolveMlflowConfig,
  runUrl,
  tagsToRecord,
  withActiveRun,
} from '../../src/mlflow/index.js';
import type { ActiveRunSlot, MlflowTrackingHook } from '../../src/mlflow/index.js';
import { realClient, trackingUri, uniqueName } from './support.js';

const client = realClient();
const catalog = new DataCatalog();

function configFor(tracking: Record<string, unknown> = {}) {
  return resolveMlflowConfig(
    { tracking },
    { projectName: 'hook-tests', env: { MLFLOW_TRACKING_URI: trackingUri() } },
  );
}

function runInfo(overrides: Partial<RunInfo> = {}): RunInfo {
  return {
    runId: uniqueName('session'),
    pipelineName: 'training',
    env: 'local',
    projectDir: '/tmp/p',
    runtimeParams: {},
    ...overrides,
  };
}

function nodeInfo(inputs: string[], name = 'fit'): NodeInfo {
  return { name, inputs, outputs: [], tags: [] };
}

/** beforePipelineRun, the given nodes' beforeNodeRun and afterNodeRun, then afterPipelineRun. */
async function track(
  hook: MlflowTrackingHook,
  run: RunInfo,
  nodes: [string[], Record<string, unknown>][] = [],
): Promise<void> {
  await hook.beforePipelineRun({ run, pipeline: undefined, catalog });
  for (const [inputs, values] of nodes) await runNode(hook, run, nodeInfo(inputs), values);
  await hook.afterPipelineRun({ run, pipeline: undefined, catalog });
}

/** A node as the runner calls the hook around it: beforeNodeRun, then afterNodeRun. */
async function runNode(
  hook: MlflowTrackingHook,
  run: RunInfo,
  node: NodeInfo,
  inputs: Record<string, unknown>,
): Promise<void> {
  await hook.beforeNodeRun({ run, node, inputs, catalog });
  await hook.afterNodeRun({ run, node, inputs, outputs: {}, catalog });
}

describe('nodeParams', () => {
  test.each([
    [['params:alpha', 'data'], { 'params:alpha': 0.5, data: [1] }, { alpha: 0.5 }],
    [['params:model.depth'], { 'params:model.depth': 3 }, { 'model.depth': 3 }],
    [['parameters'], { parameters: { a: 1, b: { c: 2 } } }, { a: 1, b: { c: 2 } }],
    [['data'], { data: 'x' }, {}],
  ])('takes %j from the node inputs', (inputs, values, expected) => {
    expect(nodeParams({ inputs }, values)).toEqual(expected);
  });
});

describe('MLflow UI links', () => {
  test('runUrl, modelUrl and experimentUrl point at the MLflow 3 UI routes, in its model-training mode', () => {
    expect(runUrl('http://h:5000/', '3', 'abc')).toBe(
      'http://h:5000/#/experiments/3/runs/abc?workflowType=machine_learning',
    );
    expect(modelUrl('http://h:5000', '3', 'm-123')).toBe(
      'http://h:5000/#/experiments/3/models/m-123?workflowType=machine_learning',
    );
    expect(experimentUrl('http://h:5000', '3')).toBe(
      'http://h:5000/#/experiments/3/runs?workflowType=machine_learning',
    );
  });
});

describe('the tracking hook', () => {
  test('names the run from tracking.run.name and creates the experiment with its kwargs', async () => {
    const name = uniqueName('hook-exp');
    const hook = createMlflowTrackingHook({
      client,
      config: configFor({
        experiment: { name, create_experiment_kwargs: { tags: { team: 'ds' } } },
        run: { name: 'nightly' },
      }),
    });
    const slot: ActiveRunSlot = { client };
    await withActiveRun(slot, () => track(hook, runInfo()));
    const experiment = (await client.experiments.getByName(name))!;
    expect(tagsToRecord(experiment.tags)).toMatchObject({ team: 'ds' });
    const run = await client.runs.get(slot.runId!);
    expect(run.info.run_name).toBe('nightly');
    expect(run.info.experiment_id).toBe(experiment.experiment_id);
    expect(run.info.status).toBe('FINISHED');
  });

  test('restores a deleted experiment before starting the run', async () => {
    const name = uniqueName('hook-deleted');
    const id = await client.experiments.create(name);
    await client.experiments.delete(id);
    const hook = createMlflowTrackingHook({ client, config: configFor({ experiment: { name } }) });
    await withActiveRun({ client }, () => track(hook, runInfo()));
    expect((await client.experiments.get(id)).lifecycle_stage).toBe('active');
    expect((await client.runs.search({ experimentIds: [id] })).items).toHaveLength(1);
  });

  test('logs to the run Temporal created and leaves ending it to Temporal', async () => {
    const experimentId = (await client.experiments.getOrCreate(uniqueName('hook-temporal')))
      .experiment_id;
    const created = await client.runs.create({ experimentId, runName: 'workflow' });
    const hook = createMlflowTrackingHook({ client, config: configFor() });
    const run = runInfo({ mlflowRunId: created.info.run_id });
    // A node activity scope: the run id is known, beforePipelineRun never ran in this process.
    await withActiveRun({ client, runId: created.info.run_id }, () =>
      runNode(hook, run, nodeInfo(['params:alpha']), { 'params:alpha': 0.3 }),
    );
    await track(hook, run);
    const after = await client.runs.get(created.info.run_id);
    expect(after.info.status).toBe('RUNNING');
    expect(tagsToRecord(after.data.params)).toEqual({ alpha: '0.3' });
  });

  test("with runParams, a run's first node logs every node's params in one batch; without them, its own", async () => {
    const experimentId = (await client.experiments.getOrCreate(uniqueName('hook-run-params')))
      .experiment_id;
    const paramsOf = async (runId: string) =>
      tagsToRecord((await client.runs.get(runId)).data.params);
    const created = await client.runs.create({ experimentId, runName: 'workflow' });
    const hook = createMlflowTrackingHook({
      client,
      config: configFor(),
      runParams: () => Promise.resolve({ alpha: 0.3, beta: 2 }),
    });
    const logBatch = jest.spyOn(client.runs, 'logBatch');
    try {
      const run = runInfo({ mlflowRunId: created.info.run_id });
      await runNode(hook, run, nodeInfo(['params:alpha'], 'first'), { 'params:alpha': 0.3 });
      expect(await paramsOf(created.info.run_id)).toEqual({ alpha: '0.3', beta: '2' });
      await runNode(hook, run, nodeInfo(['params:beta'], 'second'), { 'params:beta': 2 });
      expect(logBatch).toHaveBeenCalledTimes(1);
    } finally {
      logBatch.mockRestore();
    }
    // The run's params unknown (runParams fails): each node logs its own.
    const other = await client.runs.create({ experimentId, runName: 'workflow' });
    const failing = createMlflowTrackingHook({
      client,
      config: configFor(),
      runParams: () => Promise.reject(new Error('no plan here')),
    });
    const run = runInfo({ mlflowRunId: other.info.run_id });
    await runNode(failing, run, nodeInfo(['params:alpha'], 'first'), { 'params:alpha': 1 });
    expect(await paramsOf(other.info.run_id)).toEqual({ alpha: '1' });
  });

  test('logs the same params once when nodes (in this process or in others) log them concurrently', async () => {
    const experimentId = (await client.experiments.getOrCreate(uniqueName('hook-concurrent')))
      .experiment_id;
    const created = await client.runs.create({ experimentId, runName: 'workflow' });
    const run = runInfo({ mlflowRunId: created.info.run_id });
    const inputs = { 'params:alpha': 0.3, 'params:depth': 4 };
    const node = (name: string) => nodeInfo(Object.keys(inputs), name);
    // Two nodes of one hook, and two more hooks standing for other worker processes.
    const hook = createMlflowTrackingHook({ client, config: configFor() });
    const others = [1, 2].map(() => createMlflowTrackingHook({ client, config: configFor() }));
    await Promise.all([
      runNode(hook, run, node('a'), inputs),
      runNode(hook, run, node('b'), inputs),
      ...others.map((other, i) => runNode(other, run, node(`other-${i}`), inputs)),
    ]);
    expect(tagsToRecord((await client.runs.get(created.info.run_id)).data.params)).toEqual({
      alpha: '0.3',
      depth: '4',
    });
  });

  test('reuses the run of tracking.run.id and ends it', async () => {
    const experimentId = (await client.experiments.getOrCreate(uniqueName('hook-reuse')))
      .experiment_id;
    const existing = await client.runs.create({ experimentId, runName: 'kept' });
    await client.runs.end(existing.info.run_id, 'FINISHED');
    const hook = createMlflowTrackingHook({
      client,
      config: configFor({ run: { id: existing.info.run_id } }),
    });
    const slot: ActiveRunSlot = { client };
    await withActiveRun(slot, () =>
      track(hook, runInfo(), [[['params:beta'], { 'params:beta': 'b' }]]),
    );
    expect(slot.runId).toBe(existing.info.run_id);
    const run = await client.runs.get(existing.info.run_id);
    expect(run.info.status).toBe('FINISHED');
    expect(run.info.run_name).toBe('kept');
    expect(tagsToRecord(run.data.params)).toEqual({ beta: 'b' });
  });

  test('logs each param once, sanitises names, and refuses a changed value naming the param', async () => {
    const hook = createMlflowTrackingHook({
      client,
      config: configFor({ experiment: { name: uniqueName('hook-params') } }),
    });
    const run = runInfo();
    const slot: ActiveRunSlot = { client };
    await withActiveRun(slot, async () => {
      await hook.beforePipelineRun({ run, pipeline: undefined, catalog });
      const before = (inputs: Record<string, unknown>) =>
        runNode(hook, run, nodeInfo(Object.keys(inputs), 'n'), inputs);
      await before({ 'params:learning rate%': 0.1, 'params:depth': 3, parameters: { depth: 3 } });
      await before({ 'params:learning rate%': 0.1 });
      await expect(before({ 'params:learning rate%': 0.2 })).rejects.toThrow(
        /Parameter 'learning rate_' of node 'n' has the value "0\.2", but "0\.1" was already logged/,
      );
      await hook.afterPipelineRun({ run, pipeline: undefined, catalog });
    });
    expect(tagsToRecord((await client.runs.get(slot.runId!)).data.params)).toEqual({
      'learning rate_': '0.1',
      depth: '3',
    });

    // Another process (no memory of what was logged): the server refuses, and the error names the
    // param when the node has run (the params are sent while it runs).
    const other = createMlflowTrackingHook({ client, config: configFor() });
    const error = await runNode(
      other,
      runInfo({ mlflowRunId: slot.runId! }),
      nodeInfo(['params:depth'], 'm'),
      { 'params:depth': 4 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MlflowInvalidParameterError);
    expect((error as Error).message).toMatch(/MLflow refused parameters 'depth' of node 'm'/);
  });

  test('starts a nested run under the active one and gives the parent back afterwards', async () => {
    const experimentId = (await client.experiments.getOrCreate(uniqueName('hook-nested')))
      .experiment_id;
    const parent = await client.runs.create({ experimentId, runName: 'parent' });
    const slot: ActiveRunSlot = { client, runId: parent.info.run_id };
    let childId: string | undefined;
    const hook = createMlflowTrackingHook({ client, config: configFor() });
    const run = runInfo();
    await withActiveRun(slot, async () => {
      await hook.beforePipelineRun({ run, pipeline: undefined, catalog });
      childId = activeRun()!.runId;
      await hook.afterPipelineRun({ run, pipeline: undefined, catalog });
    });
    expect(childId).not.toBe(parent.info.run_id);
    expect(slot.runId).toBe(parent.info.run_id);
    expect(tagsToRecord((await client.runs.get(childId!)).data.tags)['mlflow.parentRunId']).toBe(
      parent.info.run_id,
    );

    const flat = createMlflowTrackingHook({
      client,
      config: configFor({ run: { nested: false } }),
    });
    await expect(
      withActiveRun(slot, () =>
        flat.beforePipelineRun({ run: runInfo(), pipeline: undefined, catalog }),
      ),
    ).rejects.toThrow(/tracking\.run\.nested is false/);
  });

  test("sends a node's params as it starts, without making it wait: afterNodeRun waits for them", async () => {
    const sends: { resolve: () => void; reject: (error: Error) => void; body: unknown }[] = [];
    const held = realClient();
    Object.assign(held.runs, {
      logBatch: (_runId: string, body: unknown) =>
        new Promise<void>((resolve, reject) => sends.push({ resolve, reject, body })),
    });
    const warnings: string[] = [];
    const hook = createMlflowTrackingHook({
      client: held,
      config: configFor(),
      warn: (message) => warnings.push(message),
    });
    const run = runInfo({ mlflowRunId: 'temporal-made' });
    const node = nodeInfo(['params:alpha'], 'fit');
    const inputs = { 'params:alpha': 0.3 };
    // beforeNodeRun returns while the batch is still unanswered: the node runs meanwhile.
    await hook.beforeNodeRun({ run, node, inputs, catalog });
    expect(sends.map((send) => send.body)).toEqual([
      { params: [{ key: 'alpha', value: '0.3' }], tags: {} },
    ]);
    let after = false;
    const afterRun = hook
      .afterNodeRun({ run, node, inputs, outputs: {}, catalog })
      .then(() => void (after = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(after).toBe(false);
    sends[0]!.resolve();
    await afterRun;

    // A batch that fails fails the node after it ran; after a failed node it is only a warning.
    const other = nodeInfo(['params:beta'], 'score');
    await hook.beforeNodeRun({ run, node: other, inputs: { 'params:beta': 1 }, catalog });
    sends[1]!.reject(new MlflowError('tracking server went away'));
    await expect(
      hook.afterNodeRun({ run, node: other, inputs: {}, outputs: {}, catalog }),
    ).rejects.toThrow('tracking server went away');
    const third = nodeInfo(['params:gamma'], 'report');
    await hook.beforeNodeRun({ run, node: third, inputs: { 'params:gamma': 2 }, catalog });
    sends[2]!.reject(new MlflowError('tracking server went away'));
    await hook.onNodeError({ run, node: third, inputs: {}, error: new Error('boom'), catalog });
    expect(warnings).toEqual([
      "Could not log the parameters of node 'report': tracking server went away",
    ]);
  });

  test('refuses to log params when there is no run, saying why', async () => {
    const hook = createMlflowTrackingHook({ client, config: configFor() });
    const error = await hook.beforeNodeRun!({
      run: runInfo(),
      node: nodeInfo(['params:a']),
      inputs: { 'params:a': 1 },
      catalog,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MlflowError);
    expect((error as Error).message).toMatch(/No MLflow run to log the parameters of node 'fit'/);
  });

  test('a failure to end the run FAILED is a warning, never hiding the pipeline error', async () => {
    const flaky = realClient();
    Object.assign(flaky.runs, {
      end: () => Promise.reject(new MlflowError('tracking server went away')),
    });
    const warnings: string[] = [];
    const hook = createMlflowTrackingHook({
      client: flaky,
      config: configFor({ experiment: { name: uniqueName('hook-warn') } }),
      warn: (message) => warnings.push(message),
    });
    const run = runInfo();
    await withActiveRun({ client: flaky }, async () => {
      await hook.beforePipelineRun({ run, pipeline: undefined, catalog });
      await hook.onPipelineError({
        run,
        pipeline: undefined,
        catalog,
        error: new Error('node failed'),
      });
    });
    expect(warnings).toEqual([
      expect.stringMatching(
        /Could not mark the MLflow run of pipeline 'training' FAILED: tracking server went away/,
      ),
    ]);
  });
});
