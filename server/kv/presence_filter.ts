/**
 * Which keys a kv store may hold: a Bloom filter of every key, so that a
 * lookup of a key that was never stored is answered without a trip into
 * SQLite. Such lookups are most of a new backup's: the blob index asked
 * about each new chunk, the type registry about each new metadata key.
 *
 * It must never miss a key the store holds, so:
 * - every key written is added before the write (a write rolled back leaves
 *   a false positive: harmless, the store then asks SQLite);
 * - a filter starts *unready*, answering "maybe" for every key, until a scan
 *   of the keys already stored has added them all. Keys written during the
 *   scan are added as they are written, wherever the scan is;
 * - a deleted key stays in (a Bloom filter cannot remove): a false positive
 *   until the next build;
 * - when more keys were added than it was sized for, a filter twice as big
 *   is built the same way while the full one (more false positives, never a
 *   miss) keeps answering;
 * - after another connection wrote the file, {@linkcode PresenceFilter.reset}
 *   starts over from unready.
 *
 * The scan reads {@linkcode PresenceFilterOptions.pageKeys} keys at a time,
 * each page in a task of its own (`schedule`, never inside a transaction of
 * the caller), so that a store of millions of keys is never blocked for
 * long; the first page of the first build is read at once, so that a small
 * store is ready as soon as it is opened.
 *
 * @module
 */

import { BloomFilter } from "../../memory/bloom_filter.ts";

/** Where a {@linkcode PresenceFilter} reads the keys already stored. */
export interface KeySource {
  /** Up to `limit` keys greater than `after` (from the first when undefined), in key order. */
  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[];
}

/** Options of {@linkcode PresenceFilter}. */
export interface PresenceFilterOptions {
  /** Keys the first filter is sized for (default 65,536; it grows as needed). */
  expectedKeys?: number;
  /** Bits per key (default 10: about 1% false positives when full). */
  bitsPerKey?: number;
  /** Keys read per page of a scan (default 4,096). */
  pageKeys?: number;
  /**
   * Runs `task` later, in a task of its own; returns a function that cancels
   * it. Default: a zero-delay timer that does not keep the process alive.
   */
  schedule?: (task: () => void) => () => void;
}

interface Build {
  filter: BloomFilter;
  /** Keys it is sized for. */
  capacity: number;
  /** Keys added to it (scanned or written; some twice: an upper bound). */
  keys: number;
  /** Keys its scan found (distinct). */
  scanned: number;
  /** The last key scanned. */
  after: Uint8Array | undefined;
  /** Cancels the scheduled next page. */
  cancel: (() => void) | undefined;
}

function defaultSchedule(task: () => void): () => void {
  const timer = setTimeout(task, 0);
  Deno.unrefTimer(timer);
  return () => clearTimeout(timer);
}

/** A Bloom filter of the keys of a store (see the module documentation). */
export class PresenceFilter {
  readonly #source: KeySource;
  readonly #bitsPerKey: number;
  readonly #pageKeys: number;
  readonly #schedule: (task: () => void) => () => void;
  /** The filter that answers, once built: every stored key is in it. */
  #ready: Build | undefined;
  /** The filter being built, if any. */
  #building: Build | undefined;
  #closed = false;

  /** Builds the filter of `source`'s keys, reading its first page now. */
  constructor(source: KeySource, options: PresenceFilterOptions = {}) {
    this.#source = source;
    this.#bitsPerKey = options.bitsPerKey ?? 10;
    this.#pageKeys = Math.max(1, options.pageKeys ?? 4096);
    this.#schedule = options.schedule ?? defaultSchedule;
    this.#start(Math.max(1024, options.expectedKeys ?? 65_536), true);
  }

  /** Keys the answering filter is sized for (0 before the first build ends). */
  get capacity(): number {
    return this.#ready?.capacity ?? 0;
  }

  /** Whether every stored key has been added (before that, every key may be present). */
  get ready(): boolean {
    return this.#ready !== undefined;
  }

  /** False only when `key` is certainly not stored. */
  mayContain(key: Uint8Array): boolean {
    return this.#ready === undefined || this.#ready.filter.has(key);
  }

  /** Records that `key` is (about to be) stored. */
  add(key: Uint8Array): void {
    const ready = this.#ready;
    if (ready !== undefined) {
      ready.filter.add(key);
      ready.keys++;
      if (ready.keys > ready.capacity && this.#building === undefined && !this.#closed) {
        // Writes counted here include overwrites: a new scan counts the
        // distinct keys, and the filter is sized for twice those (so
        // rewriting a few keys forever rebuilds now and then, never grows).
        this.#start(Math.max(ready.capacity, ready.scanned * 2), false);
      }
    }
    const building = this.#building;
    if (building !== undefined) {
      building.filter.add(key);
      building.keys++;
    }
  }

  /** Forgets every key and builds again from a scan (another writer changed the store). */
  reset(): void {
    this.#building?.cancel?.();
    this.#building = undefined;
    const capacity = this.#ready?.capacity ?? 65_536;
    this.#ready = undefined;
    if (!this.#closed) this.#start(capacity, false);
  }

  /** Stops building (the store is closing); the filter then stays as it is. */
  close(): void {
    this.#closed = true;
    this.#building?.cancel?.();
    this.#building = undefined;
  }

  /**
   * Starts a build for `capacity` keys: its first page `now` (only where no
   * write can be waiting in a transaction: at construction), else in a task
   * of its own — a scan inside a transaction would miss the keys written in
   * it that were added before this build existed and are not in SQLite yet.
   */
  #start(capacity: number, now: boolean): void {
    const building: Build = {
      filter: new BloomFilter(capacity, this.#bitsPerKey),
      capacity,
      keys: 0,
      scanned: 0,
      after: undefined,
      cancel: undefined,
    };
    this.#building = building;
    if (now) this.#step();
    else building.cancel = this.#schedule(() => this.#step());
  }

  /** Scans one page into the filter being built; schedules the next or finishes. */
  #step(): void {
    const building = this.#building;
    if (building === undefined) return;
    building.cancel = undefined;
    const keys = this.#source.keysAfter(building.after, this.#pageKeys);
    for (const key of keys) building.filter.add(key);
    building.keys += keys.length;
    building.scanned += keys.length;
    if (keys.length === this.#pageKeys) {
      building.after = keys[keys.length - 1];
      building.cancel = this.#schedule(() => this.#step());
      return;
    }
    this.#building = undefined;
    this.#ready = building;
    // Sized too small for what the store turned out to hold: again, bigger.
    if (building.scanned > building.capacity) this.#start(building.scanned * 2, false);
  }
}
