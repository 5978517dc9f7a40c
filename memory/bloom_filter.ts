/**
 * A Bloom filter of byte strings, at about 10 bits per element instead of a
 * hash set's hundred bytes: the garbage collector's set of reachable keys
 * and blobs, and the kv store's set of keys that may exist.
 *
 * `has` never misses an element that was added; it may answer true for one
 * that was not (a false positive, about 1% at 10 bits per element). Each
 * user acts on a negative only where a negative is certain: the collector
 * keeps something because of a positive (a false positive keeps some
 * garbage until a later run, never deletes live data); the kv store skips
 * SQLite only for a key the filter has never seen.
 *
 * @module
 */

/** The filter was asked for an impossible size. */
export class BloomFilterSizeError extends RangeError {
  /** Builds the error for `elements` expected at `bitsPerElement`. */
  constructor(elements: number, bitsPerElement: number) {
    super(
      `Cannot size a Bloom filter for ${elements} elements at ${bitsPerElement} bits each: ` +
        "expected a non-negative count and 1 to 64 bits, at most 2^32 bits in all",
    );
    this.name = "BloomFilterSizeError";
  }
}

const MAX_BITS = 2 ** 32;

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A Bloom filter sized for an expected number of elements. */
export class BloomFilter {
  readonly #bits: Uint32Array;
  readonly #size: number;
  readonly #hashes: number;

  /**
   * Builds an empty filter for `elements` elements at `bitsPerElement` bits
   * each (10: about 1% false positives).
   *
   * @throws {BloomFilterSizeError} for a negative count or a filter over 2^32 bits.
   */
  constructor(elements: number, bitsPerElement = 10) {
    if (
      !Number.isSafeInteger(elements) || elements < 0 || !(bitsPerElement >= 1) ||
      bitsPerElement > 64
    ) {
      throw new BloomFilterSizeError(elements, bitsPerElement);
    }
    const wanted = Math.max(64, Math.ceil(elements * bitsPerElement));
    if (wanted > MAX_BITS) throw new BloomFilterSizeError(elements, bitsPerElement);
    const words = Math.ceil(wanted / 32);
    this.#bits = new Uint32Array(words);
    this.#size = words * 32;
    this.#hashes = Math.max(1, Math.round(bitsPerElement * Math.LN2));
  }

  /** Bytes of memory the bits take. */
  get byteLength(): number {
    return this.#bits.byteLength;
  }

  /** Adds `element`. */
  add(element: Uint8Array): void {
    hash(element);
    const a = hashA;
    const b = hashB;
    const bits = this.#bits;
    for (let i = 0; i < this.#hashes; i++) {
      const bit = ((a + Math.imul(i, b)) >>> 0) % this.#size;
      bits[bit >>> 5] |= 1 << (bit & 31);
    }
  }

  /** False when `element` was certainly not added; true when it probably was. */
  has(element: Uint8Array): boolean {
    hash(element);
    const a = hashA;
    const b = hashB;
    const bits = this.#bits;
    for (let i = 0; i < this.#hashes; i++) {
      const bit = ((a + Math.imul(i, b)) >>> 0) % this.#size;
      if ((bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

// The two hashes of the last `hash` call (module state: no array per call).
let hashA = 0;
let hashB = 0;

/**
 * Sets `hashA` and `hashB`: two independent 32-bit hashes of `bytes` (the
 * second odd). Four bytes per step (keys are mostly 30–70 bytes, hashed once
 * per lookup), the tail byte by byte.
 */
function hash(bytes: Uint8Array): void {
  let a = 0x811c9dc5 ^ bytes.length;
  let b = 0x9747b28c;
  const n = bytes.length;
  const whole = n & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    const w = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    a = Math.imul(a ^ w, 0x01000193);
    a ^= a >>> 16;
    b = Math.imul(b ^ w, 0x5bd1e995);
    b ^= b >>> 15;
  }
  for (; i < n; i++) {
    const c = bytes[i];
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  hashA = mix(a);
  hashB = (mix(b ^ 0x27d4eb2f) | 1) >>> 0;
}
