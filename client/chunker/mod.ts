/**
 * The content-defined chunker of the backup client: FastCDC with a 32-bit
 * gear hash, as a pure module (no I/O). `ddb backup` splits every file into
 * chunks with {@linkcode chunkStream} and stores each as a blob.
 *
 * See docs/chunking.md for the algorithm, the parameters and why.
 *
 * @example
 * ```ts
 * import { chunkStream, DEFAULT_PARAMS } from "./mod.ts";
 *
 * using file = await Deno.open("photo.jpg");
 * for await (const chunk of chunkStream(file.readable, DEFAULT_PARAMS)) {
 *   console.log(chunk.length);
 * }
 * ```
 *
 * @module
 */

export type { Chunker } from "./chunker.ts";
export { CHUNKER_VERSION, cutPoints, FastCdcChunker, NORMALIZATION_LEVEL } from "./fastcdc.ts";
export { GEAR_SEED, makeGearTable } from "./gear_table.ts";
export {
  type ChunkerParams,
  DEFAULT_PARAMS,
  InvalidChunkerParamsError,
  MAX_AVG,
  MAX_MAX,
  MIN_AVG,
  validateParams,
} from "./params.ts";
export { chunkBuffer, chunkStream } from "./stream.ts";
