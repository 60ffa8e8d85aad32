/**
 * MLflow runs a sweep opens for its trials: a round's runs are created in one activity, nested
 * under the sweep's run, before its trials start (each trial then has no start step of its own:
 * one activity per round instead of one per trial). Runs of trials that never started are ended.
 */
import type { MlflowRunRef, RunContext } from '../src/temporal/types.js';
import type { TrainingActivities } from './training-activities.js';

/** The training activities the sweep's run bookkeeping is made of. */
export interface SweepActivityDeps {
  startMlflowRun: TrainingActivities['startMlflowRun'];
  endMlflowRun: TrainingActivities['endMlflowRun'];
}

export function createSweepActivities(deps: SweepActivityDeps) {
  /** Every call settled before the first failure is thrown: a retry never races an earlier create. */
  const settleAll = async <T>(calls: Promise<T>[]): Promise<T[]> => {
    const settled = await Promise.allSettled(calls);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  };
  return {
    /**
     * Finds or creates (as `startMlflowRun` does, so a retry never makes a second run) the sweep's
     * own run when `parent` is given, then each trial's run nested under it, at once.
     */
    async startSweepRuns(args: {
      parent?: RunContext;
      trials: RunContext[];
    }): Promise<{ parent?: MlflowRunRef; trials: MlflowRunRef[] }> {
      const parent = args.parent ? await deps.startMlflowRun(args.parent) : undefined;
      const trials = await settleAll(
        args.trials.map((context) =>
          deps.startMlflowRun(parent ? { ...context, parentRunId: parent.runId } : context),
        ),
      );
      return { ...(parent ? { parent } : {}), trials };
    },

    /** Ends the runs of trials that never started (the sweep was cancelled, or a start failed). */
    async endTrialRuns(args: {
      contexts: RunContext[];
      status: 'FAILED' | 'KILLED';
    }): Promise<void> {
      await settleAll(
        args.contexts.map((context) => deps.endMlflowRun({ context, status: args.status })),
      );
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
