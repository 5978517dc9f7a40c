/**
 * Per pack, how many of its blobs stay indexed (and their bytes) and how
 * many (and how many bytes) the collection removes: a pack object may be
 * deleted only when none of its blobs stays, and a pack whose live blobs
 * fill too little of it is rewritten (`repack.ts`, docs/gc.md).
 *
 * Packs are told apart by the first 48 bits of their id, a few dozen bytes
 * per pack. Two packs sharing those bits (about one chance in 500 with a
 * million packs) are counted as one: their live counts add up, so neither is
 * deleted unless both are wholly dead — the error only ever keeps garbage.
 *
 * @module
 */

/** Totals over every pack seen. */
export interface PackTotals {
  /** Packs with at least one blob counted. */
  packs: number;
  /** Packs whose every blob is dead. */
  deadPacks: number;
  /** Packs with live and dead blobs. */
  partlyDeadPacks: number;
  /** Bytes of the dead blobs inside partly dead packs. */
  partlyDeadBytes: number;
}

/** The first 48 bits of a 32-byte id at `offset` of `bytes`, as a number. */
function prefix48(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] * 0x1_0000 + bytes[offset + 1] * 0x100 + bytes[offset + 2]) *
      0x100_0000 +
    (bytes[offset + 3] * 0x1_0000 + bytes[offset + 4] * 0x100 + bytes[offset + 5]);
}

/** Live and dead blob counts per pack. */
export class PackTally {
  readonly #slots = new Map<number, number>();
  #live = new Uint32Array(1024);
  #dead = new Uint32Array(1024);
  #liveBytes = new Float64Array(1024);
  #deadBytes = new Float64Array(1024);

  /** Counts one blob of the pack whose id is the 32 bytes at `offset` of `bytes`. */
  count(bytes: Uint8Array, offset: number, live: boolean, size: number): void {
    const key = prefix48(bytes, offset);
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#slots.size;
      if (slot === this.#live.length) this.#grow();
      this.#slots.set(key, slot);
    }
    if (live) {
      this.#live[slot]++;
      this.#liveBytes[slot] += size;
    } else {
      this.#dead[slot]++;
      this.#deadBytes[slot] += size;
    }
  }

  /** How many blobs of pack `id` (32 bytes) stay; 0 for a pack never counted. */
  liveBlobs(id: Uint8Array): number {
    const slot = this.#slots.get(prefix48(id, 0));
    return slot === undefined ? 0 : this.#live[slot];
  }

  /** The bytes of the blobs of pack `id` (32 bytes) that stay; 0 for a pack never counted. */
  liveBytes(id: Uint8Array): number {
    const slot = this.#slots.get(prefix48(id, 0));
    return slot === undefined ? 0 : this.#liveBytes[slot];
  }

  /** Whether a blob of pack `id` (32 bytes) was counted. */
  knows(id: Uint8Array): boolean {
    return this.#slots.has(prefix48(id, 0));
  }

  /** Totals over every pack counted. */
  totals(): PackTotals {
    const totals: PackTotals = { packs: 0, deadPacks: 0, partlyDeadPacks: 0, partlyDeadBytes: 0 };
    for (let slot = 0; slot < this.#slots.size; slot++) {
      totals.packs++;
      if (this.#dead[slot] === 0) continue;
      if (this.#live[slot] === 0) {
        totals.deadPacks++;
      } else {
        totals.partlyDeadPacks++;
        totals.partlyDeadBytes += this.#deadBytes[slot];
      }
    }
    return totals;
  }

  /** Bytes of memory the counters take (the map not included). */
  get byteLength(): number {
    return this.#live.byteLength + this.#dead.byteLength + this.#liveBytes.byteLength +
      this.#deadBytes.byteLength;
  }

  #grow(): void {
    const size = this.#live.length * 2;
    const live = new Uint32Array(size);
    const dead = new Uint32Array(size);
    const liveBytes = new Float64Array(size);
    const deadBytes = new Float64Array(size);
    live.set(this.#live);
    dead.set(this.#dead);
    liveBytes.set(this.#liveBytes);
    deadBytes.set(this.#deadBytes);
    this.#live = live;
    this.#dead = dead;
    this.#liveBytes = liveBytes;
    this.#deadBytes = deadBytes;
  }
}
