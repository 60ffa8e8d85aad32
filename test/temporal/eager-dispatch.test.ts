/**
 * A worker hands the node activities its workflow tasks schedule straight back to itself when it
 * has a free slot (Temporal's eager activity dispatch), without a trip through the task queue. Each
 * idle activity poller holds one of the worker's activity slots while it waits, so a worker with
 * as many pollers as node slots (the SDK's default, up to 10) never had a slot free for that.
 * (With 1 or 2 node slots it still cannot: the node just completed holds its slot a moment longer.)
 */
import { startTraining } from '../../src/temporal/client.js';
import { fastNodeDefaults, startHarness } from '../support/temporal.js';

/** Nanoseconds of an event's timestamp. */
function eventNanos(time: { seconds?: unknown; nanos?: number | null } | null | undefined): bigint {
  return BigInt(String(time?.seconds ?? 0)) * 1_000_000_000n + BigInt(time?.nanos ?? 0);
}

describe('eager dispatch of node activities', () => {
  it('starts most node activities of a chain in the workflow task that scheduled them, on a worker with 4 node slots', async () => {
    const harness = await startHarness({ maxConcurrentNodes: 4 });
    try {
      const handle = await startTraining(harness.client, {
        pipeline: 'long_chain',
        taskQueue: harness.taskQueue,
        nodeDefaults: fastNodeDefaults,
      });
      await handle.result();
      const events = (await handle.handle.fetchHistory()).events ?? [];
      const scheduledAt = new Map<string, bigint>();
      const gapsMs: number[] = [];
      for (const event of events) {
        const scheduled = event.activityTaskScheduledEventAttributes;
        if (scheduled?.activityType?.name === 'runNode')
          scheduledAt.set(String(event.eventId), eventNanos(event.eventTime));
        const started = event.activityTaskStartedEventAttributes;
        const at = started && scheduledAt.get(String(started.scheduledEventId));
        if (at !== undefined && at !== null && started)
          gapsMs.push(Number(eventNanos(event.eventTime) - at) / 1e6);
      }
      expect(gapsMs).toHaveLength(50);
      // Dispatched eagerly, a node starts within microseconds of being scheduled (one update of the
      // workflow's state); through the task queue it takes a transfer task, matching and a poll:
      // milliseconds. A busy machine may delay a few of the eager ones too.
      const eager = gapsMs.filter((gap) => gap < 1);
      expect(eager.length).toBeGreaterThanOrEqual(40);
    } finally {
      await harness.close();
    }
  }, 120_000);
});
