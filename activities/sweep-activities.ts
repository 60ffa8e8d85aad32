/**
 * The sweep creates its trials' MLflow runs (with the training's own `startMlflowRun`) and hands
 * them to the trials; the runs of trials that never started are ended here, in one activity.
 */
import type { RunContext } from '../src/temporal/types.js';
import type { TrainingActivities } from './training-activities.js';

/** The training activity the sweep's run bookkeeping is made of. */
export interface SweepActivityDeps {
  endMlflowRun: TrainingActivities['endMlflowRun'];
}

export function createSweepActivities(deps: SweepActivityDeps) {
  return {
    /** Ends the runs of trials that never started (the sweep was cancelled, or a start failed). */
    async endTrialRuns(args: {
      contexts: RunContext[];
      status: 'FAILED' | 'KILLED';
    }): Promise<void> {
      // Every call settled before the first failure is thrown: a retry never races an earlier one.
      const settled = await Promise.allSettled(
        args.contexts.map((context) => deps.endMlflowRun({ context, status: args.status })),
      );
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
