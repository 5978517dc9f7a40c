/**
 * What the garbage collector's mark phase found reachable: `m:` and `c:`
 * keys and blobs in a Bloom filter (a false positive keeps garbage, never
 * deletes live data), and the `d:` directories walked in an exact set (a
 * directory is walked once, and one not walked is deleted, so this set must
 * not err).
 *
 * @module
 */

import { BloomFilter } from "../../memory/bloom_filter.ts";
import { DigestSet } from "../../memory/digest_set.ts";
import { decodeHexId, DIR_PREFIX, hasPrefix } from "./_names.ts";

const latin1 = new TextDecoder("latin1");

/** The reachable set of one garbage collection. */
export class Marks {
  readonly #reachable: BloomFilter;
  readonly #dirs = new DigestSet();
  /** `d:` names that are not `d:` + 64 hex digits (none in data written by ddb). */
  readonly #oddDirs = new Set<string>();
  readonly #digest = new Uint8Array(32);

  /**
   * Builds empty marks for up to `elements` keys and blobs, at
   * `bitsPerElement` bits each in the Bloom filter.
   */
  constructor(elements: number, bitsPerElement = 10) {
    this.#reachable = new BloomFilter(elements, bitsPerElement);
  }

  /** Marks the key `name` (`m:…` or `c:…`) reachable. */
  markKey(name: Uint8Array): void {
    this.#reachable.add(name);
  }

  /** Whether the key `name` may be reachable (false: certainly garbage). */
  mayReachKey(name: Uint8Array): boolean {
    return this.#reachable.has(name);
  }

  /** Marks the blob with SHA-256 `hash` (32 raw bytes) reachable. */
  markBlob(hash: Uint8Array): void {
    // Names and hashes share the filter: a name equal to some hash's bytes
    // only keeps garbage, like any false positive.
    this.#reachable.add(hash);
  }

  /** Whether the blob `hash` may be reachable (false: certainly garbage). */
  mayReachBlob(hash: Uint8Array): boolean {
    return this.#reachable.has(hash);
  }

  /** Records directory `name` as walked; false when it already was. */
  visitDir(name: Uint8Array): boolean {
    if (hasPrefix(name, DIR_PREFIX) && decodeHexId(name, 2, this.#digest)) {
      return this.#dirs.add(this.#digest);
    }
    const text = latin1.decode(name);
    if (this.#oddDirs.has(text)) return false;
    this.#oddDirs.add(text);
    return true;
  }

  /** Whether directory `name` was walked (exact). */
  visitedDir(name: Uint8Array): boolean {
    if (hasPrefix(name, DIR_PREFIX) && decodeHexId(name, 2, this.#digest)) {
      return this.#dirs.has(this.#digest);
    }
    return this.#oddDirs.has(latin1.decode(name));
  }

  /** The number of directories walked. */
  get dirs(): number {
    return this.#dirs.size + this.#oddDirs.size;
  }

  /** Bytes the filter and the directory set take. */
  get byteLength(): number {
    return this.#reachable.byteLength + this.#dirs.byteLength;
  }
}
