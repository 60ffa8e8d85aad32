import { ScheduleNotFoundError, type Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { TAG_SCHEDULE_ID, TAG_TRIGGER } from '../../src/constants.js';
import {
  applyProjectSchedules,
  compileTrainingSchedule,
  createTrainingSchedule,
  listTrainingSchedules,
  projectScheduleId,
  ScheduleOptionError,
} from '../../src/temporal/schedules.js';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes.js';
import { lifecycleProject, runOfWorkflow, tagOf, waitFor } from '../support/lifecycle.js';
import { startHarness, type TemporalHarness } from '../support/temporal.js';

const PROJECT = 'lifecycle-test-project';
let harness: TemporalHarness;
const created: string[] = [];

beforeAll(async () => {
  harness = await startHarness({ projectDir: lifecycleProject });
  await ensureSearchAttributes(harness.client.connection as Connection, 'default');
}, 120_000);

afterAll(async () => {
  for (const id of created)
    await harness?.client.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  await harness?.close();
});

describe('compileTrainingSchedule', () => {
  it.each([
    [{ cron: '0 2 * * *', every: '1h' }, 'cron', "'cron' and 'every' conflict"],
    [{}, 'every', "expected 'cron' or 'every'"],
    [{ every: 'soon' }, 'every', "expected a duration such as '10s'"],
    [{ every: '1h', overlap: 'sometimes' }, 'overlap', 'expected one of skip'],
    [{ cron: '0 * * * *', offset: '5m' }, 'offset', "'offset' applies to 'every' only"],
  ])('rejects %j naming the option %s', async (options, option, message) => {
    const error = await compileTrainingSchedule({
      scheduleId: 'x',
      taskQueue: 'q',
      ...(options as object),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScheduleOptionError);
    expect((error as ScheduleOptionError).option).toBe(option);
    expect((error as Error).message).toContain(message);
  });
});

describe('a training schedule on the real server', () => {
  it('starts trainings every 10 s that finish with their MLflow runs tagged by the schedule; pause stops new starts; delete removes it', async () => {
    const scheduleId = `test-every-10s-${randomUUID().slice(0, 8)}`;
    created.push(scheduleId);
    const handle = await createTrainingSchedule(harness.client, {
      scheduleId,
      projectDir: lifecycleProject,
      pipeline: 'sleepy',
      params: { sleep_ms: 0 },
      taskQueue: harness.taskQueue,
      every: '10s',
    });
    // Searchable by pipeline (visibility is eventually consistent).
    await waitFor('the schedule to be listed under its pipeline', async () =>
      (await listTrainingSchedules(harness.client, { pipeline: 'sleepy' })).some(
        (s) => s.scheduleId === scheduleId,
      ),
    );
    const finished = await waitFor(
      'two scheduled trainings to finish',
      async () => {
        const description = await handle.describe();
        const ids = description.info.recentActions.map((a) => a.action.workflow.workflowId);
        const statuses = await Promise.all(
          ids.map(
            async (id) => (await harness.client.workflow.getHandle(id).describe()).status.name,
          ),
        );
        const done = ids.filter((_, i) => statuses[i] === 'COMPLETED');
        return done.length >= 2 ? done : undefined;
      },
      45_000,
      500,
    );
    for (const workflowId of finished) {
      expect(workflowId.startsWith(`${scheduleId}-`)).toBe(true);
      const run = await runOfWorkflow(workflowId);
      expect(run?.info.status).toBe('FINISHED');
      expect(tagOf(run, TAG_SCHEDULE_ID)).toBe(scheduleId);
      expect(tagOf(run, TAG_TRIGGER)).toBe('schedule');
    }

    await handle.pause('test: no more runs');
    const taken = (await handle.describe()).info.numActionsTaken;
    // For more than one interval, nothing starts.
    const deadline = Date.now() + 11_000;
    while (Date.now() < deadline) {
      expect((await handle.describe()).info.numActionsTaken).toBe(taken);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect((await handle.describe()).state.paused).toBe(true);

    await handle.delete();
    await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  }, 90_000);

  it('applies the schedules defineProject declares, and a second apply changes nothing', async () => {
    const ids = ['every_hour', 'nightly'].map((name) => projectScheduleId(PROJECT, name));
    created.push(...ids);
    for (const id of ids)
      await harness.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    const options = { projectDir: lifecycleProject, taskQueue: harness.taskQueue };
    const first = await applyProjectSchedules(harness.client, options);
    expect(first.created.sort()).toEqual([...ids].sort());
    const before = await Promise.all(
      ids.map(async (id) => (await harness.client.schedule.getHandle(id).describe()).raw),
    );
    const second = await applyProjectSchedules(harness.client, options);
    expect(second).toEqual({ created: [], updated: [], unchanged: [...ids].sort(), deleted: [] });
    const after = await Promise.all(
      ids.map(async (id) => (await harness.client.schedule.getHandle(id).describe()).raw),
    );
    expect(after.map((d) => String(d.info?.updateTime?.seconds ?? ''))).toEqual(
      before.map((d) => String(d.info?.updateTime?.seconds ?? '')),
    );
    const nightly = await harness.client.schedule.getHandle(ids[1]!).describe();
    expect(nightly.state.paused).toBe(true);
    // A changed declaration (another environment) is updated in place, not recreated.
    const third = await applyProjectSchedules(harness.client, { ...options, env: 'other' });
    expect(third.updated.sort()).toEqual([...ids].sort());
  }, 60_000);
});
