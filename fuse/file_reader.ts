/**
 * Reading a backed-up file's content by offset, through a
 * {@linkcode BlobCache}: the chunk holding an offset is found by binary
 * search over the chunks' cumulative end offsets, a read may span chunks,
 * and sequential reading makes the next chunks be fetched ahead.
 *
 * Read-ahead adapts: a read that starts where the previous reads ended
 * (give or take {@linkcode SEQUENTIAL_SLACK}, as the kernel may send
 * neighbouring reads out of order) widens the window by one chunk, up to
 * {@linkcode FileReaderOptions.readAhead}; any other read closes it, so
 * random access fetches only what it reads.
 *
 * @module
 */

import type { PlacedChunk } from "../client/repo/repository.ts";
import type { BlobCache } from "./chunk_cache.ts";

/** Default chunks fetched ahead of sequential reads. */
export const DEFAULT_READ_AHEAD = 4;
/** How far from the end of the previous reads a read may start and still count as sequential. */
export const SEQUENTIAL_SLACK = 1024 * 1024;

/** A chunk's blob does not have the chunk's size. */
export class ChunkSizeError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ChunkSizeError";
  }
}

/**
 * The index of the chunk holding byte `offset`: the first whose end is
 * past it, or `chunks.length` when `offset` is at or past the end.
 */
export function chunkIndexAt(chunks: readonly PlacedChunk[], offset: number): number {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chunks[mid].end <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Options of {@linkcode FileReader}. */
export interface FileReaderOptions {
  /** Chunks fetched ahead of sequential reads, at most (default {@linkcode DEFAULT_READ_AHEAD}; 0: none). */
  readAhead?: number;
}

/** Reads one file's content; one per open file handle. */
export class FileReader {
  readonly #chunks: readonly PlacedChunk[];
  readonly #cache: BlobCache;
  readonly #maxAhead: number;
  /** Where the reads so far ended (the furthest end of a sequential run). */
  #next = 0;
  #ahead = 0;

  /** Builds a reader of the content `chunks` (as `Repository.readContent` returns them). */
  constructor(chunks: readonly PlacedChunk[], cache: BlobCache, options: FileReaderOptions = {}) {
    this.#chunks = chunks;
    this.#cache = cache;
    this.#maxAhead = Math.max(0, options.readAhead ?? DEFAULT_READ_AHEAD);
  }

  /** The content's length. */
  get size(): number {
    return this.#chunks.at(-1)?.end ?? 0;
  }

  /** Chunks currently fetched ahead of a sequential read. */
  get readAhead(): number {
    return this.#ahead;
  }

  /**
   * Up to `size` bytes at `offset` (fewer only at the end of the content).
   *
   * @throws the blob fetch's error, or {@linkcode ChunkSizeError}.
   */
  async read(offset: number, size: number): Promise<Uint8Array> {
    const end = Math.min(offset + size, this.size);
    if (size <= 0 || offset >= end) return new Uint8Array(0);
    const first = chunkIndexAt(this.#chunks, offset);
    const last = chunkIndexAt(this.#chunks, end - 1);
    // Ask for the chunks read before those read ahead.
    const pending = Promise.all(this.#chunks.slice(first, last + 1).map((c) => this.#blob(c)));
    this.#plan(offset, end, last);
    const blobs = await pending;
    const startOf = (i: number) => this.#chunks[first + i].end - this.#chunks[first + i].size;
    if (blobs.length === 1) return blobs[0].subarray(offset - startOf(0), end - startOf(0));
    const out = new Uint8Array(end - offset);
    blobs.forEach((blob, i) => {
      const start = startOf(i);
      const from = Math.max(offset, start) - start;
      const to = Math.min(end, start + blob.length) - start;
      out.set(blob.subarray(from, to), start + from - offset);
    });
    return out;
  }

  async #blob(chunk: PlacedChunk): Promise<Uint8Array> {
    const data = await this.#cache.get(chunk.id);
    if (data.length !== chunk.size) {
      throw new ChunkSizeError(
        `Cannot read chunk ${chunk.id}: it has ${data.length} bytes, the file lists ${chunk.size}`,
      );
    }
    return data;
  }

  /** Updates the read-ahead window and prefetches the chunks after `last`. */
  #plan(offset: number, end: number, last: number): void {
    if (Math.abs(offset - this.#next) <= SEQUENTIAL_SLACK) {
      this.#ahead = Math.min(this.#maxAhead, this.#ahead + 1);
      this.#next = Math.max(this.#next, end);
    } else {
      // Reading from the start again is the beginning of a sequential run.
      this.#ahead = offset === 0 ? Math.min(this.#maxAhead, 1) : 0;
      this.#next = end;
    }
    const stop = Math.min(this.#chunks.length, last + 1 + this.#ahead);
    for (let i = last + 1; i < stop; i++) this.#cache.prefetch(this.#chunks[i].id);
  }
}
