/**
 * FastCDC content-defined chunking (Xia et al., "The Design of Fast
 * Content-Defined Chunking for Data Deduplication Based Storage Systems",
 * IEEE TPDS 2020) with a 32-bit gear hash and normalized chunking level 2.
 *
 * The rule, for a chunk that starts at some byte of a file (offsets below
 * are relative to that start), is exactly:
 *
 * 1. Bytes at offsets 0 to `min - 1` are skipped without hashing.
 * 2. The hash `h` starts at 0; for each byte `b` at offset `j` from `min`
 *    on, `h = (h << 1) + G[b]` modulo 2^32, where `G` is the gear table.
 * 3. The chunk ends after byte `j` if `h & mask` is 0, where `mask` is
 *    `maskS` while `j < avg` and `maskL` from `avg` on. With
 *    `bits = log2(avg)`, `maskS` has `bits + 2` one bits and `maskL`
 *    `bits - 2`, the highest just below bit 31: `mask(n) = (2^n - 1) << (31 - n)`.
 * 4. Otherwise the chunk ends after `max` bytes, or at the end of the file.
 *
 * The next chunk starts right after, with a fresh hash. Chunks are thus
 * `min + 1` to `max` bytes long, except the last of a file.
 *
 * Changing any of this (or the gear table, or the parameters) moves cut
 * points and breaks deduplication against existing repositories: bump
 * {@linkcode CHUNKER_VERSION}. The golden vectors in the tests catch that.
 *
 * @module
 */

import type { Chunker } from "./chunker.ts";
import { makeGearTable } from "./gear_table.ts";
import { type ChunkerParams, DEFAULT_PARAMS, validateParams } from "./params.ts";

/**
 * Names the cut rule and gear table of this module. A repository records it
 * with its parameters; a chunker whose cut points differ must use a new one.
 */
export const CHUNKER_VERSION = "ddb-fastcdc-v1";

/** The FastCDC normalization level: the masks have log2(avg) ± this many bits. */
export const NORMALIZATION_LEVEL = 2;

/** The gear table as signed 32-bit integers, so that the hash stays in int32 arithmetic. */
const GEAR = new Int32Array(makeGearTable().buffer);
/** The gear table shifted left by one bit, for hashing two bytes per step. */
const GEAR_SHIFTED = GEAR.map((g) => g << 1);

/** `n` one bits whose highest is bit 30 (bit 31 stays clear for the two-byte step). */
function highMask(n: number): number {
  return ((2 ** n - 1) << (31 - n)) | 0;
}

/**
 * The FastCDC chunker. With the default params it scans about 2 GB/s of file
 * bytes on one core (fastcdc_bench.ts); its state is two numbers.
 *
 * @example
 * ```ts
 * const chunker = new FastCdcChunker({ min: 2048, avg: 8192, max: 65536 });
 * const data = new Uint8Array(100_000);
 * chunker.nextCut(data, 0, data.length); // 65536: zeros never match, so the chunk is cut at max
 * ```
 */
export class FastCdcChunker implements Chunker {
  /** The sizes this chunker cuts with. */
  readonly params: Readonly<ChunkerParams>;
  readonly #min: number;
  readonly #avg: number;
  readonly #max: number;
  readonly #maskS: number;
  readonly #maskL: number;
  /** Offset in the current chunk of the next byte fed. */
  #pos = 0;
  /** The rolling hash over the current chunk's bytes from `min` on. */
  #hash = 0;

  /**
   * Builds a chunker for `params` (default {@linkcode DEFAULT_PARAMS}).
   *
   * Throws `InvalidChunkerParamsError` for parameters that
   * {@linkcode validateParams} rejects.
   */
  constructor(params: Readonly<ChunkerParams> = DEFAULT_PARAMS) {
    validateParams(params);
    this.params = Object.freeze({ min: params.min, avg: params.avg, max: params.max });
    this.#min = params.min;
    this.#avg = params.avg;
    this.#max = params.max;
    const bits = Math.log2(params.avg);
    this.#maskS = highMask(bits + NORMALIZATION_LEVEL);
    this.#maskL = highMask(bits - NORMALIZATION_LEVEL);
  }

  /** How many bytes of the current, unfinished chunk have been fed so far. */
  get pending(): number {
    return this.#pos;
  }

  /** Forgets the current chunk: the next byte fed starts a new chunk. */
  reset(): void {
    this.#pos = 0;
    this.#hash = 0;
  }

  /**
   * Feeds `data[start, end)`; returns the index just past the end of the
   * current chunk, or -1 if the chunk goes on past `end`. See
   * {@linkcode Chunker.nextCut}.
   */
  nextCut(data: Uint8Array, start: number, end: number): number {
    if (!(Number.isInteger(start) && Number.isInteger(end))) {
      throw new RangeError(`Cannot scan [${start}, ${end}): not integer offsets`);
    }
    if (start < 0 || start > end || end > data.length) {
      throw new RangeError(`Cannot scan [${start}, ${end}): outside 0..${data.length}`);
    }
    let i = start;
    let pos = this.#pos;
    if (pos < this.#min) {
      const n = Math.min(this.#min - pos, end - i);
      i += n;
      pos += n;
    }
    if (pos < this.#avg && i < end) {
      const n = Math.min(this.#avg - pos, end - i);
      const cut = this.#scan(data, i, i + n, this.#maskS);
      if (cut >= 0) return this.#cut(cut);
      i += n;
      pos += n;
    }
    if (pos < this.#max && i < end) {
      const n = Math.min(this.#max - pos, end - i);
      const cut = this.#scan(data, i, i + n, this.#maskL);
      if (cut >= 0) return this.#cut(cut);
      i += n;
      pos += n;
    }
    if (pos === this.#max) return this.#cut(i);
    this.#pos = pos;
    return -1;
  }

  /** Ends the current chunk at `index` and returns it. */
  #cut(index: number): number {
    this.#pos = 0;
    this.#hash = 0;
    return index;
  }

  /**
   * Rolls the hash over `data[i, stop)`; returns the index after the first
   * byte where `hash & mask` is 0, or -1 (the hash is then kept).
   *
   * Two bytes per step, as in the paper: `(h << 2) + (G[a] << 1)` is the hash
   * after `a` shifted left by one, tested against `mask << 1` (which loses
   * nothing, as bit 31 of `mask` is clear); adding `G[b]` gives the hash
   * after `b`. Four bytes per loop iteration, then one at a time.
   */
  #scan(data: Uint8Array, i: number, stop: number, mask: number): number {
    const gear = GEAR;
    const shifted = GEAR_SHIFTED;
    const mask2 = mask << 1;
    let h = this.#hash;
    for (const stop4 = stop - 3; i < stop4; i += 4) {
      h = ((h << 2) + shifted[data[i]]) | 0;
      if ((h & mask2) === 0) return i + 1;
      h = (h + gear[data[i + 1]]) | 0;
      if ((h & mask) === 0) return i + 2;
      h = ((h << 2) + shifted[data[i + 2]]) | 0;
      if ((h & mask2) === 0) return i + 3;
      h = (h + gear[data[i + 3]]) | 0;
      if ((h & mask) === 0) return i + 4;
    }
    for (; i < stop; i++) {
      h = ((h << 1) + gear[data[i]]) | 0;
      if ((h & mask) === 0) return i + 1;
    }
    this.#hash = h;
    return -1;
  }
}

/**
 * The end offset of every chunk of `data` as one whole file: ascending, the
 * last is `data.length` (none for empty data).
 *
 * @example
 * ```ts
 * cutPoints(new Uint8Array(10), { min: 2048, avg: 8192, max: 65536 }); // [10]
 * cutPoints(new Uint8Array(0)); // []
 * ```
 */
export function cutPoints(
  data: Uint8Array,
  params: Readonly<ChunkerParams> = DEFAULT_PARAMS,
): number[] {
  const chunker = new FastCdcChunker(params);
  const cuts: number[] = [];
  for (let start = 0; start < data.length;) {
    const cut = chunker.nextCut(data, start, data.length);
    if (cut < 0) {
      cuts.push(data.length);
      break;
    }
    cuts.push(cut);
    start = cut;
  }
  return cuts;
}
