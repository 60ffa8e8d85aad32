/**
 * The sweep creates its trials' MLflow runs (with the training's own `startMlflowRun`; its own
 * and its first trials' in one step) and hands them to the trials. Successful trials' runs, and
 * those of trials that never started, are ended here, several in one activity; the last ones with
 * the sweep's outcome.
 */
import type { MlflowRunRef, RunContext } from '../src/temporal/types.js';
import type { LifecycleActivities } from './lifecycle-activities.js';
import type { TrainingActivities } from './training-activities.js';

/** The activities the sweep's run bookkeeping is made of. */
export interface SweepActivityDeps {
  startMlflowRun: TrainingActivities['startMlflowRun'];
  endMlflowRun: TrainingActivities['endMlflowRun'];
  logSweepResult: LifecycleActivities['logSweepResult'];
}

/** Every call settled before the first failure is thrown: a retry never races an earlier one. */
async function allSettledOrThrow<T>(calls: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export function createSweepActivities(deps: SweepActivityDeps) {
  return {
    /**
     * Ends the runs of trials: those that never started (the sweep was cancelled, or a start
     * failed), or FINISHED those that succeeded, clearing their stores (`cleanup`).
     */
    async endTrialRuns(args: {
      contexts: RunContext[];
      status: 'FINISHED' | 'FAILED' | 'KILLED';
      cleanup?: boolean;
    }): Promise<void> {
      await allSettledOrThrow(
        args.contexts.map((context) =>
          deps.endMlflowRun({
            context,
            status: args.status,
            ...(args.cleanup ? { cleanup: true } : {}),
          }),
        ),
      );
    },

    /**
     * The sweep's last step: logs its outcome on the parent run (`logSweepResult`) and ends the
     * runs of the trials that succeeded last (FINISHED, stores cleared), at once. Returns the
     * metrics `logSweepResult` read.
     */
    async finishSweep(args: {
      outcome: Parameters<LifecycleActivities['logSweepResult']>[0];
      close: RunContext[];
    }): Promise<Record<string, number | null>> {
      const logged = deps.logSweepResult(args.outcome);
      await allSettledOrThrow<unknown>([
        logged,
        ...args.close.map((context) =>
          deps.endMlflowRun({ context, status: 'FINISHED', cleanup: true }),
        ),
      ]);
      return logged;
    },

    /**
     * Starts the sweep's run, then the runs of its first trials nested under it, at once: the
     * sweep starts those trials in the workflow task that ran this (as a local activity).
     */
    async startSweepRuns(args: {
      sweep: RunContext;
      trials: RunContext[];
    }): Promise<{ sweep: MlflowRunRef; trials: MlflowRunRef[] }> {
      const sweep = await deps.startMlflowRun(args.sweep);
      const trials = await allSettledOrThrow(
        args.trials.map((context) => deps.startMlflowRun({ ...context, parentRunId: sweep.runId })),
      );
      return { sweep, trials };
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
