import { pollEvery } from '../../src/cli/connection.js';
import { waitFor } from '../support/worker-process.js';

describe('pollEvery', () => {
  it('stops without waiting for the call in flight: it aborts it', async () => {
    let started = 0;
    let aborted = 0;
    const polling = pollEvery(10, (signal) => {
      started++;
      // A call that ends only when aborted (a query waiting for a worker to replay a history).
      return new Promise<void>((_resolve, reject) =>
        signal.addEventListener('abort', () => {
          aborted++;
          reject(new Error('aborted'));
        }),
      );
    });
    await waitFor(() => started === 1, 'a call in flight', 5_000, 1);
    await polling.stop();
    expect(aborted).toBe(1);
    expect(started).toBe(1);
  });

  it('makes one call at a time and none after stop', async () => {
    let calls = 0;
    let inFlight = 0;
    let most = 0;
    const polling = pollEvery(5, async () => {
      calls++;
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
    });
    await waitFor(() => calls >= 3, 'three calls', 5_000, 1);
    await polling.stop();
    const atStop = calls;
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(atStop);
    expect(most).toBe(1);
  });

  it('makes its first call after firstAfterMs, then one every intervalMs', async () => {
    const started = performance.now();
    const calls: number[] = [];
    const polling = pollEvery(5, async () => void calls.push(performance.now() - started), {
      firstAfterMs: 200,
    });
    await waitFor(() => calls.length >= 3, 'three calls', 5_000, 1);
    await polling.stop();
    // Timers never fire early: the first call waited for firstAfterMs, not for intervalMs.
    expect(calls[0]).toBeGreaterThanOrEqual(199);
  });
});
