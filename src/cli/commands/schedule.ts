import type { Command } from 'commander';
import {
  applyProjectSchedules,
  createTrainingSchedule,
  describeTrainingSchedule,
  listTrainingSchedules,
  type OverlapPolicy,
} from '../../temporal/schedules.js';
import { workflowDefinitions } from '../../temporal/lazy-definitions.js';
import { addEnvOption, addProjectDirOption } from '../common.js';
import {
  addProjectOptions,
  reproduceCommand,
  runtimeParamsFrom,
  type ProjectCommandOptions,
} from '../common.js';
import {
  addConnectionOptions,
  withTemporalClient,
  type ConnectionCommandOptions,
} from '../connection.js';

interface CreateOptions extends ProjectCommandOptions, ConnectionCommandOptions {
  cron?: string[];
  every?: string;
  offset?: string;
  timezone?: string;
  overlap?: OverlapPolicy;
  catchupWindow?: string;
  pauseOnFailure?: boolean;
  paused?: boolean;
  note?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `temporal-mlflow schedule ...`: Temporal Schedules that start training workflows. */
export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('scheduled training: Temporal Schedules that start training workflows');

  addConnectionOptions(addProjectOptions(schedule.command('create <schedule-id>')))
    .description('create a schedule that trains the pipeline on a cron or an interval')
    .option('--cron <expr>', 'cron expression, e.g. "0 2 * * *" (repeatable)', collect)
    .option('--every <duration>', "interval, e.g. '10s', '1h', '1d'")
    .option('--offset <duration>', 'offset of the interval')
    .option('--timezone <tz>', 'time zone of cron expressions (default UTC)')
    .option(
      '--overlap <policy>',
      'skip | buffer_one | buffer_all | cancel_other | terminate_other | allow_all',
      'skip',
    )
    .option('--catchup-window <duration>', 'how late a missed run may still start', '10m')
    .option('--pause-on-failure', 'pause the schedule when a run fails', false)
    .option('--paused', 'create it paused', false)
    .option('--note <text>', 'note shown with the schedule')
    .action(async (scheduleId: string, options: CreateOptions) => {
      await withTemporalClient(options, async (client) => {
        await createTrainingSchedule(client, {
          scheduleId,
          ...(options.project ? { projectDir: options.project } : {}),
          ...(options.pipeline ? { pipeline: options.pipeline } : {}),
          ...(options.env ? { env: options.env } : {}),
          params: runtimeParamsFrom(options),
          ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
          ...(options.cron?.length ? { cron: options.cron } : {}),
          ...(options.every ? { every: options.every } : {}),
          ...(options.offset ? { offset: options.offset } : {}),
          ...(options.timezone ? { timezone: options.timezone } : {}),
          ...(options.overlap ? { overlap: options.overlap } : {}),
          ...(options.catchupWindow ? { catchupWindow: options.catchupWindow } : {}),
          pauseOnFailure: Boolean(options.pauseOnFailure),
          paused: Boolean(options.paused),
          ...(options.note ? { note: options.note } : {}),
          command: reproduceCommand('train', options),
        });
        console.log(`Schedule ${scheduleId} created.`);
      });
    });

  addConnectionOptions(schedule.command('list'))
    .description('list training schedules')
    .option('-p, --pipeline <name>', 'only schedules of this pipeline')
    .option('--project-name <name>', 'only schedules of this project')
    .action(
      async (options: ConnectionCommandOptions & { pipeline?: string; projectName?: string }) => {
        await withTemporalClient(options, async (client) => {
          const schedules = await listTrainingSchedules(client, {
            ...(options.pipeline ? { pipeline: options.pipeline } : {}),
            ...(options.projectName ? { project: options.projectName } : {}),
          });
          if (schedules.length === 0) return console.log('No training schedules.');
          for (const s of schedules) {
            const next = s.nextRuns[0]?.toISOString() ?? '-';
            console.log(
              `${s.scheduleId}\tpipeline ${s.pipeline}\t${s.paused ? 'paused' : 'active'}\tnext ${next}${s.project ? `\tproject ${s.project}` : ''}`,
            );
          }
        });
      },
    );

  addConnectionOptions(schedule.command('describe <schedule-id>'))
    .description('show a schedule: spec, state, next and recent runs')
    .action(async (scheduleId: string, options: ConnectionCommandOptions) => {
      await withTemporalClient(options, async (client) => {
        const d = await describeTrainingSchedule(client, scheduleId);
        const { pipelineNameKey } = await workflowDefinitions();
        const when = d.spec.intervals?.length
          ? d.spec.intervals.map((i) => `every ${i.every}ms`).join(', ')
          : JSON.stringify(d.spec.calendars ?? d.spec);
        console.log(`Schedule:   ${scheduleId}`);
        console.log(`Pipeline:   ${d.typedSearchAttributes.get(pipelineNameKey) ?? '-'}`);
        console.log(`When:       ${when}`);
        console.log(
          `State:      ${d.state.paused ? 'paused' : 'active'}${d.state.note ? ` (${d.state.note})` : ''}`,
        );
        console.log(
          `Overlap:    ${d.policies.overlap}, catch-up window ${d.policies.catchupWindow} ms`,
        );
        console.log(`Task queue: ${d.action.taskQueue}`);
        console.log(
          `Runs:       ${d.info.numActionsTaken} started, ${d.info.numActionsSkippedOverlap} skipped (overlap)`,
        );
        for (const time of d.info.nextActionTimes.slice(0, 3))
          console.log(`Next:       ${time.toISOString()}`);
        for (const action of d.info.recentActions.slice(-5))
          console.log(`Recent:     ${action.action.workflow.workflowId}`);
      });
    });

  for (const [name, what] of [
    ['pause', 'pause a schedule (no new runs)'],
    ['unpause', 'unpause a schedule'],
    ['trigger', 'start a run now'],
    ['delete', 'delete a schedule (its running trainings go on)'],
  ] as const) {
    addConnectionOptions(schedule.command(`${name} <schedule-id>`))
      .description(what)
      .option('--note <text>', 'why (pause, unpause)')
      .action(async (scheduleId: string, options: ConnectionCommandOptions & { note?: string }) => {
        await withTemporalClient(options, async (client) => {
          await describeTrainingSchedule(client, scheduleId); // names a missing id
          const handle = client.schedule.getHandle(scheduleId);
          if (name === 'pause') await handle.pause(options.note);
          else if (name === 'unpause') await handle.unpause(options.note);
          else if (name === 'trigger') await handle.trigger();
          else await handle.delete();
          console.log(`Schedule ${scheduleId}: ${name === 'trigger' ? 'triggered' : `${name}d`}.`);
        });
      });
  }

  addEnvOption(
    addProjectDirOption(addConnectionOptions(schedule.command('apply'))),
    'environment of schedules that name none',
    undefined,
  )
    .description("make the project's schedules (defineProject({ schedules })) real; idempotent")
    .option('--prune', "delete this project's schedules it no longer declares", false)
    .action(
      async (
        options: ConnectionCommandOptions & { project: string; env?: string; prune?: boolean },
      ) => {
        await withTemporalClient(options, async (client) => {
          const result = await applyProjectSchedules(client, {
            projectDir: options.project,
            ...(options.env ? { env: options.env } : {}),
            ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
            prune: Boolean(options.prune),
          });
          for (const id of result.created) console.log(`created   ${id}`);
          for (const id of result.updated) console.log(`updated   ${id}`);
          for (const id of result.unchanged) console.log(`unchanged ${id}`);
          for (const id of result.deleted)
            console.log(
              `${options.prune ? 'deleted  ' : 'undeclared'} ${id}${options.prune ? '' : ' (--prune deletes it)'}`,
            );
        });
      },
    );
}
