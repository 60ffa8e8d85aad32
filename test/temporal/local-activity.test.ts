/**
 * Light nodes (`local: true`, or a tag whose `nodeOptionsByTag` says `local: true`) run as Temporal
 * local activities: recorded as markers in the workflow history, with the retry policy, failure
 * naming, MLflow bookkeeping and durability of regular node activities.
 */
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAG_WORKFLOW_ID } from '../../src/constants.js';
import { MlflowClient } from '../../src/mlflow/client.js';
import { cachedFromTag } from '../../src/runner/node-cache.js';
import { startTraining } from '../../src/temporal/client.js';
import { createProjectActivities, createWorker, workflowsPath } from '../../src/temporal/worker.js';
import { repoRoot } from '../support/services.js';
import { services } from '../support/services.js';
import {
  fastNodeDefaults,
  startHarness,
  temporalTestProject,
  type TemporalHarness,
} from '../support/temporal.js';
import {
  executionPids,
  spawnWorker,
  useTemporalClientWithWorkers,
  waitFor,
} from '../support/worker-process.js';

type History = proto.temporal.api.history.v1.IHistory;

const executionsDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-exec-'));
  process.env.TEST_EXECUTIONS_DIR = dir;
  return dir;
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

const json = (payload: proto.temporal.api.common.v1.IPayload | undefined): unknown =>
  payload?.data?.length ? JSON.parse(Buffer.from(payload.data).toString('utf8')) : undefined;

/** The nodes a history ran as local activities (their markers) and as activity tasks. */
function nodesByKind(history: History): { local: string[]; tasks: string[]; groups: string[][] } {
  const local: string[] = [];
  const tasks: string[] = [];
  const groups: string[][] = [];
  for (const event of history.events ?? []) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const data = json(marker.details?.data?.payloads?.[0]) as { activity_type?: string };
      const result = json(marker.details?.result?.payloads?.[0]) as
        { node?: string; completed?: { node: string }[] } | undefined;
      if (data.activity_type === 'runNode' && result?.node) local.push(result.node);
      // A linear run of local nodes in one local activity: the nodes it completed.
      if (data.activity_type === 'runNodes' && result?.completed) {
        const group = result.completed.map((done) => done.node);
        local.push(...group);
        groups.push(group);
      }
    }
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'runNode')
      tasks.push(String(json(event.userMetadata?.summary ?? undefined)));
  }
  return { local, tasks, groups };
}

describe('light nodes on an in-process worker', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await startHarness({ cacheDir: mkdtempSync(join(tmpdir(), 'tm-node-cache-')) });
  }, 120_000);
  afterAll(async () => harness?.close());

  it('run as local activities (markers), the others as activity tasks, and the run trains', async () => {
    const dir = executionsDir();
    const training = await startTraining(harness.client, {
      pipeline: 'light',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    const result = await training.result();
    expect(result).toMatchObject({ pipeline: 'light', nodes: 3 });
    // x = 1 → prepare 2 → pause 4 → score 5
    expect(
      JSON.parse(readFileSync(join(temporalTestProject, 'data/output/light_result.json'), 'utf8')),
    ).toBe(5);
    for (const node of ['prepare', 'pause', 'score'])
      expect(executionPids(dir, node)).toEqual([process.pid]);

    const history = await training.handle.fetchHistory();
    // `prepare` by its node option, `score` by its tag `light`.
    expect(nodesByKind(history)).toMatchObject({ local: ['prepare', 'score'], tasks: ['pause'] });
    const progress = await training.progress();
    expect(progress.nodes).toEqual({
      prepare: 'completed',
      pause: 'completed',
      score: 'completed',
    });
    const runs = await mlflowRunsOf(training.handle.workflowId);
    expect(runs.map((run) => run.info.status)).toEqual(['FINISHED']);
    // `params:x`, an input of the local node `prepare`, is logged to the run.
    expect(runs[0]!.data.params).toContainEqual({ key: 'x', value: '1' });

    // Markers replay: the history of a run with local nodes is deterministic for this code.
    await expect(Worker.runReplayHistory({ workflowsPath }, history)).resolves.toBeUndefined();
  }, 90_000);

  it('are restored from the node cache on a second run, and the MLflow run says where from', async () => {
    const dir = executionsDir();
    const train = async () => {
      const training = await startTraining(harness.client, {
        pipeline: 'light',
        params: { x: 7 },
        taskQueue: harness.taskQueue,
        nodeDefaults: fastNodeDefaults,
      });
      return { result: await training.result(), progress: await training.progress() };
    };
    const first = await train();
    const second = await train();
    expect(first.progress.cached).toBeUndefined();
    expect(second.progress.cached).toEqual(['prepare']);
    expect(second.result).toMatchObject({ nodes: 3, cachedNodes: 1 });
    expect(executionPids(dir, 'prepare')).toEqual([process.pid]);
    expect(executionPids(dir, 'score')).toEqual([process.pid, process.pid]);
    const mlflow = new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI });
    const run = await mlflow.runs.get(second.result.mlflowRunId!);
    const tags = Object.fromEntries((run.data.tags ?? []).map((tag) => [tag.key, tag.value]));
    expect(tags[cachedFromTag('prepare')]).toBe(first.result.mlflowRunId);
  });

  it('retry per their policy, in the worker, until an attempt succeeds', async () => {
    const dir = executionsDir();
    const training = await startTraining(harness.client, {
      pipeline: 'light_flaky',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    await training.result();
    expect(executionPids(dir, 'light_flaky')).toHaveLength(3);
    const history = await training.handle.fetchHistory();
    expect(nodesByKind(history)).toMatchObject({ local: ['light_flaky'], tasks: [] });
  });

  it('fail the run naming the node once their attempts are used up, and the MLflow run says so', async () => {
    const dir = executionsDir();
    const training = await startTraining(harness.client, {
      pipeline: 'light_broken',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    const error = await training.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(String((error as WorkflowFailedError).cause?.message)).toContain(
      "Node 'light_broken' failed: local attempt 3 failed",
    );
    // maximumAttempts: 3, and never as a regular activity after the local attempts.
    expect(executionPids(dir, 'light_broken')).toHaveLength(3);
    expect(await training.progress()).toMatchObject({
      state: 'failed',
      failedNode: 'light_broken',
    });
    const history = await training.handle.fetchHistory();
    expect(nodesByKind(history).tasks).toEqual([]);
    const runs = await mlflowRunsOf(training.handle.workflowId);
    expect(runs.map((run) => run.info.status)).toEqual(['FAILED']);
    const tags = Object.fromEntries((runs[0]!.data.tags ?? []).map((tag) => [tag.key, tag.value]));
    expect(tags['temporal_mlflow.failed_node']).toBe('light_broken');
  });
});

describe('a linear run of light nodes on an in-process worker', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await startHarness({ cacheDir: mkdtempSync(join(tmpdir(), 'tm-node-cache-')) });
  }, 120_000);
  afterAll(async () => harness?.close());

  const train = (pipeline: string) =>
    startTraining(harness.client, {
      pipeline,
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });

  it('runs in one local activity; a node failing in it is retried alone, the nodes before it never again', async () => {
    const dir = executionsDir();
    const training = await train('light_chain');
    await expect(training.result()).resolves.toMatchObject({ pipeline: 'light_chain', nodes: 4 });
    // lc_2 failed its first execution in the group: lc_0 and lc_1 ran once, lc_2 twice.
    expect(['lc_0', 'lc_1', 'lc_2', 'lc_3'].map((node) => executionPids(dir, node).length)).toEqual(
      [1, 1, 2, 1],
    );
    const history = await training.handle.fetchHistory();
    expect(nodesByKind(history)).toEqual({
      local: ['lc_0', 'lc_1', 'lc_2', 'lc_3'],
      tasks: [],
      groups: [
        ['lc_0', 'lc_1'],
        ['lc_2', 'lc_3'],
      ],
    });
    // The UI names each group by the first and last node it was given. (The tracked run's store is
    // cleared by the local activity that ends its MLflow run: no cleanup step of its own.)
    const summaries = (history.events ?? []).flatMap((event) =>
      event.markerRecordedEventAttributes?.markerName === 'core_local_activity' &&
      event.userMetadata?.summary
        ? [json(event.userMetadata.summary)]
        : [],
    );
    expect(summaries).toEqual([
      'plan',
      'start MLflow run',
      'lc_0 … lc_3 (4 nodes)',
      'lc_2 … lc_3 (2 nodes)',
      'end MLflow run',
    ]);
    expect((await training.progress()).nodes).toEqual({
      lc_0: 'completed',
      lc_1: 'completed',
      lc_2: 'completed',
      lc_3: 'completed',
    });
    await expect(Worker.runReplayHistory({ workflowsPath }, history)).resolves.toBeUndefined();
  });

  it('records what a group completed once it has run its time budget, and runs the rest as a new group', async () => {
    const dir = executionsDir();
    const training = await train('light_chain_slow');
    await expect(training.result()).resolves.toMatchObject({ nodes: 4 });
    const nodes = ['lw_0', 'lw_1', 'lw_2', 'lw_3'];
    expect(nodes.map((node) => executionPids(dir, node).length)).toEqual([1, 1, 1, 1]);
    const { local, groups } = nodesByKind(await training.handle.fetchHistory());
    expect(local).toEqual(nodes);
    // 1.2 s per node, a budget of 2 s: no group gets past its second node.
    expect(groups.length).toBeGreaterThanOrEqual(2);
    for (const group of groups) expect(group.length).toBeLessThanOrEqual(2);
  });

  it('fails naming the node once its attempts are used up, its first attempt in the group counted', async () => {
    const dir = executionsDir();
    const training = await train('light_chain_broken');
    const error = await training.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(String((error as WorkflowFailedError).cause?.message)).toContain(
      "Node 'lb_1' failed: chain attempt 3 failed",
    );
    // maximumAttempts: 3 in all; lb_0 before it never again, lb_2 after it never.
    expect(['lb_0', 'lb_1', 'lb_2'].map((node) => executionPids(dir, node).length)).toEqual([
      1, 3, 0,
    ]);
    expect(await training.progress()).toMatchObject({ state: 'failed', failedNode: 'lb_1' });
  });

  it('fails at once on an error its retry policy does not retry', async () => {
    const dir = executionsDir();
    const training = await train('light_chain_fatal');
    const error = await training.result().catch((e: unknown) => e);
    expect(String((error as WorkflowFailedError).cause?.message)).toContain(
      'Node \'lf_1\' failed: column "amount" has text values',
    );
    expect(['lf_0', 'lf_1', 'lf_2'].map((node) => executionPids(dir, node).length)).toEqual([
      1, 1, 0,
    ]);
  });
});

describe('light nodes whose workflow runs on a worker of another project (a shared queue)', () => {
  it('fail the identity check there at once and run as regular activities on the right worker', async () => {
    const dir = executionsDir();
    const taskQueue = `local-activity-shared-${randomUUID()}`;
    const connection = await NativeConnection.connect({ address: services().TEMPORAL_ADDRESS });
    const storeDir = mkdtempSync(join(tmpdir(), 'tm-store-'));
    // The only workflow worker of the queue serves another project, and polls no regular
    // activities: every workflow task, and so every local attempt, runs there.
    const wrong = await createWorker({
      projectDir: join(repoRoot, 'bench', 'fixtures', 'bench-project'),
      connection,
      taskQueue,
      storeDir,
      workerOptions: { enableNonLocalActivities: false },
    });
    // The right project's activities, on a worker without workflows.
    const right = await Worker.create({
      connection,
      taskQueue,
      activities: createProjectActivities(temporalTestProject, {
        storeDir,
        cacheDir: mkdtempSync(join(tmpdir(), 'tm-node-cache-')),
        heartbeatIntervalMs: 300,
      }),
    });
    const running = [wrong.run(), right.run()];
    const clientConnection = await Connection.connect({ address: services().TEMPORAL_ADDRESS });
    const client = new Client({ connection: clientConnection });
    try {
      const training = await startTraining(client, {
        pipeline: 'light',
        taskQueue,
        nodeDefaults: fastNodeDefaults,
      });
      await expect(training.result()).resolves.toMatchObject({ pipeline: 'light', nodes: 3 });
      expect(
        JSON.parse(
          readFileSync(join(temporalTestProject, 'data/output/light_result.json'), 'utf8'),
        ),
      ).toBe(5);
      for (const node of ['prepare', 'pause', 'score'])
        expect(executionPids(dir, node)).toEqual([process.pid]);
      const history = await training.handle.fetchHistory();
      expect(nodesByKind(history)).toMatchObject({
        local: [],
        tasks: ['prepare', 'pause', 'score'],
      });
      // One local attempt each for `prepare` and `score`, handed back (not retried). (The plan is a
      // local attempt first too: not counted here.)
      const handedBack = (history.events ?? []).filter((event) => {
        const marker = event.markerRecordedEventAttributes;
        const failure = marker?.failure;
        const data = (json(marker?.details?.data?.payloads?.[0]) ?? {}) as {
          activity_type?: string;
        };
        return (
          marker?.markerName === 'core_local_activity' &&
          data.activity_type === 'runNode' &&
          (failure?.applicationFailureInfo ?? failure?.cause?.applicationFailureInfo)?.type ===
            'WrongWorker'
        );
      });
      expect(handedBack).toHaveLength(2);
    } finally {
      wrong.shutdown();
      right.shutdown();
      await Promise.all(running);
      await clientConnection.close();
      await connection.close();
    }
  }, 120_000);
});

describe('light nodes and a worker killed in the middle of a run', () => {
  const temporalClient: () => Client = useTemporalClientWithWorkers();

  it('are not run again: their markers are in the history the new worker replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-exec-'));
    const storeDir = mkdtempSync(join(tmpdir(), 'tm-store-'));
    const cacheDir = mkdtempSync(join(tmpdir(), 'tm-node-cache-'));
    const taskQueue = `local-activity-${randomUUID()}`;
    const worker = (): ReturnType<typeof spawnWorker> =>
      spawnWorker({
        projectDir: temporalTestProject,
        taskQueue,
        args: ['--store-dir', storeDir, '--cache-dir', cacheDir],
        env: { TEST_EXECUTIONS_DIR: dir },
      });
    const first = worker();
    await first.ready;
    const training = await startTraining(temporalClient(), {
      pipeline: 'light',
      params: { pause_ms: 5000 },
      taskQueue,
      nodeDefaults: { heartbeatTimeoutMs: 2000 },
    });
    await waitFor(() => executionPids(dir, 'pause').length === 1, "node 'pause' to start");
    expect((await first.stop('SIGKILL')).signal).toBe('SIGKILL');

    const second = worker();
    await second.ready;
    await expect(training.result()).resolves.toMatchObject({ pipeline: 'light', nodes: 3 });
    // `prepare` completed (a marker) before the kill: never executed again.
    expect(executionPids(dir, 'prepare')).toEqual([first.pid]);
    expect(executionPids(dir, 'pause')).toEqual([first.pid, second.pid]);
    expect(executionPids(dir, 'score')).toEqual([second.pid]);
    const history = await training.handle.fetchHistory();
    expect(nodesByKind(history)).toMatchObject({ local: ['prepare', 'score'], tasks: ['pause'] });
  }, 120_000);
});
