/**
 * The gear table of the content-defined chunker: 256 pseudo-random 32-bit
 * values, one per byte value, that the rolling hash adds up.
 *
 * The table is not stored in the source; it is derived at module load by a
 * fixed procedure (see {@linkcode makeGearTable}). Every cut point depends on
 * it, so changing {@linkcode GEAR_SEED} or the procedure changes the chunk
 * boundaries of every file and breaks deduplication against existing
 * repositories: that needs a new chunker version (docs/chunking.md).
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The ASCII string that seeds the gear table of chunker version 1. */
export const GEAR_SEED = "ddb-gear-v1";

/**
 * Derives the gear table: entry `k` (0 ≤ k < 256) is the first 4 bytes, read
 * as a big-endian unsigned integer, of SHA-256(`seed` as ASCII ‖ `k` as a
 * 4-byte big-endian integer).
 *
 * Returns a fresh table on every call.
 *
 * @example
 * ```ts
 * const table = makeGearTable();
 * table.length; // 256
 * ```
 */
export function makeGearTable(seed: string = GEAR_SEED): Uint32Array {
  const table = new Uint32Array(256);
  const counter = new Uint8Array(4);
  const view = new DataView(counter.buffer);
  for (let k = 0; k < 256; k++) {
    view.setUint32(0, k);
    const digest = createHash("sha256").update(seed, "latin1").update(counter).digest();
    table[k] = digest.readUInt32BE(0);
  }
  return table;
}
