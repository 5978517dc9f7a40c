/**
 * Group commit: the synchronous command runs of every connection that become
 * ready in the same event-loop turn share one kv transaction.
 *
 * With 50 clients each sending a pipeline, one commit then covers hundreds of
 * commands instead of 16, which divides the per-commit cost (WAL frames of
 * every page touched) accordingly. A job is queued, and the queue is flushed
 * in a microtask — after every connection whose read completed in this turn
 * has queued its job — inside one transaction. Jobs run in queue order; each
 * job's own commands stay in order. A job that throws (a fault of the
 * server: jobs answer client errors with error replies) rolls the whole
 * group back, and so does a failed commit: every job of the group fails, and
 * nothing is acknowledged that is not committed.
 *
 * @module
 */

import type { KvStore } from "./kv/kv_store.ts";

interface Job {
  run(): void;
  fail(cause: unknown): void;
  settle(): void;
}

/** Runs synchronous jobs against one kv store, many per transaction. */
export class GroupCommitter {
  readonly #kv: KvStore;
  #queue: Job[] = [];

  /** Builds a committer for `kv`. */
  constructor(kv: KvStore) {
    this.#kv = kv;
  }

  /**
   * Runs `fn` inside the next group transaction; resolves with its result
   * once that transaction has committed. `fn` must not await.
   */
  submit<T>(fn: () => T): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    let result: T;
    this.#queue.push({
      run() {
        result = fn();
      },
      fail: reject,
      settle: () => resolve(result),
    });
    if (this.#queue.length === 1) queueMicrotask(() => this.#flush());
    return promise;
  }

  #flush(): void {
    const jobs = this.#queue;
    this.#queue = [];
    try {
      this.#kv.transaction(() => {
        for (const job of jobs) job.run();
      });
    } catch (cause) {
      for (const job of jobs) job.fail(cause);
      return;
    }
    for (const job of jobs) job.settle();
  }
}
