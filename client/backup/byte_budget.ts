/**
 * A counting semaphore over bytes: bounds the memory held by chunks between
 * reading and uploading, whatever the number and size of files in flight.
 *
 * @module
 */

/** Limits the bytes held at once; waiters are served in order. */
export class ByteBudget {
  readonly #limit: number;
  #used = 0;
  readonly #waiters: { bytes: number; resolve: () => void }[] = [];

  /** Builds a budget of `limit` bytes. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Waits until `bytes` fit, then takes them. A request larger than the
   * whole budget is served when nothing else is held.
   */
  acquire(bytes: number): Promise<void> {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push({ bytes, resolve }));
  }

  /** Takes `bytes` if they fit now, without waiting. */
  tryAcquire(bytes: number): boolean {
    if (this.#waiters.length > 0 || !this.#fits(bytes)) return false;
    this.#used += bytes;
    return true;
  }

  /** Gives `bytes` back. */
  release(bytes: number): void {
    this.#used -= bytes;
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0].bytes)) {
      const waiter = this.#waiters.shift()!;
      this.#used += waiter.bytes;
      waiter.resolve();
    }
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.#limit;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }
}

/** Runs at most `limit` tasks at once. */
export class TaskLimit {
  readonly #limit: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  /** Builds a limit of `limit` concurrent tasks. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Runs `task` when a slot is free. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
