/** The per-listener queue behind SecretWatcher's ordering guarantee (see watch.ts). */

/** One listener's queue: calls in order, one at a time, each awaited; stop() drops what is queued. */
export class Delivery<T> {
  readonly #queue: T[] = [];
  #running: Promise<void> | undefined;
  #active = true;

  constructor(readonly call: (item: T) => void | Promise<void>, readonly fail: (error: unknown, item: T) => void) {}

  push(item: T): void {
    if (!this.#active) return;
    this.#queue.push(item);
    if (this.#running === undefined) this.#running = this.#pump();
  }

  idle(): Promise<void> | undefined {
    return this.#running;
  }

  stop(): void {
    this.#active = false;
    this.#queue.length = 0;
  }

  /** Starts on a later microtask (a listener never runs inside the read that found the change). */
  async #pump(): Promise<void> {
    await Promise.resolve();
    try {
      while (this.#active && this.#queue.length > 0) {
        const item = this.#queue.shift()!;
        try {
          await this.call(item);
        } catch (error) {
          this.fail(error, item);
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}
