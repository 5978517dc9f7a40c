/**
 * Splitting a whole file into chunks: streamed ({@linkcode chunkStream}) or
 * from one buffer ({@linkcode chunkBuffer}).
 *
 * @module
 */

import { FastCdcChunker } from "./fastcdc.ts";
import type { ChunkerParams } from "./params.ts";
import { DEFAULT_PARAMS } from "./params.ts";

/**
 * Splits the bytes of one file, read from `source`, into content-defined
 * chunks (FastCDC with `params`, default {@linkcode DEFAULT_PARAMS}).
 *
 * Each chunk yielded is a fresh `Uint8Array` that the caller owns (its own
 * `ArrayBuffer`, exactly as long as the chunk), `params.min + 1` to
 * `params.max` bytes long except the last, which may be shorter. Empty input
 * yields no chunk. The cut points are those of {@linkcode chunkBuffer} over
 * the concatenated input, whatever the sizes of the pieces.
 *
 * Memory stays bounded whatever the file size: the generator holds a
 * scratch buffer of `params.max` bytes for the chunk being cut, into which
 * the bytes of each piece that do not end a chunk are copied right away.
 * So a piece is needed only until the next one is asked for: `source` may
 * refill one buffer for every piece (no garbage per piece read). Each chunk
 * is one fresh allocation, filled from the scratch and the current piece.
 *
 * Returning early (`break` in `for await`) closes `source`.
 *
 * @example
 * ```ts
 * using file = await Deno.open("photo.jpg");
 * for await (const chunk of chunkStream(file.readable)) {
 *   console.log(chunk.length);
 * }
 * ```
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  params: Readonly<ChunkerParams> = DEFAULT_PARAMS,
): AsyncGenerator<Uint8Array, void, undefined> {
  const chunker = new FastCdcChunker(params);
  // Bytes of the chunk being cut (fewer than params.max: a chunk ends there at the latest).
  let scratch: Uint8Array | undefined;
  let held = 0;
  for await (const piece of source) {
    let start = 0;
    while (start < piece.length) {
      const cut = chunker.nextCut(piece, start, piece.length);
      if (cut < 0) {
        scratch ??= new Uint8Array(params.max);
        scratch.set(piece.subarray(start), held);
        held += piece.length - start;
        break;
      }
      const chunk = new Uint8Array(held + cut - start);
      if (held > 0) chunk.set(scratch!.subarray(0, held));
      chunk.set(piece.subarray(start, cut), held);
      held = 0;
      start = cut;
      yield chunk;
    }
  }
  if (chunker.pending > 0) yield scratch!.slice(0, held);
}

/**
 * Splits `data`, a whole file, into content-defined chunks (FastCDC with
 * `params`, default {@linkcode DEFAULT_PARAMS}).
 *
 * The chunks yielded are views into `data` (`subarray`), not copies.
 *
 * @example
 * ```ts
 * const data = new Uint8Array(10_000_000);
 * const sizes = [...chunkBuffer(data)].map((chunk) => chunk.length);
 * // [8388608, 1611392]: zeros never match, so every chunk is cut at max
 * ```
 */
export function* chunkBuffer(
  data: Uint8Array,
  params: Readonly<ChunkerParams> = DEFAULT_PARAMS,
): Generator<Uint8Array, void, undefined> {
  const chunker = new FastCdcChunker(params);
  let start = 0;
  while (start < data.length) {
    let cut = chunker.nextCut(data, start, data.length);
    if (cut < 0) cut = data.length;
    yield data.subarray(start, cut);
    start = cut;
  }
}
