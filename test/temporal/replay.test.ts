/**
 * Determinism in CI: histories recorded by the training workflow replay against the current
 * workflow code. `test/temporal/fixtures/diamond-history.json` is committed; re-record it (after an
 * intended, versioned change of the workflow) with `RECORD_HISTORY=1 npm test -- test/temporal/replay.test.ts`.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTraining } from '../../src/temporal/client.js';
import { workflowsPath } from '../../src/temporal/worker.js';
import { fastNodeDefaults, startHarness, type TemporalHarness } from '../support/temporal.js';
import { waitFor } from '../support/worker-process.js';

type History = temporal.api.history.v1.IHistory;

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const committedHistory = join(fixtures, 'diamond-history.json');
const recording = process.env.RECORD_HISTORY === '1';

const eventTypes = (history: History): string[] =>
  (history.events ?? []).map((event) => {
    const attributes = Object.keys(event).find((key) => key.endsWith('EventAttributes') && event[key as keyof typeof event]);
    return attributes?.replace(/EventAttributes$/, '') ?? '?';
  });

const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

let harness: TemporalHarness;
let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  [harness, bundle] = await Promise.all([startHarness(), bundleWorkflowCode({ workflowsPath, logger: quietLogger })]);
}, 120_000);
afterAll(async () => harness?.close());

const replay = (history: unknown, path?: string): Promise<void> =>
  Worker.runReplayHistory(path ? { workflowsPath: path, bundlerOptions: { logger: quietLogger } } : { workflowBundle: bundle }, history);

describe('the committed history of a diamond run', () => {
  if (recording) {
    it('is recorded from a fresh run (RECORD_HISTORY=1)', async () => {
      const training = await startTraining(harness.client, { pipeline: 'diamond', taskQueue: harness.taskQueue, nodeDefaults: fastNodeDefaults });
      await training.result();
      const history = await training.handle.fetchHistory();
      writeFileSync(committedHistory, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
    });
  }

  it('is present, and is a completed run of the four diamond nodes', () => {
    expect(existsSync(committedHistory)).toBe(true);
    const history = historyFromJSON(JSON.parse(readFileSync(committedHistory, 'utf8')));
    const types = eventTypes(history);
    expect(types[0]).toBe('workflowExecutionStarted');
    expect(types.at(-1)).toBe('workflowExecutionCompleted');
    const nodes = (history.events ?? []).flatMap((event) => {
      const scheduled = event.activityTaskScheduledEventAttributes;
      return scheduled?.activityType?.name === 'runNode' ? [scheduled] : [];
    });
    expect(nodes).toHaveLength(4);
    // The MLflow run and the plan are local activities: recorded as markers, never re-run on replay.
    expect(types.filter((type) => type === 'markerRecorded')).toHaveLength(2);
  });

  it('replays against the current workflow code', async () => {
    // JSON as written by `historyToJSON` / the Temporal CLI: runReplayHistory converts it itself
    // (it calls historyFromJSON when event ids are strings), so both forms replay.
    const json: unknown = JSON.parse(readFileSync(committedHistory, 'utf8'));
    await expect(replay(json)).resolves.toBeUndefined();
    await expect(replay(historyFromJSON(json))).resolves.toBeUndefined();
  });

  it('fails to replay against workflow code changed in a way that is not deterministic', async () => {
    const json: unknown = JSON.parse(readFileSync(committedHistory, 'utf8'));
    await expect(replay(json, join(fixtures, 'changed-workflow.ts'))).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  }, 60_000);
});

describe('freshly recorded histories', () => {
  const roundTrip = (history: History): unknown => JSON.parse(historyToJSON(history));

  it('of a run failed by a non-retryable node error replay against the current workflow code', async () => {
    const training = await startTraining(harness.client, { pipeline: 'fatal', taskQueue: harness.taskQueue, nodeDefaults: fastNodeDefaults });
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
    await waitFor(async () => (await training.progress()).nodes.slow === 'running', "node 'slow' to run");
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
