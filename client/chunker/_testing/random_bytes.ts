/**
 * Deterministic pseudo-random bytes for the chunker's tests, golden vectors
 * and benchmarks.
 *
 * @module
 */

/**
 * `length` bytes from the mulberry32 generator seeded with `seed` (a 32-bit
 * unsigned integer): each call of the generator gives a 32-bit word, written
 * as 4 bytes, least significant first (the last word is cut short if
 * `length` is not a multiple of 4).
 *
 * mulberry32 (Tommy Ettinger), one step on the 32-bit state `a`:
 * `a += 0x6D2B79F5; t = imul(a ^ a >>> 15, a | 1);
 * t ^= t + imul(t ^ t >>> 7, t | 61); word = t ^ t >>> 14`.
 *
 * @example
 * ```ts
 * randomBytes(8, 1); // Uint8Array [0xf3, 0xea, 0x87, 0xa0, 0xc9, 0x49, 0xb3, 0x00]
 * ```
 */
export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = seed | 0;
  for (let i = 0; i < length; i += 4) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t ^= t >>> 14;
    out[i] = t;
    if (i + 1 < length) out[i + 1] = t >>> 8;
    if (i + 2 < length) out[i + 2] = t >>> 16;
    if (i + 3 < length) out[i + 3] = t >>> 24;
  }
  return out;
}
