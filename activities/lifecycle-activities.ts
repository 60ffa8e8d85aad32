/**
 * Activities of the model lifecycle: the promotion gate (compare with the alias holder, record the
 * decision on the version, move the alias), and what a sweep needs (read a trial's metric,
 * register the best trial's model, log the sweep's outcome on its parent run).
 */
import {
  TAG_PROMOTION_APPROVER,
  TAG_PROMOTION_COMMENT,
  TAG_PROMOTION_DECISION,
  TAG_PROMOTION_REASON,
  TAG_PROMOTION_WORKFLOW_ID,
  TAG_SWEEP_BEST_RUN_ID,
  TAG_SWEEP_BEST_TRIAL,
} from '../src/constants.js';
import type { MlflowClient } from '../src/mlflow/client.js';
import { beatsTrial } from '../workflows/sweep-ranking.js';
import { MlflowResourceNotFoundError } from '../src/mlflow/errors.js';
import { NotAPipelineMLError } from '../src/model/errors.js';
import { logPipelineModel, registerLoggedModel } from '../src/model/log-model.js';
import { isPipelineMl } from '../src/model/pipeline-ml.js';
import type { Session } from '../src/session.js';
import { assertServes } from '../src/temporal/identity.js';
import type {
  LoggedModelRef,
  PromotionDecision,
  PromotionEvaluation,
  PromotionPolicy,
  RunContext,
  TrialOutcome,
} from '../src/temporal/types.js';
import { classifyFailures } from './failures.js';
import type { SessionCache } from './session-cache.js';

export interface LifecycleActivityDeps {
  sessions: SessionCache;
  /** The configuration environment this worker serves. */
  env: string;
}

/** Run ids per `attributes.run_id IN (...)` search: well within the server's filter limits. */
const RUN_IDS_PER_SEARCH = 100;

/** The last value of a metric in a run's data, if logged. */
async function runMetric(
  client: MlflowClient,
  runId: string,
  metric: string,
): Promise<number | undefined> {
  const run = await client.runs.get(runId);
  return run.data.metrics?.find((m) => m.key === metric)?.value;
}

/**
 * The last value of `metric` in each run (null when not logged), read with one search of the runs'
 * experiment; a run the search does not return (another experiment) is read alone.
 */
async function runMetrics(
  client: MlflowClient,
  runIds: readonly string[],
  metric: string,
  experimentId: string | undefined,
): Promise<Record<string, number | null>> {
  const values: Record<string, number | null> = {};
  const wanted = [...new Set(runIds)];
  if (experimentId && wanted.length > 1) {
    for (let i = 0; i < wanted.length; i += RUN_IDS_PER_SEARCH) {
      const ids = wanted.slice(i, i + RUN_IDS_PER_SEARCH);
      const page = await client.runs.search({
        experimentIds: [experimentId],
        filter: `attributes.run_id IN (${ids.map((id) => `'${id.replace(/'/g, "\\'")}'`).join(', ')})`,
        maxResults: ids.length,
        runViewType: 'ALL',
      });
      for (const run of page.items)
        values[run.info.run_id] = run.data.metrics?.find((m) => m.key === metric)?.value ?? null;
    }
  }
  await Promise.all(
    wanted
      .filter((runId) => !(runId in values))
      .map(async (runId) => (values[runId] = (await runMetric(client, runId, metric)) ?? null)),
  );
  return values;
}

/**
 * Compares a candidate metric with the holder's: better when nobody holds the alias, or when the
 * difference in the good direction exceeds `minImprovement` (equal is not better).
 */
export function comparePromotion(
  policy: PromotionPolicy,
  candidate: number | undefined,
  champion: { version: string; value: number | undefined } | undefined,
): PromotionEvaluation {
  const { metric, alias } = policy;
  const base = {
    ...(candidate !== undefined ? { candidateValue: candidate } : {}),
    ...(champion ? { championVersion: champion.version } : {}),
    ...(champion?.value !== undefined ? { championValue: champion.value } : {}),
  };
  if (candidate === undefined)
    return {
      ...base,
      better: false,
      reason: `the new model's run logged no metric '${metric}': nothing to compare`,
    };
  if (!champion)
    return {
      ...base,
      better: true,
      reason: `no version holds @${alias} yet (${metric} ${candidate})`,
    };
  if (champion.value === undefined)
    return {
      ...base,
      better: true,
      reason: `the holder of @${alias} (version ${champion.version}) has no metric '${metric}'`,
    };
  const gain = policy.greaterIsBetter ? candidate - champion.value : champion.value - candidate;
  const better = gain > policy.minImprovement;
  const direction = policy.greaterIsBetter ? 'higher' : 'lower';
  const reason = better
    ? `${metric} ${candidate} beats ${champion.value} of version ${champion.version} (${direction} is better, by ${round(gain)} > ${policy.minImprovement})`
    : `${metric} ${candidate} does not beat ${champion.value} of version ${champion.version} (${direction} is better, improvement ${round(gain)} <= ${policy.minImprovement})`;
  return { ...base, better, reason };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * Packages a run's model without registering it (sweep trials): the LoggedModel exists, linked to
 * the run, but no registry version does. (The registered PipelineML itself is packaged: its code
 * is what the model bundles.)
 */
export async function packageUnregistered(
  session: Session,
  context: RunContext,
  heartbeat: () => void,
): Promise<LoggedModelRef> {
  const registered = session.pipeline(context.pipeline);
  if (!isPipelineMl(registered)) throw new NotAPipelineMLError(context.pipeline);
  return logPipelineModel({
    session,
    client: session.requireMlflow('Logging a model'),
    pipelineName: context.pipeline,
    pipelineMl: registered,
    runId: context.mlflowRunId!,
    packagingKey: context.workflowId,
    // An empty name overrides logModel.registeredModelName: nothing is registered.
    registeredModelName: '',
    onStage: heartbeat,
    onUploadProgress: heartbeat,
  });
}

/** The lifecycle activities, built from their dependencies. Every one is idempotent. */
export function createLifecycleActivities(deps: LifecycleActivityDeps) {
  const mlflowOf = async (
    context: RunContext,
  ): Promise<{ session: Session; client: MlflowClient }> => {
    const session = await deps.sessions.get(
      deps.env,
      context.identity.env === deps.env ? context.params : {},
    );
    assertServes(session, context.identity);
    return { session, client: session.requireMlflow('The model lifecycle') };
  };

  return {
    /** Compares the new version's run metric with the run metric of the version holding the alias. */
    async evaluatePromotion(args: {
      context: RunContext;
      model: LoggedModelRef;
      policy: PromotionPolicy;
      /** The run whose metric ranks the model (the training run; for a sweep, the best trial's). */
      runId: string;
    }): Promise<PromotionEvaluation> {
      return classifyFailures(async () => {
        const { client } = await mlflowOf(args.context);
        const { registeredModelName, registeredModelVersion } = args.model;
        // The candidate's metric and the alias holder are read at once (settled together: neither
        // failure is left unhandled).
        const [read, found] = await Promise.allSettled([
          runMetric(client, args.runId, args.policy.metric),
          client.registry.getModelVersionByAlias(registeredModelName!, args.policy.alias),
        ]);
        if (read.status === 'rejected') throw read.reason;
        if (found.status === 'rejected' && !(found.reason instanceof MlflowResourceNotFoundError))
          throw found.reason;
        const candidate = read.value;
        const holder = found.status === 'fulfilled' ? found.value : undefined;
        if (holder && holder.version === registeredModelVersion) {
          // A retried gate after the alias moved: the decision stands.
          return {
            better: true,
            reason: `version ${holder.version} holds @${args.policy.alias} already`,
            ...(candidate !== undefined ? { candidateValue: candidate } : {}),
          };
        }
        const champion = holder
          ? {
              version: holder.version,
              value: holder.run_id
                ? await runMetric(client, holder.run_id, args.policy.metric)
                : undefined,
            }
          : undefined;
        return comparePromotion(args.policy, candidate, champion);
      });
    },

    /**
     * Records the gate's decision as tags of the new version (decision, reason, approver, comment,
     * workflow), then moves the alias when the decision is `promoted`.
     */
    async recordPromotion(args: {
      context: RunContext;
      decision: PromotionDecision;
    }): Promise<void> {
      return classifyFailures(async () => {
        const { client } = await mlflowOf(args.context);
        const { registeredModelName: name, version, decision, alias } = args.decision;
        const tags: Record<string, string> = {
          [TAG_PROMOTION_DECISION]: decision,
          [TAG_PROMOTION_REASON]: args.decision.reason.slice(0, 5000),
          [TAG_PROMOTION_WORKFLOW_ID]: args.context.workflowId,
          ...(args.decision.approver ? { [TAG_PROMOTION_APPROVER]: args.decision.approver } : {}),
          ...(args.decision.comment
            ? { [TAG_PROMOTION_COMMENT]: args.decision.comment.slice(0, 5000) }
            : {}),
        };
        // The tags at once, then the alias: a version holding the alias has its decision recorded.
        await Promise.all(
          Object.entries(tags).map(([key, value]) =>
            client.registry.setModelVersionTag(name, version, key, value),
          ),
        );
        if (decision === 'promoted') await client.registry.setAlias(name, alias, version);
      });
    },

    /** The last value of `metric` in a run (undefined when not logged). */
    async readRunMetric(args: {
      context: RunContext;
      runId: string;
      metric: string;
    }): Promise<number | undefined> {
      return classifyFailures(async () => {
        const { client } = await mlflowOf(args.context);
        return runMetric(client, args.runId, args.metric);
      });
    },

    /**
     * The last value of `metric` in each of several runs (null when not logged), read with one
     * search of the runs' experiment; a run the search does not return (another experiment) is
     * read alone. A sweep reads the trials that finished meanwhile in one call.
     */
    async readRunMetrics(args: {
      context: RunContext;
      /** The experiment the runs are in (the sweep's parent run's). */
      experimentId?: string;
      runIds: string[];
      metric: string;
    }): Promise<Record<string, number | null>> {
      return classifyFailures(async () => {
        const { client } = await mlflowOf(args.context);
        return runMetrics(client, args.runIds, args.metric, args.experimentId);
      });
    },

    /** The keys of the metrics a run logged (what a sweep's metric may name). */
    async listRunMetrics(args: { context: RunContext; runId: string }): Promise<string[]> {
      return classifyFailures(async () => {
        const { client } = await mlflowOf(args.context);
        const run = await client.runs.get(args.runId);
        return (run.data.metrics ?? []).map((m) => m.key).sort();
      });
    },

    /** Registers a logged model (a sweep's best trial) as a version of the pipeline's registered model. */
    async registerModelVersion(args: {
      context: RunContext;
      modelId: string;
      runId: string;
    }): Promise<LoggedModelRef | undefined> {
      return classifyFailures(async () => {
        const { session, client } = await mlflowOf(args.context);
        const pipeline = session.pipeline(args.context.pipeline);
        if (!isPipelineMl(pipeline)) throw new NotAPipelineMLError(args.context.pipeline);
        const name = pipeline.logModel.registeredModelName;
        const ref: LoggedModelRef = {
          modelId: args.modelId,
          modelUri: `models:/${args.modelId}`,
          runModelUri: `runs:/${args.runId}/${pipeline.logModel.name}`,
        };
        if (!name) return ref;
        const version = await registerLoggedModel(client, {
          registeredName: name,
          modelId: args.modelId,
          runId: args.runId,
        });
        const alias = pipeline.promote?.alias ?? pipeline.logModel.alias;
        return {
          ...ref,
          registeredModelName: name,
          registeredModelVersion: version.version,
          ...(alias ? { alias } : {}),
        };
      });
    },

    /**
     * Logs the sweep's outcome on its parent run (best trial, its metric and params, counts), maybe
     * ending it. The trials whose metric the sweep has not read yet (`unread`: those that ended
     * last) are read here first and ranked with `best`, one activity fewer after the last trial.
     * Returns the values read (null: not logged); when no trial has the metric, nothing is logged
     * (the sweep fails, saying so).
     */
    async logSweepResult(args: {
      context: RunContext;
      metric: string;
      best?: TrialOutcome;
      completed: number;
      failed: number;
      /** End the parent run FINISHED as well (one activity instead of two). */
      endRun?: boolean;
      /** Completed trials (with their run) whose metric is still to be read. */
      unread?: TrialOutcome[];
      /** The experiment of the trials' runs (the parent run's): one search reads them all. */
      experimentId?: string;
      /** @default true */
      maximize?: boolean;
    }): Promise<Record<string, number | null>> {
      return classifyFailures(async () => {
        const { client } = await mlflowOf(args.context);
        const runId = args.context.mlflowRunId;
        const unread = (args.unread ?? []).filter((trial) => trial.mlflowRunId);
        const values = unread.length
          ? await runMetrics(
              client,
              unread.map((trial) => trial.mlflowRunId!),
              args.metric,
              args.experimentId,
            )
          : {};
        let best: (TrialOutcome & { metric: number }) | undefined =
          args.best?.metric !== undefined ? { ...args.best, metric: args.best.metric } : undefined;
        for (const trial of unread) {
          const metric = values[trial.mlflowRunId!];
          if (metric === null || metric === undefined) continue;
          if (beatsTrial({ trial: trial.trial, metric }, best, args.maximize ?? true))
            best = { ...trial, metric };
        }
        if (!runId || (args.unread && !best)) return values;
        // Logged and ended at once (MLflow logs to an ended run too): the activity completes once
        // both are done, and a retry does both again.
        await Promise.all([
          client.runs.logBatch(runId, {
            metrics: [
              { key: 'trials_completed', value: args.completed, step: 0 },
              { key: 'trials_failed', value: args.failed, step: 0 },
              ...(best ? [{ key: `best_${args.metric}`, value: best.metric, step: 0 }] : []),
            ],
            tags: best?.mlflowRunId
              ? {
                  [TAG_SWEEP_BEST_RUN_ID]: best.mlflowRunId,
                  [TAG_SWEEP_BEST_TRIAL]: String(best.trial),
                  'temporal_mlflow.sweep.best_params': JSON.stringify(best.values).slice(0, 7000),
                }
              : {},
          }),
          args.endRun ? client.runs.end(runId, 'FINISHED') : undefined,
        ]);
        return values;
      });
    },
  };
}

export type LifecycleActivities = ReturnType<typeof createLifecycleActivities>;
