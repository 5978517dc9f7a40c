/**
 * Bytes as a string of one char per byte: distinct byte strings give
 * distinct strings, so it can key a `Set` or `Map`.
 *
 * @module
 */

/** `bytes` as a Latin-1 string (one char per byte). */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}
