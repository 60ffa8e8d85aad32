import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import { WRONG_WORKER_FAILURE_TYPE } from '../src/constants.js';

/** True when an activity failed because the workers that took it cannot serve this run. */
export function isWrongWorker(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === WRONG_WORKER_FAILURE_TYPE
  );
}

const FIRST_WAIT_MS = 1_000;
const LONGEST_WAIT_MS = 60_000;

/**
 * Runs an activity call until a worker that serves this run executes it. Handing back is a
 * retryable failure, so Temporal retries it within the activity's own attempts (the UI shows the
 * message as the pending activity's last failure); when those are used up by wrong workers the call
 * is scheduled again after a growing pause, so a misconfigured queue never fails the run for good.
 */
export async function onRightWorker<T>(
  call: () => Promise<T>,
  onHandedBack?: (error: unknown) => void,
): Promise<T> {
  for (let round = 0; ; round++) {
    try {
      return await call();
    } catch (error) {
      if (!isWrongWorker(error)) throw error;
      onHandedBack?.(error);
      await sleep(Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(round, 6)));
    }
  }
}
