/**
 * An exact set of 32-byte digests (SHA-256 ids) in one flat table: 32 bytes
 * per slot at most half full, where a `Set` of hex strings costs over 100
 * bytes per element. The garbage collector keeps the directories it has
 * walked in one, so that a directory shared by many snapshots is walked once
 * and every directory not walked can be deleted.
 *
 * @module
 */

const DIGEST_BYTES = 32;

/** A growable exact set of 32-byte digests. */
export class DigestSet {
  #slots: Uint8Array;
  #used: Uint8Array;
  #capacity: number;
  #size = 0;
  /** A random seed of the probe start, so that clients cannot choose names that collide. */
  readonly #seed = (Math.random() * 0x1_0000_0000) >>> 0;

  /** Builds an empty set with room for about `expected` digests before it grows. */
  constructor(expected = 1024) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.#capacity = capacity;
    this.#slots = new Uint8Array(capacity * DIGEST_BYTES);
    this.#used = new Uint8Array(capacity);
  }

  /** The number of digests in the set. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of memory the table takes. */
  get byteLength(): number {
    return this.#slots.byteLength + this.#used.byteLength;
  }

  /** Whether `digest` (32 bytes) is in the set. */
  has(digest: Uint8Array): boolean {
    return digest.length === DIGEST_BYTES && this.#find(digest) >= 0;
  }

  /** Adds `digest` (32 bytes, copied); returns false when it was already there. */
  add(digest: Uint8Array): boolean {
    if (digest.length !== DIGEST_BYTES) {
      throw new RangeError(`Cannot add a digest of ${digest.length} bytes: expected 32`);
    }
    const found = this.#find(digest);
    if (found >= 0) return false;
    if ((this.#size + 1) * 2 > this.#capacity) {
      this.#grow();
      this.#insert(digest, this.#find(digest));
    } else {
      this.#insert(digest, found);
    }
    this.#size++;
    return true;
  }

  /** The slot of `digest` (32 bytes: >= 0), or -(free slot where it would go) - 1. */
  #find(digest: Uint8Array): number {
    const mask = this.#capacity - 1;
    let slot = start(digest, this.#seed) & mask;
    for (;;) {
      if (this.#used[slot] === 0) return -slot - 1;
      if (this.#equals(slot, digest)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  #equals(slot: number, digest: Uint8Array): boolean {
    const base = slot * DIGEST_BYTES;
    const slots = this.#slots;
    for (let i = 0; i < DIGEST_BYTES; i++) if (slots[base + i] !== digest[i]) return false;
    return true;
  }

  #insert(digest: Uint8Array, found: number): void {
    const slot = -found - 1;
    this.#slots.set(digest, slot * DIGEST_BYTES);
    this.#used[slot] = 1;
  }

  #grow(): void {
    const oldSlots = this.#slots;
    const oldUsed = this.#used;
    this.#capacity *= 2;
    this.#slots = new Uint8Array(this.#capacity * DIGEST_BYTES);
    this.#used = new Uint8Array(this.#capacity);
    for (let slot = 0; slot < oldUsed.length; slot++) {
      if (oldUsed[slot] === 0) continue;
      const digest = oldSlots.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES);
      this.#insert(digest, this.#find(digest));
    }
  }
}

/** Where the probe for `digest` starts: a seeded mix of all its bytes. */
function start(digest: Uint8Array, seed: number): number {
  let h = seed ^ 0x2545f491;
  for (let i = 0; i < DIGEST_BYTES; i += 4) {
    const word = digest[i] | (digest[i + 1] << 8) | (digest[i + 2] << 16) | (digest[i + 3] << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
