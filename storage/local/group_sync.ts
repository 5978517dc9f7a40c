/**
 * Group commit for an expensive flush such as a directory fsync.
 *
 * @module
 */

/**
 * Coalesces concurrent requests for one flush operation.
 *
 * A caller of {@linkcode GroupSync.sync} gets a promise for a run of the flush
 * that *started after* the call, so whatever the caller did before calling is
 * covered by it. While a run is in progress, every new caller waits for the
 * single next run, which starts when the current one ends: however many
 * callers arrive, at most one run is in progress and one is queued.
 *
 * A failed run rejects every caller that waited for it; the next call starts
 * a new run.
 *
 * This module does no I/O itself: the flush is passed in.
 *
 * @example
 * ```ts
 * const syncDir = new GroupSync(async () => {
 *   using dir = await Deno.open("/srv/blobs/ab");
 *   await dir.sync();
 * });
 * // after renaming a file into /srv/blobs/ab:
 * await syncDir.sync();
 * ```
 */
export class GroupSync {
  readonly #flush: () => Promise<void>;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #runs = 0;

  /** Builds a group commit around `flush`. */
  constructor(flush: () => Promise<void>) {
    this.#flush = flush;
  }

  /** How many runs of the flush have started, for tests and statistics. */
  get runs(): number {
    return this.#runs;
  }

  /** Resolves after a run of the flush that started after this call has succeeded. */
  sync(): Promise<void> {
    // A queued run has not started yet, so it starts after this call.
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#start();
    // The running flush may have started before this call: wait for the next.
    const queued = this.#running.then(ignore, ignore).then(() => {
      this.#queued = undefined;
      return this.#start();
    });
    this.#queued = queued;
    return queued;
  }

  #start(): Promise<void> {
    this.#runs++;
    // The executor runs at once and also turns a synchronous throw into a rejection.
    const run: Promise<void> = new Promise<void>((resolve) => resolve(this.#flush())).finally(
      () => {
        if (this.#running === run) this.#running = undefined;
      },
    );
    this.#running = run;
    return run;
  }
}

function ignore(): void {}
