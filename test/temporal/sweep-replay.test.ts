/**
 * Sweeps in flight when the sweep changed how it makes, reads and ends its trials' runs keep
 * replaying against the current code, each change behind its patch: histories recorded before
 * trials' runs were made ahead (`sweep-history.json`, `TRIAL_RUNS_PATCH`), before each lane had
 * its next run made ahead, and before trials reported their metrics (`REPORTED_METRICS_PATCH`).
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

/** Replays a recorded sweep under its recorded id (its trials' ids derive from it). */
async function replays(history: ReturnType<typeof readHistoryFile>): Promise<void> {
  const trialId = history.events?.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
    ?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
  await expect(
    Worker.runReplayHistory({ workflowsPath }, history, trialId!.replace(/\/trial-\d+$/, '')),
  ).resolves.toBeUndefined();
}

describe('a sweep history recorded before trial runs were created ahead', () => {
  it('has the parent run started alone and no activity creating trial runs', () => {
    const steps = (readHistoryFile(recorded).events ?? []).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect(steps).toContain('startMlflowRun');
    expect(steps).not.toContain('startSweepRuns');
  });

  it(
    'replays against the current workflow code',
    () => replays(readHistoryFile(recorded)),
    120_000,
  );
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

  it('replays against the current workflow code (patched)', () => replays(history), 120_000);
});

describe('a sweep history recorded before trials reported their metrics', () => {
  // Recorded with the workflows of 3dbee71 (5 trials of the lifecycle project's `sleepy`, 2 at a
  // time): every trial's metric was read back from MLflow, and the last trials' runs were ended by
  // an activity of their own after the last trial.
  const history = readHistoryFile(join(dirname(recorded), 'sweep-read-metrics-history.json'));

  it('read its metrics and ended its last runs in activities after the last trial', () => {
    const steps = (history.events ?? []).flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect(steps).toContain('readRunMetrics');
    expect(steps).toContain('logSweepResult');
    expect(steps).not.toContain('finishSweep');
  });

  it('replays against the current workflow code (patched)', () => replays(history), 120_000);
});
