/**
 * The interface of a content-defined chunker.
 *
 * @module
 */

import type { ChunkerParams } from "./params.ts";

/**
 * An incremental content-defined chunker: it is fed a file's bytes in pieces
 * of any size and says where each chunk ends. The cut points depend only on
 * the bytes, never on how they were split into pieces.
 *
 * A chunker keeps only a few numbers of state (how many bytes of the current
 * chunk it has seen, the rolling hash), never the bytes: the caller keeps the
 * bytes of the current chunk until a cut. Each byte is scanned once.
 *
 * At the end of a file the {@linkcode Chunker.pending} bytes form the last
 * chunk (none if 0); call {@linkcode Chunker.reset} before the next file.
 *
 * @example
 * ```ts
 * import { FastCdcChunker } from "./fastcdc.ts";
 *
 * function chunkEnds(pieces: Uint8Array[]): number[] {
 *   const chunker = new FastCdcChunker();
 *   const ends: number[] = [];
 *   let offset = 0;
 *   for (const piece of pieces) {
 *     for (let start = 0; start < piece.length;) {
 *       const cut = chunker.nextCut(piece, start, piece.length);
 *       if (cut < 0) break;
 *       ends.push(offset + cut);
 *       start = cut;
 *     }
 *     offset += piece.length;
 *   }
 *   if (chunker.pending > 0) ends.push(offset);
 *   return ends;
 * }
 * ```
 */
export interface Chunker {
  /** The sizes this chunker cuts with. */
  readonly params: Readonly<ChunkerParams>;

  /** How many bytes of the current, unfinished chunk have been fed so far. */
  readonly pending: number;

  /**
   * Feeds `data[start, end)` as the next bytes of the file.
   *
   * Returns the index in `data` just past the last byte of the current chunk
   * if the chunk ends within the range (the next chunk starts at that index:
   * call again from there with the rest of the range), or -1 if the whole
   * range belongs to the current chunk, which then continues with the next
   * call.
   *
   * Throws `RangeError` unless 0 ≤ `start` ≤ `end` ≤ `data.length`.
   */
  nextCut(data: Uint8Array, start: number, end: number): number;

  /** Forgets the current chunk: the next byte fed starts a new chunk. */
  reset(): void;
}
