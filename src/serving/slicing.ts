/**
 * Time-sliced work: request parsing is written once as generators that `yield` at cheap checkpoints
 * (every few thousand cells); {@link runSliced} runs one on the event loop and gives the loop back
 * whenever a slice's time budget is spent, so `/ping` and other requests are answered while a large
 * body is parsed; {@link runSync} runs the same generator to completion (small inputs, the CLI).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Work written as a generator: each `yield` is a point where it may be paused. */
export type Sliced<T> = Generator<void, T, void>;

/** Runs sliced work to completion without pausing. */
export function runSync<T>(work: Sliced<T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

/** Runs sliced work, yielding to the event loop after each `sliceMs` of CPU time. */
export async function runSliced<T>(work: Sliced<T>, sliceMs: number): Promise<T> {
  let sliceEnd = performance.now() + sliceMs;
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    if (performance.now() >= sliceEnd) {
      await nextTurn();
      sliceEnd = performance.now() + sliceMs;
    }
  }
}

/** Cells (or characters / 64) processed between two checkpoints of a loop. */
export const CHECKPOINT_EVERY = 4096;
