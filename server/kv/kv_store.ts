/**
 * The ordered key-value store that holds every database's metadata.
 *
 * Keys and values are arbitrary byte strings. Keys are ordered by unsigned
 * byte-wise comparison (memcmp order, shorter first on a common prefix), so
 * that a range scan over an encoded key prefix returns one hash, set or list
 * in order. See `docs/data-model.md` for the key encoding.
 *
 * Contract:
 * - Every call is synchronous; the store is used from one thread only.
 * - Outside {@linkcode KvStore.transaction}, each write is its own atomic
 *   transaction.
 * - {@linkcode KvStore.transaction} runs `fn` atomically: either all of its
 *   writes are committed or none (when `fn` throws, the error is rethrown after
 *   rollback). Transactions nest: an inner one is a savepoint, so an inner
 *   failure rolls back only the inner writes.
 * - A committed write survives a crash of the process (kill -9). It survives
 *   a crash of the operating system or a power loss only once a durable
 *   transaction (`{ durable: true }`) has committed after it.
 * - `fn` must not await: a transaction never spans an event-loop turn.
 *
 * @module
 */

/** One entry returned by {@linkcode KvStore.scan}. */
export interface KvEntry {
  /** The full encoded key. */
  key: Uint8Array;
  /** The value stored under the key. */
  value: Uint8Array;
}

/** Bounds of a {@linkcode KvStore.scan}. */
export interface ScanOptions {
  /** Inclusive lower bound; no lower bound when absent. */
  start?: Uint8Array;
  /** Exclusive upper bound; no upper bound when absent. */
  end?: Uint8Array;
  /** Return at most this many entries; 0 or absent means no limit. */
  limit?: number;
  /** Walk from the upper bound downwards. */
  reverse?: boolean;
}

/** Options of {@linkcode KvStore.transaction}. */
export interface TransactionOptions {
  /**
   * When true and this is the outermost transaction, the commit is on stable
   * storage (fsynced) before `transaction` returns, together with every
   * transaction committed before it. When true in a nested transaction, the
   * commit of the outermost one is made durable in the same way.
   */
  durable?: boolean;
}

/** An ordered, transactional key-value store. */
export interface KvStore {
  /** The value under `key`, or `undefined`. */
  get(key: Uint8Array): Uint8Array | undefined;
  /**
   * Stores `value` under `key`, replacing any previous value. Inside a
   * transaction the store may keep `key` and `value` by reference until the
   * transaction ends: do not modify them before then.
   */
  set(key: Uint8Array, value: Uint8Array): void;
  /** Deletes `key`; returns whether it existed. */
  delete(key: Uint8Array): boolean;
  /** Deletes every key in [start, end); returns how many were deleted. */
  deleteRange(start: Uint8Array, end: Uint8Array): number;
  /**
   * Entries in key order (or reverse order) within the bounds. The iterator
   * reads lazily; do not write to the store while it is open, and finish it
   * (exhaust it, or leave a `for…of` early, which calls `return()`): an open
   * iterator may hold a read snapshot.
   */
  scan(options?: ScanOptions): IterableIterator<KvEntry>;
  /** Number of keys in [start, end). */
  count(start: Uint8Array, end: Uint8Array): number;
  /** Runs `fn` atomically (see the module contract). */
  transaction<T>(fn: () => T, options?: TransactionOptions): T;
  /**
   * Runs `fn`, which must only read, against one read snapshot: one read
   * transaction for many reads instead of one per read (for SQLite, far
   * fewer lock and WAL-index system calls). Inside a transaction it simply
   * runs `fn`. `fn` must not write nor start a transaction (that throws).
   */
  readBatch<T>(fn: () => T): T;
  /** Whether a transaction is open. */
  readonly inTransaction: boolean;
  /**
   * Drops whatever the store remembers of its file's content (cached reads,
   * known keys): for after another connection wrote to the file. Not inside
   * a transaction.
   */
  forgetCached(): void;
  /** Closes the store; later calls throw. */
  close(): void;
}
