/**
 * The inodes of a mount: numbers derived from each node's identity, and a
 * table of the nodes the kernel may still ask about.
 *
 * A node's number is a 53-bit hash of its identity (a string the file
 * system builds from what makes the node distinct: its parent, its meta key,
 * …), so a node forgotten and met again gets the same number back, for the
 * life of the session and across sessions. Two identities with the same hash
 * (about one chance in 10^7 for 50,000 live nodes) are told apart by probing
 * the next free number.
 *
 * Memory: a node stays while the kernel holds a lookup of it (counted by
 * {@linkcode InodeTable.lookup}, dropped by {@linkcode InodeTable.forget});
 * nodes without lookups (listed by readdir, or forgotten) stay in a
 * bounded least-recently-used set and are dropped beyond it.
 *
 * @module
 */

/** Smallest hashed inode number; smaller ones are for fixed nodes. */
export const FIRST_HASHED_INODE = 16;
const LAST_INODE = Number.MAX_SAFE_INTEGER;

/**
 * The inode number of `identity`: a 53-bit hash (cyrb53) mapped into
 * [{@linkcode FIRST_HASHED_INODE}, 2^53 - 1].
 */
export function inodeOf(identity: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < identity.length; i++) {
    const ch = identity.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const hash = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return FIRST_HASHED_INODE + hash % (LAST_INODE - FIRST_HASHED_INODE + 1);
}

interface Entry<T> {
  identity: string;
  value: T;
  /** Lookups the kernel holds; Infinity for fixed nodes. */
  lookups: number;
}

/** Nodes by inode number. */
export class InodeTable<T> {
  readonly #entries = new Map<number, Entry<T>>();
  /** Nodes without lookups, least recently used first. */
  readonly #idle = new Map<number, Entry<T>>();
  readonly #maxIdle: number;

  /** Builds a table keeping at most `maxIdle` (at least 1) nodes that have no lookups. */
  constructor(maxIdle: number) {
    this.#maxIdle = Math.max(1, maxIdle);
  }

  /** Nodes in the table. */
  get size(): number {
    return this.#entries.size;
  }

  /** Nodes in the table without lookups. */
  get idle(): number {
    return this.#idle.size;
  }

  /** Adds a node that is never dropped at `ino` (the file system uses numbers below {@linkcode FIRST_HASHED_INODE}). */
  fix(ino: number, identity: string, value: T): void {
    this.#entries.set(ino, { identity, value, lookups: Infinity });
  }

  /** The node numbered `ino` (marking it recently used), if the table has it. */
  get(ino: number): T | undefined {
    const entry = this.#entries.get(ino);
    if (entry !== undefined && this.#idle.delete(ino)) this.#idle.set(ino, entry);
    return entry?.value;
  }

  /**
   * The number of the node with `identity`, adding it (built by `make` from
   * its number) when the table does not have it; counts one lookup of it
   * when `lookup` is true.
   */
  intern(identity: string, make: (ino: number) => T, lookup: boolean): { ino: number; value: T } {
    let ino = inodeOf(identity);
    for (;;) {
      const entry = this.#entries.get(ino);
      if (entry === undefined) break;
      if (entry.identity === identity) {
        if (lookup) this.#count(ino, entry);
        else if (this.#idle.delete(ino)) this.#idle.set(ino, entry);
        return { ino, value: entry.value };
      }
      ino = ino === LAST_INODE ? FIRST_HASHED_INODE : ino + 1;
    }
    const entry: Entry<T> = { identity, value: make(ino), lookups: 0 };
    this.#entries.set(ino, entry);
    if (lookup) this.#count(ino, entry);
    else {
      this.#idle.set(ino, entry);
      this.#trim();
    }
    return { ino, value: entry.value };
  }

  #count(ino: number, entry: Entry<T>): void {
    entry.lookups++;
    this.#idle.delete(ino);
  }

  /** Counts one more lookup of `ino`; false when the table does not have it. */
  lookup(ino: number): boolean {
    const entry = this.#entries.get(ino);
    if (entry === undefined) return false;
    this.#count(ino, entry);
    return true;
  }

  /** Drops `count` lookups of `ino`; without lookups left it becomes idle (and may be dropped). */
  forget(ino: number, count: number): void {
    const entry = this.#entries.get(ino);
    if (entry === undefined || entry.lookups === Infinity || entry.lookups === 0) return;
    entry.lookups = Math.max(0, entry.lookups - count);
    if (entry.lookups > 0) return;
    this.#idle.set(ino, entry);
    this.#trim();
  }

  #trim(): void {
    for (const ino of this.#idle.keys()) {
      if (this.#idle.size <= this.#maxIdle) return;
      this.#idle.delete(ino);
      this.#entries.delete(ino);
    }
  }
}
