/**
 * Items handled a batch at a time, one call in flight: items pushed while it runs wait for the
 * next call, which takes them all. While `open()` is false no call starts; the items stay for
 * `take()`.
 */
export class Batches<T> {
  readonly #pending: T[] = [];
  readonly #calls: Promise<void>[] = [];
  #running = false;

  constructor(
    private readonly handle: (batch: T[]) => Promise<void>,
    private readonly open: () => boolean = () => true,
  ) {}

  push(item: T): void {
    this.#pending.push(item);
    if (!this.#running && this.open()) this.#calls.push(this.#drain());
  }

  /** The items no call took (those pushed while closed). */
  take(): T[] {
    return this.#pending.splice(0);
  }

  /** Settles once every call started so far has. */
  async settled(): Promise<void> {
    await Promise.all(this.#calls);
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#pending.length > 0 && this.open()) await this.handle(this.#pending.splice(0));
    } finally {
      this.#running = false;
    }
  }
}
