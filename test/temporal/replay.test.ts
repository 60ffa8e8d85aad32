/**
 * Determinism in CI: histories recorded by the training workflow replay against the current
 * workflow code. `test/temporal/fixtures/diamond-history.json` is committed; re-record it (after an
 * intended, versioned change of the workflow) with `node --import tsx scripts/record-replay-history.ts`.
 */
import { WorkflowFailedError } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTraining } from '../../src/temporal/client.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import {
  committedDiamondHistory as committedHistory,
  historyFromJson,
  historyToJson,
  readHistoryFile,
  type History,
} from '../support/history-json.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';
import { waitFor } from '../support/worker-process.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

const eventTypes = (history: History): string[] =>
  (history.events ?? []).map((event) => {
    const attributes = Object.keys(event).find(
      (key) => key.endsWith('EventAttributes') && event[key as keyof typeof event],
    );
    return attributes?.replace(/EventAttributes$/, '') ?? '?';
  });

const quietLogger = new DefaultLogger('WARN');

let harness: TemporalHarness;
let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  [harness, bundle] = await Promise.all([
    startHarness(),
    bundleWorkflowCode({ workflowsPath, logger: quietLogger }),
  ]);
}, 120_000);
afterAll(async () => harness?.close());

/** Replays against the current workflows, bundled once for the file. */
const replay = (history: History): Promise<void> =>
  Worker.runReplayHistory({ workflowBundle: bundle }, history);

describe('the committed history of a diamond run', () => {
  it('is present, and is a completed run of the four diamond nodes', () => {
    expect(existsSync(committedHistory)).toBe(true);
    const history = readHistoryFile(committedHistory);
    const types = eventTypes(history);
    expect(types[0]).toBe('workflowExecutionStarted');
    expect(types.at(-1)).toBe('workflowExecutionCompleted');
    const nodes = (history.events ?? []).flatMap((event) => {
      const scheduled = event.activityTaskScheduledEventAttributes;
      return scheduled?.activityType?.name === 'runNode' ? [scheduled] : [];
    });
    expect(nodes).toHaveLength(4);
    // The MLflow run's start and end are regular activities; the plan and the cleanup ran as local
    // activities (markers) on the worker of the workflow task, which served the run.
    const steps = (history.events ?? []).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect(steps.filter((name) => name !== 'runNode').sort()).toEqual([
      'endMlflowRun',
      'startMlflowRun',
    ]);
    expect(types.filter((type) => type === 'markerRecorded')).toHaveLength(2);
  });

  it('replays against the current workflow code', async () => {
    const history = readHistoryFile(committedHistory);
    await expect(Worker.runReplayHistory({ workflowsPath }, history)).resolves.toBeUndefined();
  }, 60_000);

  it('fails to replay against workflow code changed in a way that is not deterministic', async () => {
    const history = readHistoryFile(committedHistory);
    const changed = await bundleWorkflowCode({
      workflowsPath: join(fixtures, 'changed-workflow.ts'),
      logger: quietLogger,
    });
    await expect(
      Worker.runReplayHistory({ workflowBundle: changed }, history),
    ).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  }, 60_000);
});

describe('the committed history of a chain of local nodes, recorded before they ran in groups', () => {
  // One local activity per node (four `runNode` markers, lc_2 retried in its own): recorded with the
  // workflows of d2ea738^, before a linear run of local nodes became one `runNodes` local activity.
  const history = readHistoryFile(join(fixtures, 'local-chain-history.json'));

  it('ran each node in a local activity of its own', () => {
    const markers = (history.events ?? []).filter(
      (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    // The plan, the four nodes, the cleanup.
    expect(markers).toHaveLength(6);
    expect(eventTypes(history).at(-1)).toBe('workflowExecutionCompleted');
  });

  it('replays against the current workflow code, per node (patched)', async () => {
    await expect(replay(history)).resolves.toBeUndefined();
  }, 60_000);
});

describe('freshly recorded histories', () => {
  const roundTrip = (history: History): History =>
    historyFromJson(JSON.parse(JSON.stringify(historyToJson(history))));

  it("of a tracked run open it in the plan's workflow task and close it in one step: the local activity ending the MLflow run also clears the store", async () => {
    const training = await startTraining(harness.client, {
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    const result = await training.result();
    expect(result.mlflowRunId).toBeDefined();
    const history = await training.handle.fetchHistory();
    const localActivities = (history.events ?? []).filter(
      (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    // The plan, the start of the run in the plan's workflow task, and the ending of the run: no
    // separate cleanup step, and no activity task but the nodes'.
    expect(
      localActivities.map((event) =>
        JSON.parse(Buffer.from(event.userMetadata?.summary?.data ?? []).toString('utf8')),
      ),
    ).toEqual(['plan', 'start MLflow run', 'end MLflow run']);
    const steps = (history.events ?? []).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect(steps.filter((name) => name !== 'runNode')).toEqual([]);
    await expect(replay(history)).resolves.toBeUndefined();
  });

  it('of a run failed by a non-retryable node error replay against the current workflow code', async () => {
    const training = await startTraining(harness.client, {
      pipeline: 'fatal',
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    await expect(training.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const history = await training.handle.fetchHistory();
    expect(eventTypes(history).at(-1)).toBe('workflowExecutionFailed');
    await expect(replay(history)).resolves.toBeUndefined();
    await expect(replay(roundTrip(history))).resolves.toBeUndefined();
  });

  it('of a cancelled run replay against the current workflow code', async () => {
    const training = await startTraining(harness.client, {
      pipeline: 'slow',
      params: { slow_ms: 30_000 },
      taskQueue: harness.taskQueue,
      nodeDefaults: fastNodeDefaults,
    });
    await waitFor(
      async () => (await training.progress()).nodes.slow === 'running',
      "node 'slow' to run",
    );
    await training.handle.cancel();
    await expect(training.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const history = await training.handle.fetchHistory();
    const types = eventTypes(history);
    expect(types).toContain('workflowExecutionCancelRequested');
    expect(types.at(-1)).toBe('workflowExecutionCanceled');
    await expect(replay(history)).resolves.toBeUndefined();
    await expect(replay(roundTrip(history))).resolves.toBeUndefined();
  });
});
