/**
 * Time-sliced work: request parsing is written once as generators that `yield` at cheap checkpoints
 * (every few thousand cells); {@link runSliced} runs one on the event loop and gives the loop back
 * whenever a slice's time budget is spent, so `/ping` and other requests are answered while a large
 * body is parsed; {@link runSync} runs the same generator to completion (small inputs, the CLI).
 */
/** Work written as a generator: each `yield` is a point where it may be paused. */
export type Sliced<T> = Generator<void, T, void>;

/** Runs sliced work to completion without pausing. */
export function runSync<T>(work: Sliced<T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

interface Task {
  work: Sliced<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * All sliced work of the process shares one budget per turn of the event loop: tasks take steps in
 * turn until `sliceMs` is spent, then the loop polls I/O (health checks, new requests) before the
 * next turn. (Each task yielding with its own `setImmediate` would not do: Node runs every queued
 * immediate in one phase, so 16 large requests would hold the loop for 16 slices.)
 */
class Scheduler {
  private readonly queue: Task[] = [];
  private scheduled = false;
  private sliceMs = 4;

  add(task: Task, sliceMs: number): void {
    this.queue.push(task);
    this.sliceMs = sliceMs;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  private readonly turn = (): void => {
    const end = performance.now() + this.sliceMs;
    while (this.queue.length > 0) {
      const task = this.queue[0]!;
      let done = false;
      try {
        const step = task.work.next();
        if (step.done) {
          done = true;
          task.resolve(step.value);
        }
      } catch (e) {
        done = true;
        task.reject(e);
      }
      this.queue.shift();
      if (!done) this.queue.push(task);
      if (performance.now() >= end) break;
    }
    if (this.queue.length > 0) setImmediate(this.turn);
    else this.scheduled = false;
  };
}

const scheduler = new Scheduler();

/**
 * Runs sliced work on the event loop, sharing each turn's `sliceMs` budget with the other sliced
 * work in progress; the loop polls I/O between turns.
 */
export function runSliced<T>(work: Sliced<T>, sliceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    scheduler.add({ work, resolve: resolve as (v: unknown) => void, reject }, sliceMs),
  );
}

/** Cells (or characters / 64) processed between two checkpoints of a loop. */
export const CHECKPOINT_EVERY = 4096;
