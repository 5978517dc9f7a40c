/**
 * Deterministic test data: the same `(length, seed)` always gives the same
 * bytes (xorshift32), and different seeds give unrelated bytes.
 *
 * @module
 */

/** `length` pseudo-random bytes from `seed` (xorshift32; seed 0 acts as 1). */
export function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
