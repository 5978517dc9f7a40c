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
 * Memory stays bounded whatever the file size: the generator holds on to
 * the pieces of the current chunk only, so less than `params.max` bytes
 * plus the piece being read. Every byte is copied once, into its chunk.
 *
 * Because of this, `source` must hand its pieces over: a piece must not
 * change after it is yielded, as its bytes are copied only when their
 * chunk ends. `ReadableStream`s (such as `Deno.FsFile.readable` or a
 * `fetch` body) do so; a reader that refills one buffer must yield copies.
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
  const held: Uint8Array[] = [];
  for await (const piece of source) {
    let start = 0;
    while (start < piece.length) {
      const cut = chunker.nextCut(piece, start, piece.length);
      if (cut < 0) {
        held.push(piece.subarray(start));
        break;
      }
      yield join(held, piece.subarray(start, cut));
      held.length = 0;
      start = cut;
    }
  }
  if (chunker.pending > 0) yield join(held, new Uint8Array(0));
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

/** Copies `held` then `last` into one fresh array. */
function join(held: readonly Uint8Array[], last: Uint8Array): Uint8Array {
  if (held.length === 0) return last.slice();
  let length = last.length;
  for (const part of held) length += part.length;
  const chunk = new Uint8Array(length);
  let offset = 0;
  for (const part of held) {
    chunk.set(part, offset);
    offset += part.length;
  }
  chunk.set(last, offset);
  return chunk;
}
