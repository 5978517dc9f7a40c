/**
 * A weighted semaphore: bounds how much work (files, bytes) is in flight.
 * Waiters are served first come, first served. A request larger than the
 * whole capacity is granted when nothing else is held, so it cannot wait
 * forever.
 *
 * @module
 */

/** A weighted semaphore. */
export class Semaphore {
  /** Total capacity. */
  readonly capacity: number;
  #held = 0;
  /** Waiters in order; `#head` is the first not yet served (shift() is O(n)). */
  #waiters: ({ weight: number; resolve: () => void } | undefined)[] = [];
  #head = 0;

  /** Builds a semaphore of `capacity` (> 0). */
  constructor(capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`Cannot make a semaphore of capacity ${capacity}`);
    this.capacity = capacity;
  }

  /** Currently held weight. */
  get held(): number {
    return this.#held;
  }

  #fits(weight: number): boolean {
    return this.#held === 0 || this.#held + weight <= this.capacity;
  }

  /** Resolves once `weight` is held; give it back with {@linkcode release}. */
  acquire(weight = 1): Promise<void> {
    if (this.#waiting === 0 && this.#fits(weight)) {
      this.#held += weight;
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ weight, resolve });
    return promise;
  }

  /** Takes `weight` if it is free now and nobody waits; whether it did. */
  tryAcquire(weight = 1): boolean {
    if (this.#waiting > 0 || !this.#fits(weight)) return false;
    this.#held += weight;
    return true;
  }

  /** Gives back `weight`, waking waiters that now fit. */
  release(weight = 1): void {
    this.#held -= weight;
    while (this.#waiting > 0 && this.#fits(this.#waiters[this.#head]!.weight)) {
      const next = this.#waiters[this.#head]!;
      this.#waiters[this.#head++] = undefined;
      this.#held += next.weight;
      next.resolve();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
  }

  get #waiting(): number {
    return this.#waiters.length - this.#head;
  }

  /** Runs `task` holding `weight`, released when it settles. */
  async run<T>(task: () => Promise<T>, weight = 1): Promise<T> {
    await this.acquire(weight);
    try {
      return await task();
    } finally {
      this.release(weight);
    }
  }
}
