/**
 * An exact set of 32-byte digests (SHA-256 ids): a {@linkcode DigestMap}
 * without values, some 37–43 bytes per digest, where a `Set` of hex strings
 * costs over 100 bytes per element. The garbage
 * collector keeps the directories it has walked in one, so that a directory
 * shared by many snapshots is walked once and every directory not walked
 * can be deleted; `ddb check` keeps the blobs it found present in one.
 *
 * @module
 */

import { DigestMap } from "./digest_map.ts";

/** A growable exact set of 32-byte digests. */
export class DigestSet {
  readonly #map: DigestMap;

  /** Builds an empty set with room for about `expected` digests before it grows. */
  constructor(expected = 1024) {
    this.#map = new DigestMap(0, expected);
  }

  /** The number of digests in the set. */
  get size(): number {
    return this.#map.size;
  }

  /** Bytes of memory the table takes. */
  get byteLength(): number {
    return this.#map.byteLength;
  }

  /** Whether `digest` (32 bytes) is in the set. */
  has(digest: Uint8Array): boolean {
    return this.#map.has(digest);
  }

  /**
   * Adds `digest` (32 bytes, copied); returns false when it was already there.
   *
   * @throws {RangeError} when `digest` is not 32 bytes.
   */
  add(digest: Uint8Array): boolean {
    const before = this.#map.size;
    this.#map.insert(digest);
    return this.#map.size > before;
  }
}
