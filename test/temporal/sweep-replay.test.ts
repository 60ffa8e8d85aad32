/**
 * Sweeps in flight when the sweep started creating its trials' MLflow runs ahead keep replaying:
 * `test/temporal/fixtures/sweep-history.json` was recorded by the workflow code before that change
 * (trials started their own runs), and replays against the current code (`TRIAL_RUNS_PATCH`).
 */
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workflowsPath } from '../../src/temporal/worker.js';
import { readHistoryFile } from '../support/history-json.js';

const recorded = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sweep-history.json');

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Installed already by another test of this process.
  }
});

describe('a sweep history recorded before trial runs were created ahead', () => {
  it('has the parent run started alone and no activity creating trial runs', () => {
    const steps = (readHistoryFile(recorded).events ?? []).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect(steps).toContain('startMlflowRun');
    expect(steps).not.toContain('startSweepRuns');
  });

  it('replays against the current workflow code', async () => {
    const history = readHistoryFile(recorded);
    // Trial ids derive from the sweep's id: replay under the recorded one.
    const trialId = history.events?.find(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes,
    )?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    const sweepId = trialId!.replace(/\/trial-\d+$/, '');
    await expect(
      Worker.runReplayHistory({ workflowsPath }, history, sweepId),
    ).resolves.toBeUndefined();
  }, 120_000);
});

describe('a sweep history recorded before each lane had its next trial run made ahead', () => {
  // Recorded with the workflows of bbf9bef (5 trials of the lifecycle project's `sleepy`, 2 at a
  // time): the runs of trials 2-3 were made once trial 2 was due, as a round.
  const history = readHistoryFile(join(dirname(recorded), 'sweep-trial-runs-history.json'));

  it('made its trial runs in rounds', () => {
    const events = history.events ?? [];
    const made = events.flatMap((event, at) =>
      event.activityTaskScheduledEventAttributes?.activityType?.name === 'startMlflowRun'
        ? [at]
        : [],
    );
    const started = events.flatMap((event, at) =>
      event.startChildWorkflowExecutionInitiatedEventAttributes ? [at] : [],
    );
    // The parent's run is a local activity: five trial runs, the fifth after the fourth trial started.
    expect(made).toHaveLength(5);
    expect(made[4]!).toBeGreaterThan(started[3]!);
  });

  it('replays against the current workflow code (patched)', async () => {
    const trialId = history.events?.find(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes,
    )?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    await expect(
      Worker.runReplayHistory({ workflowsPath }, history, trialId!.replace(/\/trial-\d+$/, '')),
    ).resolves.toBeUndefined();
  }, 120_000);
});
