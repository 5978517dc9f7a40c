/**
 * An exact map from 32-byte digests (SHA-256 ids) to a fixed number of
 * numbers each, in flat typed arrays: the digests one after the other in
 * chunks of 4096 (32 bytes each, 8 per value), and an open-addressing index
 * over them (linear probing, 4 bytes per slot, at most three quarters
 * full): some 37–43 bytes per digest plus 8 per value. A `Map` keyed by hex
 * strings costs well over 100 bytes per entry in JS objects the collector
 * has to trace; these are a few large array buffers it does not look into.
 * Growing allocates one more chunk, or a twice larger index: never a copy of
 * the digests.
 *
 * Entries are reached through handles (0, 1, 2, … in the order added):
 * {@linkcode DigestMap.find} and {@linkcode DigestMap.insert} give one,
 * {@linkcode DigestMap.get} and {@linkcode DigestMap.set} read and write its
 * values.
 *
 * @module
 */

const DIGEST_BYTES = 32;
const CHUNK_SHIFT = 12;
/** Entries per chunk. */
const CHUNK = 1 << CHUNK_SHIFT;
const IN_CHUNK = CHUNK - 1;

/** An exact map from 32-byte digests to `width` numbers each; grows as needed. */
export class DigestMap {
  /** Numbers per entry. */
  readonly width: number;
  readonly #digests: Uint8Array[] = [];
  readonly #values: Float64Array[] = [];
  /** Slots: 0 when free, else the entry's handle + 1. */
  #index: Uint32Array;
  #size = 0;
  /** A random seed of the probe start, so that crafted digests cannot be made to collide. */
  readonly #seed = (Math.random() * 0x1_0000_0000) >>> 0;

  /** Builds an empty map of `width` numbers per entry, with room for about `expected` entries. */
  constructor(width = 0, expected = 1024) {
    if (!Number.isInteger(width) || width < 0) {
      throw new RangeError(`Cannot build a DigestMap of width ${width}: expected an integer >= 0`);
    }
    this.width = width;
    let slots = 16;
    while (slots * 3 < expected * 4) slots *= 2;
    this.#index = new Uint32Array(slots);
  }

  /** The number of entries. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of memory the map takes. */
  get byteLength(): number {
    const chunk = CHUNK * (DIGEST_BYTES + 8 * this.width);
    return this.#index.byteLength + this.#digests.length * chunk;
  }

  /** The handle of `digest`'s entry, or -1 when it has none (or is not 32 bytes). */
  find(digest: Uint8Array): number {
    if (digest.length !== DIGEST_BYTES) return -1;
    const slot = this.#probe(digest);
    return slot < 0 ? -1 : this.#index[slot] - 1;
  }

  /** Whether `digest` has an entry. */
  has(digest: Uint8Array): boolean {
    return this.find(digest) >= 0;
  }

  /**
   * The handle of `digest`'s entry, added (its values 0, the digest copied)
   * when it has none; {@linkcode DigestMap.size} tells which.
   *
   * @throws {RangeError} when `digest` is not 32 bytes.
   */
  insert(digest: Uint8Array): number {
    if (digest.length !== DIGEST_BYTES) {
      throw new RangeError(`Cannot insert a digest of ${digest.length} bytes: expected 32`);
    }
    let slot = this.#probe(digest);
    if (slot >= 0) return this.#index[slot] - 1;
    const handle = this.#size;
    if ((handle + 1) * 4 > this.#index.length * 3) {
      this.#grow();
      slot = this.#probe(digest);
    }
    if ((handle & IN_CHUNK) === 0) {
      this.#digests.push(new Uint8Array(CHUNK * DIGEST_BYTES));
      this.#values.push(new Float64Array(CHUNK * this.width));
    }
    this.#digests[handle >>> CHUNK_SHIFT].set(digest, (handle & IN_CHUNK) * DIGEST_BYTES);
    this.#index[-slot - 1] = handle + 1;
    this.#size++;
    return handle;
  }

  /** Value `field` (0 ≤ field < width) of the entry at `handle`. */
  get(handle: number, field: number): number {
    return this.#values[handle >>> CHUNK_SHIFT][(handle & IN_CHUNK) * this.width + field];
  }

  /** Sets value `field` (0 ≤ field < width) of the entry at `handle`. */
  set(handle: number, field: number, value: number): void {
    this.#values[handle >>> CHUNK_SHIFT][(handle & IN_CHUNK) * this.width + field] = value;
  }

  /** The slot holding `digest` (32 bytes: >= 0), or -(the free slot where it would go) - 1. */
  #probe(digest: Uint8Array): number {
    const index = this.#index;
    const mask = index.length - 1;
    const first = digest[0];
    let slot = start(digest, 0, this.#seed) & mask;
    for (;;) {
      const entry = index[slot];
      if (entry === 0) return -slot - 1;
      const handle = entry - 1;
      const chunk = this.#digests[handle >>> CHUNK_SHIFT];
      const base = (handle & IN_CHUNK) * DIGEST_BYTES;
      if (chunk[base] === first) {
        let i = 1;
        while (i < DIGEST_BYTES && chunk[base + i] === digest[i]) i++;
        if (i === DIGEST_BYTES) return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Doubles the index; the entries stay where they are. */
  #grow(): void {
    const index = new Uint32Array(this.#index.length * 2);
    const mask = index.length - 1;
    for (let handle = 0; handle < this.#size; handle++) {
      const chunk = this.#digests[handle >>> CHUNK_SHIFT];
      const base = (handle & IN_CHUNK) * DIGEST_BYTES;
      let slot = start(chunk, base, this.#seed) & mask;
      while (index[slot] !== 0) slot = (slot + 1) & mask;
      index[slot] = handle + 1;
    }
    this.#index = index;
  }
}

/** Where the probe for the digest at `bytes[at…]` starts: a seeded mix of all its bytes. */
function start(bytes: Uint8Array, at: number, seed: number): number {
  let h = seed ^ 0x2545f491;
  for (let i = at; i < at + DIGEST_BYTES; i += 4) {
    const word = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
