/**
 * A parameter sweep: one child `trainingWorkflow` per trial (at most `maxParallel` at once), each
 * an MLflow run nested under the sweep's parent run. Trials package their model unregistered; the
 * sweep names the best trial on the parent run, registers its model alone and passes it through
 * the promotion gate. A failed trial does not fail the sweep unless every trial fails; cancelling
 * the sweep cancels its running trials (and the parent close policy terminates any left).
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainingActivities } from '../activities/index.js';
import type { LifecycleActivities } from '../activities/lifecycle-activities.js';
import type { SweepActivities } from '../activities/sweep-activities.js';
import { DEFAULT_PIPELINE_NAME } from '../src/constants.js';
import type {
  LoggedModelRef,
  MlflowRunRef,
  PipelinePlan,
  RunContext,
  SweepInput,
  SweepProgress,
  SweepResult,
  TrialOutcome,
} from '../src/temporal/types.js';
import { describeFailure } from './dag.js';
import { mlflowRunIdKey, pipelineNameKey, sweepProgressQuery } from './definitions.js';
import { ApprovalGate, promote, promotionMarkdown } from './promotion.js';
import { ONE_LOCAL_ATTEMPT, planPipeline, planPipelineLocally } from './plan-step.js';
import { locallyFirst, onRightWorker } from './right-worker.js';
import { Batches } from './batches.js';
import { beatsTrial } from './sweep-ranking.js';
import { trainingWorkflow } from './training.js';

export { sweepProgressQuery } from './definitions.js';

/** Trials run at once when the sweep names no `maxParallel`. */
export const DEFAULT_MAX_PARALLEL = 4;

const waitingOutOutages = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
} as const;
const { startMlflowRun, endMlflowRun } = proxyActivities<TrainingActivities>({
  ...waitingOutOutages,
  summary: 'sweep MLflow run',
});
const { startMlflowRun: startMlflowRunLocally } = proxyLocalActivities<TrainingActivities>({
  startToCloseTimeout: waitingOutOutages.startToCloseTimeout,
  retry: ONE_LOCAL_ATTEMPT,
  summary: 'sweep MLflow run',
});
const { readRunMetrics, listRunMetrics, registerModelVersion, logSweepResult } =
  proxyActivities<LifecycleActivities>({ ...waitingOutOutages, summary: 'sweep bookkeeping' });
const { startMlflowRun: startTrialRun } = proxyActivities<TrainingActivities>({
  ...waitingOutOutages,
  summary: "a trial's MLflow run",
});
const { startSweepRuns: startSweepRunsLocally } = proxyLocalActivities<SweepActivities>({
  startToCloseTimeout: waitingOutOutages.startToCloseTimeout,
  retry: ONE_LOCAL_ATTEMPT,
  summary: "the sweep's and its first trials' MLflow runs",
});
const { endTrialRuns } = proxyActivities<SweepActivities>({
  ...waitingOutOutages,
  summary: 'end MLflow runs of trials not run',
});
const { endTrialRuns: closeTrialRuns } = proxyActivities<SweepActivities>({
  ...waitingOutOutages,
  summary: "end successful trials' MLflow runs",
});
const { finishSweep } = proxyActivities<SweepActivities>({
  ...waitingOutOutages,
  summary: "the sweep's outcome and its last trial's run",
});
const { finishSweep: finishSweepLocally } = proxyLocalActivities<SweepActivities>({
  startToCloseTimeout: waitingOutOutages.startToCloseTimeout,
  retry: ONE_LOCAL_ATTEMPT,
  summary: "the sweep's outcome and its last trial's run",
});

/**
 * Histories recorded before it have each trial start its own MLflow run; after it, the sweep
 * creates each trial's run (the next round's as a round's first trial ends) and hands it over.
 */
export const TRIAL_RUNS_PATCH = 'sweep-trial-runs-ahead';
/**
 * Histories recorded before it start the parent run alone, create a round's trial runs (regular
 * activities) when its first trial is due, and have each trial end its own run. After it:
 * - one local activity starts the parent run and the first round's trial runs (`startSweepRuns`);
 * - a trial starting has the run of trial `+ maxParallel` made, its lane's likely next;
 * - the sweep ends a successful trial's run (and clears its store), batched with other trials'.
 */
export const RUNS_MADE_AND_CLOSED_PATCH = 'sweep-makes-and-closes-trial-runs';
/** Histories recorded before it plan and start the parent run as regular activities only. */
export const LOCAL_FIRST_PATCH = 'sweep-plan-and-run-locally-first';
/**
 * Histories recorded before it read every trial's metric from MLflow (in batches beside the next
 * trials, the last round's with the outcome) and ended successful trials' runs in batches to the
 * last. After it:
 * - a trial whose training reports the metric (`TrainingResult.metrics`) is ranked by that value,
 *   and only the others are read;
 * - the last trial's run (and any whose trial ended while a batch of ends was in flight then) is
 *   ended by the last step, which logs the outcome too, locally first (`finishSweep`): no
 *   activity round trip after the last trial.
 */
export const REPORTED_METRICS_PATCH = 'sweep-reported-metrics-one-last-step';

/** Runs every trial of a sweep as a child training and promotes the best trial's model. */
export async function sweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const { workflowId, startTime, runId: executionRunId, firstExecutionRunId } = workflowInfo();
  // All asked in the first activation, before any command: a replay (a query after an eviction)
  // sees their markers at the same point whatever local activities resolved when.
  const localFirst = patched(LOCAL_FIRST_PATCH);
  const trialRunsPatched = patched(TRIAL_RUNS_PATCH);
  const runsMadeAndClosed = patched(RUNS_MADE_AND_CLOSED_PATCH);
  const reportedMetrics = patched(REPORTED_METRICS_PATCH);
  const gate = new ApprovalGate();
  gate.install();
  const trials: TrialOutcome[] = input.trials.map((trial, index) => ({
    trial: index,
    values: trial.values,
    state: 'pending',
    workflowId: `${workflowId}/trial-${index}`,
  }));
  const progress: SweepProgress = {
    pipeline: input.pipeline ?? DEFAULT_PIPELINE_NAME,
    state: 'planning',
    total: trials.length,
    done: 0,
    running: 0,
    failed: 0,
    trials,
  };
  setHandler(sweepProgressQuery, () => progress);
  const count = (): void => {
    progress.done = trials.filter((t) => t.state === 'completed').length;
    progress.running = trials.filter((t) => t.state === 'running').length;
    progress.failed = trials.filter((t) => t.state === 'failed').length;
    setCurrentDetails(sweepMarkdown(progress));
  };
  count();
  if (trials.length === 0)
    throw ApplicationFailure.create({
      type: 'EmptySweep',
      message: 'The sweep has no trials.',
      nonRetryable: true,
    });

  const planning = {
    pipeline: progress.pipeline,
    ...(input.env ? { env: input.env } : {}),
    params: input.params ?? {},
    ...(input.identity ? { identity: input.identity } : {}),
  };
  const plan: PipelinePlan = localFirst
    ? await locallyFirst(
        () => planPipelineLocally(planning),
        () => planPipeline(planning),
      )
    : await onRightWorker(() => planPipeline(planning));
  upsertSearchAttributes([{ key: pipelineNameKey, value: plan.pipeline }]);
  const metric = input.metric ?? plan.promotion?.metric;
  if (!metric)
    throw ApplicationFailure.create({
      type: 'SweepMetricMissing',
      message: `The sweep of '${plan.pipeline}' names no metric and the pipeline declares no promote.metric: nothing ranks the trials.`,
      nonRetryable: true,
    });
  const maximize = input.goal
    ? input.goal === 'maximize'
    : (plan.promotion?.greaterIsBetter ?? true);

  const context: RunContext = {
    workflowId,
    pipeline: plan.pipeline,
    env: plan.env,
    params: input.params ?? {},
    identity: plan.identity,
    codeHash: plan.codeHash,
    store: plan.store,
    sweep: { id: workflowId },
    ...(input.command ? { command: input.command } : {}),
  };
  // Not cancellable: a cancel while the parent run is created would leave it RUNNING for ever. A
  // first execution (not reset, not continued as new) lets a first attempt create it unlooked-for.
  const firstExecution = executionRunId === firstExecutionRunId;
  const starting = firstExecution ? { ...context, firstExecution: true } : context;
  const maxParallel = Math.max(1, Math.floor(input.maxParallel ?? DEFAULT_MAX_PARALLEL));
  /** A local start of the runs failed, maybe after making some: the regular starts look first. */
  let localStartFailed = false;
  /**
   * The context a trial's training gives its run, as the sweep creates and ends it for the trial,
   * with the sweep's params: its session serves them all (a trial's params change no MLflow
   * setting), not one session opened per trial at once.
   */
  const trialContext = (index: number): RunContext => ({
    workflowId: trials[index]!.workflowId,
    pipeline: plan.pipeline,
    env: plan.env,
    params: context.params,
    identity: plan.identity,
    codeHash: plan.codeHash,
    store: plan.store,
    ...(input.command ? { command: input.command } : {}),
    ...(context.mlflowRunId ? { parentRunId: context.mlflowRunId } : {}),
    sweep: { id: workflowId, trial: index },
    registerModel: false,
    ...(firstExecution && !localStartFailed ? { firstExecution: true } : {}),
  });
  /**
   * Trials' runs by trial: the first round's with the sweep's run, then each lane's next one as a
   * trial starts (a round at a time in histories recorded before); settled ones in `created`.
   */
  const trialRuns = new Map<number, Promise<MlflowRunRef>>();
  const created = new Map<number, MlflowRunRef>();
  /**
   * Creates the run of trial `index`, in an activity of its own: a trial waits for its own run, not
   * for the slowest of a round's. Not cancellable: a cancel while a run is created would leave it
   * RUNNING (the sweep ends the runs of trials that never started instead).
   */
  const requestRun = (index: number): void => {
    if (index >= trials.length || trialRuns.has(index)) return;
    const run = CancellationScope.nonCancellable(() =>
      onRightWorker(() => startTrialRun(trialContext(index))),
    ).then((ref) => {
      created.set(index, ref);
      return ref;
    });
    run.catch(() => undefined);
    trialRuns.set(index, run);
  };
  /** Creates the runs of trials `from`.. (a round). */
  const requestRuns = (from: number): void => {
    for (let index = from; index < from + maxParallel; index++) requestRun(index);
  };
  /** The run of trial `index`, its round's runs requested when they are not yet. */
  const runOf = (index: number): Promise<MlflowRunRef> => {
    if (!trialRuns.has(index)) requestRuns(index);
    return trialRuns.get(index)!;
  };
  const runsAhead = plan.tracking && trialRunsPatched;
  /**
   * The sweep's run and its first trials' runs in one local activity (no task round trip). A
   * failed local attempt may have made some: the regular activities then look for them.
   */
  const startRunsTogether = async (): Promise<MlflowRunRef> => {
    try {
      const first = Array.from({ length: Math.min(maxParallel, trials.length) }, (_, i) => i);
      const made = await startSweepRunsLocally({
        sweep: starting,
        trials: first.map((index) => trialContext(index)),
      });
      made.trials.forEach((ref, index) => {
        created.set(index, ref);
        trialRuns.set(index, Promise.resolve(ref));
      });
      return made.sweep;
    } catch (error) {
      if (isCancellation(error)) throw error;
      localStartFailed = true;
      return onRightWorker(() => startMlflowRun(context));
    }
  };
  const parent = !plan.tracking
    ? undefined
    : await CancellationScope.nonCancellable(() =>
        localFirst && runsAhead && runsMadeAndClosed
          ? startRunsTogether()
          : localFirst
            ? locallyFirst(
                () => startMlflowRunLocally(starting),
                () => startMlflowRun(context),
              )
            : onRightWorker(() => startMlflowRun(starting)),
      );
  if (parent) {
    context.mlflowRunId = parent.runId;
    progress.mlflowRunId = parent.runId;
    upsertSearchAttributes([{ key: mlflowRunIdKey, value: parent.runId }]);
  }
  progress.state = 'running';
  count();

  /** The next trial a lane starts. */
  let next = 0;
  const allTrialsStarted = (): boolean => next >= trials.length;
  const record = (outcome: TrialOutcome, runId: string, value: number | null | undefined): void => {
    if (value === undefined || value === null) return;
    outcome.metric = value;
    if (beatsTrial({ trial: outcome.trial, metric: value }, progress.best, maximize))
      progress.best = { trial: outcome.trial, metric: value, mlflowRunId: runId };
  };
  // A trial's metric is read once its child ends, beside the lane's next trial. Trials that end
  // while a read is in flight wait for the next read, which takes them all in one MLflow call. The
  // trials that end once every trial has started (the last round) are read together by the
  // activity that logs the sweep's outcome: no read of their own after the last trial.
  const scoring = new Batches<{ outcome: TrialOutcome; runId: string }>(
    async (batch) => {
      try {
        const values = await onRightWorker(() =>
          readRunMetrics({
            context,
            ...(parent ? { experimentId: parent.experimentId } : {}),
            runIds: batch.map((read) => read.runId),
            metric,
          }),
        );
        for (const { outcome, runId } of batch) record(outcome, runId, values[runId]);
      } catch (error) {
        // A cancelled read belongs to a cancelled sweep, which says so itself.
        if (isCancellation(error)) return;
        for (const { outcome } of batch) {
          outcome.state = 'failed';
          outcome.error = `its metric '${metric}' could not be read: ${describeFailure(error)}`;
          log.warn(`Sweep trial ${outcome.trial} failed: ${outcome.error}`);
        }
      }
      count();
    },
    () => !allTrialsStarted(),
  );
  // Successful trials' runs are ended (and their stores cleared) a batch at a time, beside the
  // lanes' next trials; the last trial's (and any that end while a batch is in flight then), by
  // the last step.
  const endRuns = async (contexts: RunContext[]): Promise<void> => {
    try {
      await CancellationScope.nonCancellable(() =>
        onRightWorker(() => closeTrialRuns({ contexts, status: 'FINISHED', cleanup: true })),
      );
    } catch (error) {
      log.warn(`Could not end the MLflow runs of trials: ${describeFailure(error)}`);
    }
  };
  const closing = new Batches<RunContext>(
    endRuns,
    reportedMetrics
      ? () => trials.some((t) => t.state === 'pending' || t.state === 'running')
      : undefined,
  );
  /** Trials whose child workflow started: it ends its run itself, unless it succeeded here. */
  const handedOver = new Set<number>();
  const runTrial = async (outcome: TrialOutcome): Promise<void> => {
    try {
      // Running once its run exists: a trial waiting for it is still pending.
      const mlflowRun = runsAhead ? await runOf(outcome.trial) : undefined;
      // The run of the trial this lane is likely to start next is made while this one runs: a
      // lane's next trial does not wait for it (nor for a whole round's runs made at once).
      if (runsAhead && runsMadeAndClosed) requestRun(outcome.trial + maxParallel);
      outcome.state = 'running';
      count();
      const result = await executeChild(trainingWorkflow, {
        workflowId: outcome.workflowId,
        ...(input.taskQueue ? { taskQueue: input.taskQueue } : {}),
        args: [
          {
            pipeline: plan.pipeline,
            env: plan.env,
            params: input.trials[outcome.trial]!.params,
            identity: plan.identity,
            ...(input.command ? { command: input.command } : {}),
            ...(parent ? { parentRunId: parent.runId } : {}),
            sweep: { id: workflowId, trial: outcome.trial },
            registerModel: false,
            // The sweep's plan serves every trial (params change no node): one step less each.
            plan,
            ...(mlflowRun ? { mlflowRun } : {}),
            ...(mlflowRun && runsMadeAndClosed ? { sweepClosesRun: true } : {}),
            ...(input.nodeDefaults ? { nodeDefaults: input.nodeDefaults } : {}),
          },
        ],
        staticSummary: `Sweep trial ${outcome.trial}: ${JSON.stringify(outcome.values).slice(0, 300)}`,
      });
      handedOver.add(outcome.trial);
      if (result.mlflowRunId) outcome.mlflowRunId = result.mlflowRunId;
      if (result.model) outcome.modelId = result.model.modelId;
      outcome.state = 'completed';
      if (mlflowRun && runsMadeAndClosed)
        closing.push({ ...trialContext(outcome.trial), mlflowRunId: mlflowRun.runId });
      const reported = reportedMetrics ? result.metrics?.[metric] : undefined;
      // A metric the training did not report is read beside the next trial, not before it: the
      // lane starts its next trial now.
      if (result.mlflowRunId && reported !== undefined)
        record(outcome, result.mlflowRunId, reported);
      else if (result.mlflowRunId) scoring.push({ outcome, runId: result.mlflowRunId });
    } catch (error) {
      if (error instanceof ChildWorkflowFailure) handedOver.add(outcome.trial);
      outcome.state = isCancellation(error) ? 'cancelled' : 'failed';
      outcome.error = describeFailure(error);
      if (isCancellation(error)) throw error;
      log.warn(`Sweep trial ${outcome.trial} failed: ${outcome.error}`);
    } finally {
      count();
    }
  };

  let status: 'FINISHED' | 'FAILED' | 'KILLED' = 'FINISHED';
  let model: LoggedModelRef | undefined;
  let best: TrialOutcome | undefined;
  let parentEnded = false;
  try {
    const lane = async (): Promise<void> => {
      while (next < trials.length) {
        if (CancellationScope.current().consideredCancelled) return;
        await runTrial(trials[next++]!);
      }
    };
    // Every lane settles before the sweep goes on: a cancel waits for its trials to be cancelled.
    const lanes = await Promise.allSettled(
      Array.from({ length: Math.min(maxParallel, trials.length) }, lane),
    );
    const rejected = lanes.find((lane) => lane.status === 'rejected');
    if (rejected) throw rejected.reason;
    await scoring.settled();
    // Cancelled before a lane started a trial: the lanes returned, the sweep is still cancelled.
    if (CancellationScope.current().consideredCancelled)
      throw new CancelledFailure('The sweep was cancelled before its trials ran.');

    const completed = trials.filter((t) => t.state === 'completed');
    if (completed.length === 0)
      throw ApplicationFailure.create({
        type: 'AllTrialsFailed',
        message: `All ${trials.length} trials failed; the first: ${trials[0]?.error ?? 'unknown'}`,
        nonRetryable: true,
      });
    if (parent) {
      // The outcome is logged on the parent run, which it ends, with the last trials' metrics read
      // and ranked in the same activity (nothing is logged when no trial has the metric).
      const last = scoring.take();
      const leader = progress.best ? trials[progress.best.trial] : undefined;
      const outcome = {
        context,
        metric,
        ...(leader ? { best: leader } : {}),
        completed: completed.length,
        failed: progress.failed,
        endRun: true,
        unread: last.map((read) => read.outcome),
        experimentId: parent.experimentId,
        maximize,
      };
      // The last trials' runs end meanwhile (the last one's in the same step). Before the patch,
      // ends pushed while a batch was in flight stay for the batches to take.
      const finishing = reportedMetrics ? { outcome, close: closing.take() } : undefined;
      const [values] = await Promise.all([
        finishing
          ? locallyFirst(
              () => finishSweepLocally(finishing),
              () => finishSweep(finishing),
            )
          : onRightWorker(() => logSweepResult(outcome)),
        closing.settled(),
      ]);
      for (const { outcome, runId } of last) record(outcome, runId, values?.[runId]);
      parentEnded = progress.best !== undefined;
      count();
    }
    if (!progress.best && parent) {
      // Trials ran but nothing ranks them: most often a metric named without its dataset's prefix.
      const runId = completed.find((t) => t.mlflowRunId)?.mlflowRunId;
      const logged = runId ? await onRightWorker(() => listRunMetrics({ context, runId })) : [];
      throw ApplicationFailure.create({
        type: 'SweepMetricNotLogged',
        message: `None of the ${completed.length} completed trials logged the metric '${metric}', so none can be called the best and no model is registered. A trial's run logged ${logged.length ? logged.map((key) => `'${key}'`).join(', ') : 'no metric'}: set the sweep's metric (or promote.metric) to one of them (a metrics dataset logs '<dataset>.<key>').`,
        nonRetryable: true,
      });
    }
    best = progress.best ? trials[progress.best.trial] : undefined;
    const outcome = best;
    if (outcome?.modelId && outcome.mlflowRunId) {
      progress.state = 'registering';
      count();
      const registered = await onRightWorker(() =>
        registerModelVersion({
          context,
          modelId: outcome.modelId!,
          runId: outcome.mlflowRunId!,
        }),
      );
      model = registered;
    }
    progress.state = 'completed';
  } catch (error) {
    const cancelled = isCancellation(error);
    status = cancelled ? 'KILLED' : 'FAILED';
    progress.state = cancelled ? 'cancelled' : 'failed';
    throw error;
  } finally {
    await CancellationScope.nonCancellable(async () => {
      // Successful trials' runs are ended, when the outcome was not logged (a failure, a cancel).
      await closing.settled();
      const unclosed = closing.take();
      if (unclosed.length > 0) await endRuns(unclosed);
      // Runs created for trials whose training never started are ended here (KILLED when the
      // sweep was cancelled): no other workflow owns them.
      await Promise.allSettled(trialRuns.values());
      const orphans = [...created.keys()].filter((index) => !handedOver.has(index));
      if (orphans.length > 0) {
        try {
          await onRightWorker(() =>
            endTrialRuns({
              contexts: orphans.map((index) => ({
                ...trialContext(index),
                mlflowRunId: created.get(index)!.runId,
              })),
              status: status === 'KILLED' ? 'KILLED' : 'FAILED',
            }),
          );
        } catch (error) {
          log.warn(`Could not end the MLflow runs of trials not run: ${describeFailure(error)}`);
        }
      }
      // A registration that failed after the outcome ended the run FINISHED ends it FAILED again.
      if (parent && !(parentEnded && status === 'FINISHED')) {
        try {
          await onRightWorker(() => endMlflowRun({ context, status }));
        } catch (error) {
          log.warn(`Could not end the sweep's MLflow run: ${describeFailure(error)}`);
        }
      }
    });
    count();
  }

  const result: SweepResult = {
    pipeline: plan.pipeline,
    ...(parent ? { mlflowRunId: parent.runId } : {}),
    metric,
    ...(best ? { best } : {}),
    trials,
    ...(model ? { model } : {}),
    durationMs: 0,
  };
  if (model && best?.mlflowRunId) {
    progress.state = 'promoting';
    count();
    const promotion = await promote({
      context,
      model,
      runId: best.mlflowRunId,
      ...(plan.promotion ? { policy: plan.promotion } : {}),
      gate,
      report(decision, awaiting) {
        progress.promotion = decision;
        progress.state = awaiting ? 'awaiting-approval' : 'promoting';
        count();
      },
    });
    if (promotion) result.promotion = promotion;
    progress.state = 'completed';
    count();
  }
  await condition(allHandlersFinished);
  result.durationMs = Date.now() - startTime.getTime();
  return result;
}

function sweepMarkdown(progress: SweepProgress): string {
  const lines = [
    `**Sweep of ${progress.pipeline}** — ${progress.state}: ${progress.done}/${progress.total} trials done, ${progress.running} running, ${progress.failed} failed`,
  ];
  if (progress.best)
    lines.push(
      `Best so far: trial ${progress.best.trial} (${progress.best.metric}), run \`${progress.best.mlflowRunId}\``,
    );
  if (progress.mlflowRunId) lines.push(`MLflow parent run: \`${progress.mlflowRunId}\``);
  if (progress.promotion)
    lines.push(promotionMarkdown(progress.promotion, progress.state === 'awaiting-approval'));
  const text = lines.join('\n\n');
  return text.length > 20_000 ? text.slice(0, 19_999) : text;
}
