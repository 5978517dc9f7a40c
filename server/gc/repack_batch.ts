/**
 * The blobs a rewrite of packs (`repack.ts`) moves from some old packs into
 * one new pack, kept in flat growable arrays — their bytes back to back, and
 * per blob its hash, length, old pack and offset there: about 60 bytes per
 * blob besides its bytes, where an object per blob would take hundreds (a
 * pack of tiny blobs holds a hundred thousand of them).
 *
 * @module
 */

import { encodePackTrailer } from "../packs/pack_format.ts";

/** An old pack whose live blobs are in the batch. */
export interface BatchSource {
  /** Its id (32 bytes). */
  readonly id: Uint8Array;
  /** Its size in bytes. */
  readonly size: number;
  /** Its live blobs not copied (damaged): their records keep naming it. */
  readonly left: { hash: Uint8Array; offset: number }[];
  /** Its blobs in the batch are `first` to `end - 1`. */
  first: number;
  /** See `first`. */
  end: number;
}

/** Blobs on their way from old packs into one new pack. */
export class RepackBatch {
  /** The old packs, in order. */
  readonly sources: BatchSource[] = [];
  #data = new Uint8Array(64 * 1024);
  #dataBytes = 0;
  #hashes = new Uint8Array(32 * 256);
  #lengths = new Uint32Array(256);
  #from = new Float64Array(256);
  #source = new Uint32Array(256);
  #count = 0;

  /** The number of blobs. */
  get count(): number {
    return this.#count;
  }

  /** The bytes of the blobs. */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** Starts the blobs of old pack `id` of `size` bytes. */
  addSource(id: Uint8Array, size: number, left: BatchSource["left"]): BatchSource {
    const source: BatchSource = { id, size, left, first: this.#count, end: this.#count };
    this.sources.push(source);
    return source;
  }

  /** Adds blob `hash` (32 bytes) of `data`, at `offset` of the last source (copied). */
  add(hash: Uint8Array, data: Uint8Array, offset: number): void {
    const i = this.#count;
    if (i === this.#lengths.length) this.#growIndex();
    if (this.#dataBytes + data.length > this.#data.length) {
      let size = this.#data.length * 2;
      while (size < this.#dataBytes + data.length) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#data.subarray(0, this.#dataBytes));
      this.#data = grown;
    }
    this.#data.set(data, this.#dataBytes);
    this.#dataBytes += data.length;
    this.#hashes.set(hash, i * 32);
    this.#lengths[i] = data.length;
    this.#from[i] = offset;
    this.#source[i] = this.sources.length - 1;
    this.#count++;
    this.sources[this.sources.length - 1].end = this.#count;
  }

  /** The hash of blob `i` (a view, valid until the next add). */
  hash(i: number): Uint8Array {
    return this.#hashes.subarray(i * 32, i * 32 + 32);
  }

  /** The old pack of blob `i`. */
  source(i: number): BatchSource {
    return this.sources[this.#source[i]];
  }

  /** The offset of blob `i` in its old pack. */
  fromOffset(i: number): number {
    return this.#from[i];
  }

  /** The new pack's bytes (see `packs/pack_format.ts`) and where each blob is in it. */
  encode(): { bytes: Uint8Array; offsets: Float64Array } {
    const trailer = encodePackTrailer(this.#hashes, this.#lengths, this.#count);
    const bytes = new Uint8Array(this.#dataBytes + trailer.length);
    bytes.set(this.#data.subarray(0, this.#dataBytes));
    bytes.set(trailer, this.#dataBytes);
    const offsets = new Float64Array(this.#count);
    let at = 0;
    for (let i = 0; i < this.#count; i++) {
      offsets[i] = at;
      at += this.#lengths[i];
    }
    return { bytes, offsets };
  }

  #growIndex(): void {
    const size = this.#lengths.length * 2;
    const hashes = new Uint8Array(size * 32);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const lengths = new Uint32Array(size);
    lengths.set(this.#lengths);
    this.#lengths = lengths;
    const from = new Float64Array(size);
    from.set(this.#from);
    this.#from = from;
    const source = new Uint32Array(size);
    source.set(this.#source);
    this.#source = source;
  }
}
