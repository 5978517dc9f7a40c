/**
 * A counting semaphore that bounds how many operations run at once (shared by
 * the storage backends; storage/ imports nothing outside itself).
 *
 * @module
 */

/** Lets at most `limit` callers of {@linkcode Semaphore.run} run at once; others queue in order. */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  /** Builds a semaphore with `limit` (at least 1) permits. */
  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Runs `fn` once a permit is free, and frees it when `fn` settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      // The permit passes straight to the next waiter, so #active stays the same.
      if (next) next();
      else this.#active--;
    }
  }
}
