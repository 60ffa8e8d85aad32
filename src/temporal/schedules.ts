/**
 * Scheduled training: Temporal Schedules whose action starts `trainingWorkflow` (cron or interval,
 * params, environment, pipeline). They show in the Temporal UI's Schedules page, carry the
 * pipeline as the `PipelineName` search attribute (on the schedule and on each run it starts), and
 * each run's MLflow run is tagged with the schedule (Temporal sets `TemporalScheduledById`).
 *
 * Options pass Temporal's three stages: `TrainingScheduleOptions` (documented defaults) →
 * `compileTrainingSchedule` (defaults applied, durations in ms, conflicts named) → the Temporal
 * `ScheduleOptions` created or updated.
 */
import type {
  Client,
  ScheduleDescription,
  ScheduleHandle,
  ScheduleOptions,
  ScheduleOverlapPolicy,
  ScheduleSpec,
  ScheduleSummary,
} from '@temporalio/client';
import { createHash } from 'node:crypto';
import { workflowDefinitions } from './lazy-definitions.js';
import {
  DEFAULT_PIPELINE_NAME,
  SCHEDULE_MEMO_PROJECT,
  SCHEDULE_MEMO_SPEC_HASH,
  SEARCH_ATTRIBUTE_PIPELINE_NAME,
} from '../constants.js';
import { parseDuration } from '../pipeline/node-options.js';
import { loadProject } from '../project/load-project.js';
import type { ScheduleDeclaration } from '../project/define-project.js';
import { compileTrainingOptions, type StartTrainingOptions } from './client.js';

/** The workflow type schedules start. */
const TRAINING_WORKFLOW_TYPE = 'trainingWorkflow';

/** What a schedule does when a run is due while the previous one still runs. */
export type OverlapPolicy =
  'skip' | 'buffer_one' | 'buffer_all' | 'cancel_other' | 'terminate_other' | 'allow_all';
const OVERLAP_POLICIES: readonly OverlapPolicy[] = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'terminate_other',
  'allow_all',
];

/** @default 'skip': a training never overlaps the previous one of its schedule. */
export const DEFAULT_OVERLAP_POLICY: OverlapPolicy = 'skip';
/** @default '10m': runs missed while Temporal was down for longer are skipped, not replayed. */
export const DEFAULT_CATCHUP_WINDOW = '10m';

/** A bad schedule option; the message names the option and what was expected. */
export class ScheduleOptionError extends Error {
  override readonly name = 'ScheduleOptionError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`Invalid schedule option '${option}': ${message}`);
  }
}

export interface TrainingScheduleOptions extends Omit<StartTrainingOptions, 'workflowId'> {
  /** The schedule's id (unique in the namespace). */
  scheduleId: string;
  /** Cron expression(s), e.g. `'0 2 * * *'`. Exactly one of `cron` and `every`. */
  cron?: string | string[];
  /** Interval, e.g. `'10s'`, `'1h'`, `'1d'`, or milliseconds. */
  every?: string | number;
  /** Offset of the interval (e.g. `'15m'` past each hour for `every: '1h'`). */
  offset?: string | number;
  /** Time zone of cron expressions. @default 'UTC' */
  timezone?: string;
  /** @default 'skip' */
  overlap?: OverlapPolicy;
  /** @default '10m' */
  catchupWindow?: string | number;
  /** Pause the schedule when a run it started fails. @default false */
  pauseOnFailure?: boolean;
  /** Create the schedule paused. @default false */
  paused?: boolean;
  /** A note shown with the schedule in the UI. */
  note?: string;
}

/** A schedule's options with defaults applied and the training compiled. */
export interface CompiledTrainingSchedule {
  scheduleId: string;
  /** The project the schedule belongs to, when `projectDir` was given. */
  project?: string;
  pipeline: string;
  options: ScheduleOptions;
  /** Hash of everything apply compares (spec, action, policies). */
  specHash: string;
}

function durationMs(option: string, value: string | number): number {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0)
    throw new ScheduleOptionError(
      option,
      `expected a duration such as '10s', '15m', '1h', '1d' or milliseconds > 0, got ${JSON.stringify(value)}.`,
    );
  return ms;
}

/** Applies defaults, checks the options (conflicts named) and compiles the training it starts. */
export async function compileTrainingSchedule(
  options: TrainingScheduleOptions,
): Promise<CompiledTrainingSchedule> {
  if (typeof options.scheduleId !== 'string' || options.scheduleId.length === 0)
    throw new ScheduleOptionError('scheduleId', 'expected a non-empty string.');
  const crons = options.cron === undefined ? [] : [options.cron].flat();
  if (crons.length > 0 && options.every !== undefined)
    throw new ScheduleOptionError('cron', "'cron' and 'every' conflict: give one of them.");
  if (crons.length === 0 && options.every === undefined)
    throw new ScheduleOptionError('every', "expected 'cron' or 'every' (when to train).");
  if (options.offset !== undefined && options.every === undefined)
    throw new ScheduleOptionError('offset', "'offset' applies to 'every' only.");
  const overlap = options.overlap ?? DEFAULT_OVERLAP_POLICY;
  if (!OVERLAP_POLICIES.includes(overlap))
    throw new ScheduleOptionError(
      'overlap',
      `expected one of ${OVERLAP_POLICIES.join(', ')}, got ${JSON.stringify(overlap)}.`,
    );
  const catchupWindowMs = durationMs(
    'catchupWindow',
    options.catchupWindow ?? DEFAULT_CATCHUP_WINDOW,
  );
  const spec: ScheduleSpec =
    options.every !== undefined
      ? {
          intervals: [
            {
              every: durationMs('every', options.every),
              ...(options.offset !== undefined
                ? { offset: durationMs('offset', options.offset) }
                : {}),
            },
          ],
        }
      : { cronExpressions: crons, timezone: options.timezone ?? 'UTC' };

  const { scheduleId, cron: _c, every: _e, offset: _o, timezone: _t, ...training } = options;
  const compiled = await compileTrainingOptions({ ...training, workflowId: scheduleId });
  const project = compiled.identity?.project;
  const policies = {
    overlap: overlap.toUpperCase() as ScheduleOverlapPolicy,
    catchupWindow: catchupWindowMs,
    pauseOnFailure: options.pauseOnFailure ?? false,
  };
  const specHash = createHash('sha256')
    .update(
      stableJson({
        spec,
        policies,
        taskQueue: compiled.taskQueue,
        args: [compiled.input],
        pipeline: compiled.pipeline,
        note: options.note ?? '',
      }),
    )
    .digest('hex')
    .slice(0, 32);
  const { pipelineNameKey } = await workflowDefinitions();
  const action = {
    type: 'startWorkflow' as const,
    // The hash lives in the action's memo, which updates can change (the schedule's memo cannot).
    memo: { [SCHEDULE_MEMO_SPEC_HASH]: specHash } as Record<string, unknown>,
    workflowType: TRAINING_WORKFLOW_TYPE,
    // Temporal appends the scheduled time: `<scheduleId>-<timestamp>`.
    workflowId: scheduleId,
    taskQueue: compiled.taskQueue,
    args: [compiled.input],
    staticSummary: `Scheduled training of \`${compiled.pipeline}\` (schedule \`${scheduleId}\`)`,
    typedSearchAttributes: [{ key: pipelineNameKey, value: compiled.pipeline }],
  };
  return {
    scheduleId,
    ...(project ? { project } : {}),
    pipeline: compiled.pipeline,
    specHash,
    options: {
      scheduleId,
      spec,
      action,
      policies,
      state: {
        paused: options.paused ?? false,
        ...(options.note ? { note: options.note } : {}),
      },
      memo: { ...(project ? { [SCHEDULE_MEMO_PROJECT]: project } : {}) },
      typedSearchAttributes: [{ key: pipelineNameKey, value: compiled.pipeline }],
    },
  };
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** Creates a Temporal Schedule that starts a training workflow of the pipeline on every tick. */
export async function createTrainingSchedule(
  client: Client,
  options: TrainingScheduleOptions,
): Promise<ScheduleHandle> {
  const compiled = await compileTrainingSchedule(options);
  return client.schedule.create(compiled.options);
}

type PipelineNameKey = Awaited<ReturnType<typeof workflowDefinitions>>['pipelineNameKey'];

/** One schedule as `listTrainingSchedules` reports it. */
export interface TrainingScheduleSummary {
  scheduleId: string;
  pipeline?: string;
  project?: string;
  paused: boolean;
  note?: string;
  /** Next times it fires. */
  nextRuns: Date[];
  /** Workflow ids of its most recent runs. */
  recentRuns: string[];
}

function summarize(
  summary: ScheduleSummary,
  pipelineNameKey: PipelineNameKey,
): TrainingScheduleSummary {
  const pipeline = summary.typedSearchAttributes?.get(pipelineNameKey);
  const project = summary.memo?.[SCHEDULE_MEMO_PROJECT];
  return {
    scheduleId: summary.scheduleId,
    ...(pipeline ? { pipeline } : {}),
    ...(typeof project === 'string' ? { project } : {}),
    paused: summary.state.paused,
    ...(summary.state.note ? { note: summary.state.note } : {}),
    nextRuns: summary.info.nextActionTimes ?? [],
    recentRuns: (summary.info.recentActions ?? []).map(
      (action) => action.action.workflow.workflowId,
    ),
  };
}

/** Training schedules (those whose runs carry a pipeline), optionally of one pipeline or project. */
export async function listTrainingSchedules(
  client: Client,
  filter: { pipeline?: string; project?: string } = {},
): Promise<TrainingScheduleSummary[]> {
  const query = filter.pipeline
    ? `${SEARCH_ATTRIBUTE_PIPELINE_NAME} = '${filter.pipeline.replace(/'/g, "\\'")}'`
    : undefined;
  const found: TrainingScheduleSummary[] = [];
  const { pipelineNameKey } = await workflowDefinitions();
  for await (const summary of client.schedule.list(query ? { query } : {})) {
    const item = summarize(summary, pipelineNameKey);
    if (!item.pipeline) continue;
    if (filter.pipeline && item.pipeline !== filter.pipeline) continue;
    if (filter.project && item.project !== filter.project) continue;
    found.push(item);
  }
  return found.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/** What `applyProjectSchedules` did to each schedule. */
export interface ApplyResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  /** Schedules of the project no longer declared (deleted only with `prune`). */
  deleted: string[];
}

export interface ApplyProjectSchedulesOptions {
  projectDir: string;
  /** Environment of schedules that name none. @default 'local' */
  env?: string;
  /** Task queue of the runs. @default the project's */
  taskQueue?: string;
  /** Delete this project's schedules that `defineProject({ schedules })` no longer declares. @default false */
  prune?: boolean;
}

/** The schedule id of a declared schedule: `<project>-<name>`. */
export function projectScheduleId(project: string, name: string): string {
  return `${project}-${name}`;
}

/** A declared schedule as `TrainingScheduleOptions`. */
export function declarationOptions(
  project: string,
  name: string,
  declaration: ScheduleDeclaration,
  defaults: { projectDir: string; env?: string; taskQueue?: string },
): TrainingScheduleOptions {
  return {
    ...declaration,
    scheduleId: declaration.scheduleId ?? projectScheduleId(project, name),
    projectDir: defaults.projectDir,
    pipeline: declaration.pipeline ?? DEFAULT_PIPELINE_NAME,
    ...((declaration.env ?? defaults.env) ? { env: declaration.env ?? defaults.env } : {}),
    ...(defaults.taskQueue ? { taskQueue: defaults.taskQueue } : {}),
    command: `temporal-mlflow schedule apply (schedule ${name})`,
  };
}

/**
 * Makes the Temporal Schedules match `defineProject({ schedules })`: creates the missing ones,
 * updates those whose declaration changed (compared by a hash kept in the schedule's memo) and
 * leaves the others alone, so applying twice changes nothing the second time. A paused schedule
 * stays paused (pausing is an operator's decision, not the declaration's).
 */
export async function applyProjectSchedules(
  client: Client,
  options: ApplyProjectSchedulesOptions,
): Promise<ApplyResult> {
  const loaded = await loadProject(options.projectDir);
  const project = loaded.definition.name;
  const declared = loaded.definition.schedules;
  const result: ApplyResult = { created: [], updated: [], unchanged: [], deleted: [] };
  const ids = new Set<string>();
  for (const [name, declaration] of Object.entries(declared)) {
    const compiled = await compileTrainingSchedule(
      declarationOptions(project, name, declaration, options),
    );
    ids.add(compiled.scheduleId);
    const handle = client.schedule.getHandle(compiled.scheduleId);
    let current: ScheduleDescription | undefined;
    try {
      current = await handle.describe();
    } catch (error) {
      if (!isScheduleNotFound(error)) throw error;
    }
    if (!current) {
      await client.schedule.create(compiled.options);
      result.created.push(compiled.scheduleId);
    } else if (current.action.memo?.[SCHEDULE_MEMO_SPEC_HASH] === compiled.specHash) {
      result.unchanged.push(compiled.scheduleId);
    } else {
      const { spec, action, policies, state } = compiled.options;
      await handle.update((previous) => ({
        ...previous,
        spec,
        action,
        policies: { ...previous.policies, ...policies },
        // Paused stays as an operator left it; the note follows the declaration.
        state: { ...previous.state, note: state?.note ?? '' },
      }));
      result.updated.push(compiled.scheduleId);
    }
  }
  const ours = await listTrainingSchedules(client, { project });
  for (const schedule of ours) {
    if (ids.has(schedule.scheduleId)) continue;
    if (options.prune) await client.schedule.getHandle(schedule.scheduleId).delete();
    result.deleted.push(schedule.scheduleId);
  }
  return result;
}

/** A handle on a schedule, with a message naming the id when it does not exist. */
export async function describeTrainingSchedule(
  client: Client,
  scheduleId: string,
): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (error) {
    if (isScheduleNotFound(error))
      throw new ScheduleOptionError(
        'scheduleId',
        `no schedule '${scheduleId}' (list them with \`temporal-mlflow schedule list\`).`,
      );
    throw error;
  }
}

/**
 * Temporal's `ScheduleNotFoundError`, told by its name: importing `@temporalio/client` for the
 * class would make every import of this package pay for the client.
 */
function isScheduleNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'ScheduleNotFoundError';
}
