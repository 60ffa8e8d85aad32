import { WorkflowFailedError } from '@temporalio/client';
import proto from '@temporalio/proto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataCatalog } from '../../src/catalog/data-catalog.js';
import { MlflowClient } from '../../src/mlflow/client.js';
import { loadProject, getPipeline } from '../../src/project/load-project.js';
import { runPipelineLocally } from '../../src/runner/local-runner.js';
import { startTraining } from '../../src/temporal/client.js';
import { TAG_WORKFLOW_ID } from '../../src/constants.js';
import { services } from '../support/services.js';
import {
  fastNodeDefaults,
  startHarness,
  temporalTestProject,
  type TemporalHarness,
} from '../support/temporal.js';

const executionsDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-exec-'));
  process.env.TEST_EXECUTIONS_DIR = dir;
  return dir;
};
const executions = (dir: string, node: string): string[] => {
  try {
    return readFileSync(join(dir, node), 'utf8').trim().split('\n');
  } catch {
    return [];
  }
};

async function mlflowRunsOf(workflowId: string) {
  const client = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
  const experiment = await client.experiments.getByName('temporal-mlflow-integration-tests');
  if (!experiment) return [];
  const page = await client.runs.search({
    experimentIds: [experiment.experiment_id],
    filter: `tags.\`${TAG_WORKFLOW_ID}\` = '${workflowId}'`,
  });
  return page.items;
}

let harness: TemporalHarness;
beforeAll(async () => {
  harness = await startHarness();
}, 120_000);
afterAll(async () => harness?.close());

describe('a pipeline on Temporal', () => {
  it('produces what the local runner produces, with the diamond branches overlapping in time', async () => {
    executionsDir();
    const handle = await startTraining(harness.client, {
      pipeline: 'diamond',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    const result = await handle.result();
    expect(result.nodes).toBe(4);
    const onTemporal = JSON.parse(
      readFileSync(join(temporalTestProject, 'data/output/diamond_result.json'), 'utf8'),
    );

    const project = await loadProject(temporalTestProject);
    const local = await runPipelineLocally({
      pipeline: getPipeline(project.definition, 'diamond'),
      catalog: new DataCatalog({}, { x: 1 }),
      run: {
        runId: 'local',
        pipelineName: 'diamond',
        env: 'local',
        projectDir: temporalTestProject,
        runtimeParams: {},
      },
    });
    const localResult = local.freeOutputs.diamond_result as { sum: number };
    expect(onTemporal.sum).toBe(2 * 2 + 2 * 3);
    expect(onTemporal.sum).toBe(localResult.sum);
    // Each branch started before the other ended.
    const { b, c } = onTemporal as {
      b: { start: number; end: number };
      c: { start: number; end: number };
    };
    expect(b.start).toBeLessThan(c.end);
    expect(c.start).toBeLessThan(b.end);
    // One MLflow run, FINISHED, found by the workflow id.
    const runs = await mlflowRunsOf(handle.workflowId);
    expect(runs.map((run) => run.info.status)).toEqual(['FINISHED']);
    expect(result.mlflowRunId).toBe(runs[0]!.info.run_id);
  });

  it('retries a node that fails twice and then succeeds', async () => {
    const dir = executionsDir();
    const handle = await startTraining(harness.client, {
      pipeline: 'flaky',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    await handle.result();
    expect(executions(dir, 'flaky')).toHaveLength(3);
    expect(
      JSON.parse(readFileSync(join(temporalTestProject, 'data/output/flaky_result.json'), 'utf8')),
    ).toBe(3);
  });

  it('fails the workflow on a non-retryable node error, names the node, and marks the MLflow run FAILED', async () => {
    const dir = executionsDir();
    const handle = await startTraining(harness.client, {
      pipeline: 'fatal',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(String((error as WorkflowFailedError).cause?.message)).toContain(
      `Node 'broken' failed: column "amount" has text values`,
    );
    expect(executions(dir, 'broken')).toHaveLength(1);
    const progress = await handle.progress();
    expect(progress).toMatchObject({ state: 'failed', failedNode: 'broken' });
    const runs = await mlflowRunsOf(handle.workflowId);
    expect(runs.map((run) => run.info.status)).toEqual(['FAILED']);
    // The MLflow UI says which node failed and why, and links back to the workflow.
    const tags = Object.fromEntries((runs[0]!.data.tags ?? []).map((tag) => [tag.key, tag.value]));
    expect(tags['temporal_mlflow.failed_node']).toBe('broken');
    expect(tags['temporal_mlflow.failure']).toContain('column "amount" has text values');
    expect(tags['mlflow.note.content']).toContain(handle.workflowId);
    expect(tags['mlflow.note.content']).toContain("**Failed at node 'broken':**");
    expect(tags['mlflow.runName']).toMatch(/^fatal \d{2}:\d{2}:\d{2}$/);
    expect(tags['mlflow.user']).toBeTruthy();
    expect(tags['mlflow.source.type']).toBe('JOB');
  });

  it('marks the MLflow run KILLED and the workflow cancelled when the workflow is cancelled', async () => {
    executionsDir();
    const handle = await startTraining(harness.client, {
      pipeline: 'slow',
      params: { slow_ms: 30_000 },
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    for (let i = 0; i < 100 && (await handle.progress()).nodes.slow !== 'running'; i++)
      await new Promise((r) => setTimeout(r, 100));
    await handle.handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.handle.describe()).status.name).toBe('CANCELLED');
    const runs = await mlflowRunsOf(handle.workflowId);
    expect(runs.map((run) => run.info.status)).toEqual(['KILLED']);
    // A cancelled run says so, in MLflow and in Temporal; no node is blamed for it.
    const tags = Object.fromEntries((runs[0]!.data.tags ?? []).map((tag) => [tag.key, tag.value]));
    expect(tags['mlflow.note.content']).toContain('**Cancelled** in Temporal');
    expect(tags['temporal_mlflow.failed_node']).toBeUndefined();
    const progress = await handle.progress();
    expect(progress.state).toBe('cancelled');
    expect(progress.failedNode).toBeUndefined();
  });

  it('keeps a 50 MB intermediate dataset out of the workflow history', async () => {
    const handle = await startTraining(harness.client, {
      pipeline: 'big',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    await handle.result();
    expect(
      JSON.parse(readFileSync(join(temporalTestProject, 'data/output/blob_sum.json'), 'utf8')),
    ).toBe(50 * 1024 * 1024 * 7);
    const history = await harness.client.workflow.getHandle(handle.workflowId).fetchHistory();
    const bytes = proto.temporal.api.history.v1.History.encode(history).finish().length;
    expect(bytes).toBeLessThan(100 * 1024);
  });

  it('answers the progress query, upserts the search attributes and says what it started with', async () => {
    const handle = await startTraining(harness.client, {
      pipeline: 'diamond',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
      params: { learning_rate: 0.5 },
      command: 'temporal-mlflow train --pipeline diamond',
    });
    const result = await handle.result();
    const progress = await handle.progress();
    expect(progress).toMatchObject({ state: 'completed', done: 4, total: 4, running: [] });
    expect(Object.values(progress.nodes)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    const description = await handle.handle.describe();
    expect(description.searchAttributes.PipelineName).toEqual(['diamond']);
    expect(description.searchAttributes.MlflowRunId).toEqual([result.mlflowRunId]);
    // The Temporal UI's static details (markdown): names as code, so `__default__` survives.
    const details = await description.staticDetails();
    expect(details).toContain('**Pipeline** `diamond`');
    expect(details).toContain(`**Task queue** \`${harness.taskQueue}\``);
    expect(details).toContain('**Parameters** `learning_rate` = `0.5`');
    expect(details).toContain('**Command** `temporal-mlflow train --pipeline diamond`');
  });

  it('runs a pipeline longer than one history as child workflows', async () => {
    const handle = await startTraining(harness.client, {
      pipeline: 'long_chain',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
      nodesPerHistory: 20,
    });
    const result = await handle.result();
    expect(result.nodes).toBe(50);
    expect(
      JSON.parse(readFileSync(join(temporalTestProject, 'data/output/chain_result.json'), 'utf8')),
    ).toBe(51);
    const children = harness.client.workflow.list({
      query: `WorkflowId STARTS_WITH "${handle.workflowId}/chunk-"`,
    });
    const ids: string[] = [];
    for await (const child of children) ids.push(child.workflowId);
    expect(ids.sort()).toEqual([0, 1, 2].map((chunk) => `${handle.workflowId}/chunk-${chunk}`));
  });
});

describe('a filtered training', () => {
  it('runs on workers that hand back other pipeline code: its nodes hash the same selection it planned', async () => {
    const strict = await startHarness({ rejectOtherCode: true });
    try {
      const handle = await startTraining(strict.client, {
        pipeline: 'diamond',
        taskQueue: strict.taskQueue,
        params: { x: 1 },
        filters: { nodeNames: ['a'] },
        nodeDefaults: fastNodeDefaults,
      });
      const result = await handle.result();
      expect(result.nodes).toBe(1);
    } finally {
      await strict.close();
    }
  }, 120_000);
});
