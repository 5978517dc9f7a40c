/**
 * The packs a collection will rewrite (`repack.ts`), chosen while it lists
 * the storage (`storage_scan.ts`): a pack is rewritten when its dead bytes —
 * its size less what its live blobs and their trailer entries take — reach
 * {@linkcode REPACK_DEAD_SHARE} of it, or when it is smaller than
 * {@linkcode SMALL_PACK_BYTES} and holds any dead bytes at all (a small
 * pack costs little to read, and its live blobs join a full-size pack).
 *
 * Kept in flat typed arrays, 64 bytes per pack: a pack holds many blobs, so
 * this is a fraction of a byte per blob.
 *
 * @module
 */

/** A pack whose dead bytes are at least this share of its size is rewritten: 25%. */
export const REPACK_DEAD_SHARE = 0.25;
/** A pack smaller than this is rewritten as soon as it holds dead bytes: 1 MiB. */
export const SMALL_PACK_BYTES = 1024 * 1024;

/** Whether a pack of `size` bytes, `dead` of which are dead, is to be rewritten. */
export function shouldRepack(size: number, dead: number): boolean {
  return dead > 0 && (dead >= size * REPACK_DEAD_SHARE || size < SMALL_PACK_BYTES);
}

/** One pack to rewrite. */
export interface PackCandidate {
  /** Its id (32 bytes). */
  id: Uint8Array;
  /** Its size in bytes, as listed. */
  size: number;
  /** Its live blobs, as counted by the blob sweep. */
  liveBlobs: number;
  /** Their bytes. */
  liveBytes: number;
  /** Its dead bytes (estimated from the counts). */
  deadBytes: number;
}

const FIELDS = 4;

/** A growable list of packs to rewrite. */
export class PackCandidates {
  #ids = new Uint8Array(32 * 64);
  #numbers = new Float64Array(FIELDS * 64);
  #length = 0;

  /** The number of packs. */
  get length(): number {
    return this.#length;
  }

  /** Adds a pack (its id is copied). */
  add(candidate: PackCandidate): void {
    if (this.#length * 32 === this.#ids.length) {
      const ids = new Uint8Array(this.#ids.length * 2);
      ids.set(this.#ids);
      this.#ids = ids;
      const numbers = new Float64Array(this.#numbers.length * 2);
      numbers.set(this.#numbers);
      this.#numbers = numbers;
    }
    const i = this.#length++;
    this.#ids.set(candidate.id, i * 32);
    this.#numbers.set(
      [candidate.size, candidate.liveBlobs, candidate.liveBytes, candidate.deadBytes],
      i * FIELDS,
    );
  }

  /** Pack `i` (0 ≤ i < length); its id is a view, valid until the next add. */
  at(i: number): PackCandidate {
    const n = this.#numbers;
    const at = i * FIELDS;
    return {
      id: this.#ids.subarray(i * 32, i * 32 + 32),
      size: n[at],
      liveBlobs: n[at + 1],
      liveBytes: n[at + 2],
      deadBytes: n[at + 3],
    };
  }

  /** Bytes of memory the list takes. */
  get byteLength(): number {
    return this.#ids.byteLength + this.#numbers.byteLength;
  }
}
