import { ActivityFailure, ApplicationFailure, isCancellation, sleep } from '@temporalio/workflow';
import { WRONG_WORKER_FAILURE_TYPE } from '../src/constants.js';

/**
 * True when an activity failed because the workers that took it cannot serve this run. A regular
 * activity's failure wraps the hand-back (`ActivityFailure` → `ApplicationFailure`); a local
 * activity's arrives as the `ApplicationFailure` itself.
 */
export function isWrongWorker(error: unknown): boolean {
  const failure = error instanceof ActivityFailure ? error.cause : error;
  return failure instanceof ApplicationFailure && failure.type === WRONG_WORKER_FAILURE_TYPE;
}

const FIRST_WAIT_MS = 1_000;
const LONGEST_WAIT_MS = 60_000;

/** The pause before scheduling a call again after `round` hand-backs (1 s, doubling, at most 1 min). */
export function handBackPause(round: number): number {
  return Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(round, 6));
}

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
      await sleep(handBackPause(round));
    }
  }
}

/**
 * Runs a step as a local activity in this worker (`local`, one attempt); when that attempt fails
 * (this worker may not serve the run), as a regular activity (`regular`) that the right worker
 * takes, with its own retry policy. A cancellation is not retried.
 */
export async function locallyFirst<T>(
  local: () => Promise<T>,
  regular: () => Promise<T>,
): Promise<T> {
  try {
    return await local();
  } catch (error) {
    if (isCancellation(error)) throw error;
    return onRightWorker(regular);
  }
}
