/**
 * A training waiting (for days) for the `approve` / `reject` Update keeps replaying across a deploy
 * of the gate's local-first steps: the fixtures were recorded with the workflows of 26e9133^, when
 * `evaluatePromotion` and `recordPromotion` ran as regular activities only. One history ends while
 * the workflow waits for approval; the other goes on to the approval and the recorded decision. A
 * sweep promotes its best trial through the same gate: its history waiting for approval replays too.
 */
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workflowsPath } from '../../src/temporal/worker.js';
import { readHistoryFile, type History } from '../support/history-json.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const waiting = readHistoryFile(join(fixtures, 'promotion-approval-history.json'));
const approved = readHistoryFile(join(fixtures, 'promotion-approved-history.json'));
const sweep = readHistoryFile(join(fixtures, 'promotion-sweep-approval-history.json'));

const scheduled = (history: History): string[] =>
  (history.events ?? []).flatMap(
    (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
  );

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Installed already by another test of this process.
  }
});

describe('training histories recorded before the promotion gate ran its steps locally first', () => {
  it('evaluated the candidate in a regular activity, then waited for approval', () => {
    expect(scheduled(waiting)).toContain('evaluatePromotion');
    expect(scheduled(waiting)).not.toContain('recordPromotion');
    const last = waiting.events?.at(-1);
    // The approval wait's timeout timer, started after PendingApproval was set.
    expect(last?.timerStartedEventAttributes).toBeTruthy();
    expect(
      approved.events?.some((event) => event.workflowExecutionUpdateAcceptedEventAttributes),
    ).toBe(true);
    expect(scheduled(approved)).toEqual(expect.arrayContaining(['recordPromotion']));
    expect(approved.events?.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
  });

  let workflowBundle: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  }, 120_000);

  it('replays against the current workflow code while waiting for approval', async () => {
    await expect(Worker.runReplayHistory({ workflowBundle }, waiting)).resolves.toBeUndefined();
  }, 60_000);

  it('replays against the current workflow code once approved and recorded', async () => {
    await expect(Worker.runReplayHistory({ workflowBundle }, approved)).resolves.toBeUndefined();
  }, 60_000);

  it('replays a sweep waiting for approval of its best trial against the current workflow code', async () => {
    expect(scheduled(sweep)).toContain('evaluatePromotion');
    // Trial ids derive from the sweep's id: replay under the recorded one.
    const trialId = sweep.events?.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
      ?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    const sweepId = trialId!.replace(/\/trial-\d+$/, '');
    await expect(
      Worker.runReplayHistory({ workflowBundle }, sweep, sweepId),
    ).resolves.toBeUndefined();
  }, 60_000);
});

describe('a gated training recorded before its run was ended locally while the gate ran', () => {
  // Recorded with the workflows of cfd9ad7 (the lifecycle project's `gated`, first model
  // promoted): the run was ended by a regular activity, and the gate ran after it.
  const history = readHistoryFile(join(fixtures, 'promotion-after-closing-history.json'));

  it('ended its run with an activity task before the gate', () => {
    expect(scheduled(history)).toContain('endMlflowRun');
    const events = history.events ?? [];
    const ended = events.findIndex(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'endMlflowRun',
    );
    const gateMarkers = events.flatMap((event, at) =>
      event.markerRecordedEventAttributes?.markerName === 'core_local_activity' ? [at] : [],
    );
    expect(gateMarkers.at(-1)!).toBeGreaterThan(ended);
  });

  it('replays against the current workflow code (patched)', async () => {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath,
      logger: new DefaultLogger('WARN'),
    });
    await expect(Worker.runReplayHistory({ workflowBundle }, history)).resolves.toBeUndefined();
  }, 120_000);
});
