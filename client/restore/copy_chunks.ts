/**
 * Copies a file's content from the server: fetches its chunks in order with
 * several in flight and hands each to a writer in order. A chunk that occurs
 * several times close together (within the window) is fetched once.
 *
 * Memory is bounded by an optional shared {@linkcode Semaphore} of bytes:
 * a chunk is requested only while its size fits. A copy that already holds
 * chunks never waits for more (it writes what it has instead), so copies
 * sharing one budget cannot deadlock.
 *
 * @module
 */

import { IntegrityError } from "../repo/repository.ts";
import type { ChunkRef } from "../snapshot/schema.ts";
import type { Semaphore } from "../concurrency/semaphore.ts";

/** Where blobs come from (a `Repository` is one); must verify each blob's hash. */
export interface BlobSource {
  /** A blob's bytes, verified against its id; `size` is the size expected (a hint). */
  getBlob(id: string, size?: number): Promise<Uint8Array>;
}

/** Options of {@linkcode copyChunks}. */
export interface CopyOptions {
  /** Chunks requested ahead, including the one being written (default 8). */
  window?: number;
  /** Shared budget of bytes in memory (default: unbounded apart from the window). */
  budget?: Semaphore;
}

interface Fetch {
  id: string;
  weight: number;
  /** Chunks of the queue still to be written from it. */
  uses: number;
  result: Promise<{ data: Uint8Array } | { error: unknown }>;
}

/**
 * Fetches `chunks` in order and awaits `write` for each. Every chunk must
 * have exactly its listed size.
 *
 * @returns the bytes written.
 * @throws the first fetch or write error (nothing more is written after it),
 *   or {@linkcode IntegrityError} for a chunk of the wrong size.
 */
export async function copyChunks(
  source: BlobSource,
  chunks: readonly ChunkRef[],
  write: (data: Uint8Array) => Promise<void>,
  options: CopyOptions = {},
): Promise<number> {
  const window = Math.max(1, options.window ?? 8);
  const budget = options.budget;
  const active = new Map<string, Fetch>();
  const queue: Fetch[] = [];
  let next = 0;
  let written = 0;

  const start = (id: string, weight: number): Fetch => {
    const fetch: Fetch = {
      id,
      weight,
      uses: 0,
      result: source.getBlob(id, weight).then((data) => ({ data }), (error) => ({ error })),
    };
    active.set(id, fetch);
    return fetch;
  };
  const done = (fetch: Fetch): void => {
    if (--fetch.uses > 0) return;
    active.delete(fetch.id);
    budget?.release(fetch.weight);
  };
  /** Requests chunk `next` if it may; false when the window or budget is full. */
  const request = async (): Promise<boolean> => {
    if (next >= chunks.length || queue.length >= window) return false;
    const chunk = chunks[next];
    let fetch = active.get(chunk.id);
    if (fetch === undefined) {
      if (budget !== undefined) {
        if (queue.length > 0) {
          if (!budget.tryAcquire(chunk.size)) return false;
        } else {
          await budget.acquire(chunk.size);
        }
      }
      fetch = start(chunk.id, chunk.size);
    }
    fetch.uses++;
    queue.push(fetch);
    next++;
    return true;
  };

  try {
    for (let i = 0; i < chunks.length; i++) {
      while (await request()) {
        // Fill the window.
      }
      const fetch = queue.shift()!;
      const result = await fetch.result;
      if ("error" in result) throw result.error;
      if (result.data.length !== chunks[i].size) {
        throw new IntegrityError(
          `Cannot use chunk ${fetch.id}: it has ${result.data.length} bytes, the content list says ${
            chunks[i].size
          }`,
        );
      }
      await write(result.data);
      written += result.data.length;
      done(fetch);
    }
    return written;
  } finally {
    // After an error: let the fetches still running end, then give their budget back.
    for (const fetch of active.values()) {
      await fetch.result;
      budget?.release(fetch.weight);
    }
    active.clear();
  }
}
