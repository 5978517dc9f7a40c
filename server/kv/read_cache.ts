/**
 * A bounded write-through cache of point reads for {@linkcode SqliteKvStore}:
 * recently read or written keys with their values (or their absence), so hot
 * keys are answered without a trip into SQLite.
 *
 * It holds only small keys and values, evicts by generations (two maps: when
 * the young one is full it becomes the old one and the previous old one is
 * dropped; a hit in the old one is promoted — an approximate LRU at O(1)), and is
 * cleared whenever it could disagree with the database: on a rollback, and
 * on a range delete. It never holds anything the database does not hold
 * (writes go to SQLite first, then here).
 *
 * @module
 */

/** Keys longer than this are not cached. */
const MAX_KEY_BYTES = 512;
/** Values longer than this are not cached. */
export const MAX_VALUE_BYTES = 1024;

/** Marks a key known to be absent. */
const ABSENT: unique symbol = Symbol("absent");

/** The result of a cache lookup: a value, known absence, or a miss. */
export type CacheLookup = Uint8Array | typeof ABSENT | undefined;

/**
 * The cache's string form of `key` (one char per byte), or `undefined` for a
 * key too long to cache. Callers that look a key up and then remember it
 * compute this once and use the `…At` methods.
 */
export function cacheKey(key: Uint8Array): string | undefined {
  if (key.length > MAX_KEY_BYTES) return undefined;
  // Latin-1: one char per byte, so distinct keys give distinct strings.
  return String.fromCharCode.apply(null, key as unknown as number[]);
}

type Entry = Uint8Array | typeof ABSENT;

/** A bounded map from key bytes to value bytes or absence. */
export class ReadCache {
  #young = new Map<string, Entry>();
  #old = new Map<string, Entry>();
  readonly #generation: number;

  /** Marker of a known-absent key in {@linkcode ReadCache.lookup} results. */
  static readonly ABSENT: typeof ABSENT = ABSENT;

  /** Builds a cache of at most `capacity` entries. */
  constructor(capacity = 65_536) {
    this.#generation = Math.max(1, capacity >>> 1);
  }

  /** The cached value, {@linkcode ReadCache.ABSENT}, or undefined on a miss. */
  lookup(key: Uint8Array): CacheLookup {
    const k = cacheKey(key);
    return k === undefined ? undefined : this.lookupAt(k);
  }

  /** {@linkcode ReadCache.lookup} by the key's {@linkcode cacheKey}. */
  lookupAt(k: string): CacheLookup {
    const young = this.#young.get(k);
    if (young !== undefined) return young;
    const old = this.#old.get(k);
    if (old !== undefined) this.#put(k, old);
    return old;
  }

  #put(k: string, entry: Entry): void {
    if (this.#young.size >= this.#generation && !this.#young.has(k)) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(k, entry);
  }

  /** Records that `key` holds `value` (undefined: is absent). */
  remember(key: Uint8Array, value: Uint8Array | undefined): void {
    const k = cacheKey(key);
    if (k === undefined) return;
    this.#old.delete(k);
    if (value !== undefined && value.length > MAX_VALUE_BYTES) {
      this.#young.delete(k);
      return;
    }
    // A copy: the caller's array may be a view pinning a larger buffer.
    this.#put(k, value === undefined ? ABSENT : value.slice());
  }

  /**
   * Records that the key whose {@linkcode cacheKey} is `k` holds `value`,
   * which the cache keeps as is (the caller passes a private copy and never
   * modifies it). A value over the cache's limit evicts the key instead.
   */
  rememberAt(k: string, value: Uint8Array): void {
    this.#old.delete(k);
    if (value.length > MAX_VALUE_BYTES) {
      this.#young.delete(k);
      return;
    }
    this.#put(k, value);
  }

  /** Forgets everything. */
  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }

  /** Number of cached entries. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
