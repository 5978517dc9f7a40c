/**
 * A bounded cache of blobs (file chunks) for the mount's reads.
 *
 * - Bounded by bytes: blobs are kept least recently used first, and the
 *   oldest dropped while the total is over the bound. A blob larger than
 *   the bound is handed out but not kept.
 * - One fetch per blob: concurrent requests for a blob share its fetch.
 * - At most {@linkcode BlobCacheOptions.maxFetches} fetches run at once;
 *   the rest wait in two queues, reads before prefetches, and a prefetch
 *   that a read asks for moves up to the reads' queue.
 * - A failed fetch is not remembered: the error goes to everyone waiting,
 *   and the next request fetches again.
 *
 * Memory: at most `maxBytes` of cached blobs plus the blobs being fetched
 * (at most `maxFetches` of them).
 *
 * @module
 */

import { FifoQueue } from "../client/concurrency/fifo_queue.ts";

/** Default bound of the cache: 128 MiB. */
export const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;
/** Default number of fetches at once. */
export const DEFAULT_MAX_FETCHES = 8;

/** Options of {@linkcode BlobCache}. */
export interface BlobCacheOptions {
  /** Bytes of blobs kept, at most (default {@linkcode DEFAULT_CACHE_BYTES}). */
  maxBytes?: number;
  /** Fetches running at once, at most (default {@linkcode DEFAULT_MAX_FETCHES}). */
  maxFetches?: number;
}

/** Counters of a {@linkcode BlobCache}. */
export interface BlobCacheStats {
  /** Bytes of blobs kept. */
  bytes: number;
  /** Blobs kept. */
  blobs: number;
  /** Requests answered from the cache. */
  hits: number;
  /** Requests that joined a fetch already running or queued. */
  joined: number;
  /** Fetches started. */
  fetches: number;
  /** Fetches that failed. */
  failures: number;
  /** Blobs dropped to stay within the bound. */
  evictions: number;
}

interface Fetch {
  id: string;
  /** Whether a read (not only a prefetch) waits for it. */
  urgent: boolean;
  started: boolean;
  promise: Promise<Uint8Array>;
  resolve: (data: Uint8Array) => void;
  reject: (error: unknown) => void;
}

/** Blobs by id, fetched through a function, kept within a byte bound. */
export class BlobCache {
  readonly #fetch: (id: string) => Promise<Uint8Array>;
  readonly #maxBytes: number;
  readonly #maxFetches: number;
  /** Kept blobs, least recently used first. */
  readonly #blobs = new Map<string, Uint8Array>();
  /** Fetches queued or running. */
  readonly #fetches = new Map<string, Fetch>();
  readonly #urgent = new FifoQueue<Fetch>();
  readonly #background = new FifoQueue<Fetch>();
  #running = 0;
  #stats: BlobCacheStats = {
    bytes: 0,
    blobs: 0,
    hits: 0,
    joined: 0,
    fetches: 0,
    failures: 0,
    evictions: 0,
  };

  /** Builds a cache over `fetch`, which resolves with a blob's (verified) bytes. */
  constructor(fetch: (id: string) => Promise<Uint8Array>, options: BlobCacheOptions = {}) {
    this.#fetch = fetch;
    this.#maxBytes = Math.max(0, options.maxBytes ?? DEFAULT_CACHE_BYTES);
    this.#maxFetches = Math.max(1, options.maxFetches ?? DEFAULT_MAX_FETCHES);
  }

  /** A copy of the counters. */
  get stats(): BlobCacheStats {
    return { ...this.#stats };
  }

  /** Whether the blob is kept or being fetched. */
  has(id: string): boolean {
    return this.#blobs.has(id) || this.#fetches.has(id);
  }

  /** The blob `id`, from the cache or fetched (before any queued prefetch). */
  get(id: string): Promise<Uint8Array> {
    const kept = this.#blobs.get(id);
    if (kept !== undefined) {
      this.#stats.hits++;
      this.#blobs.delete(id);
      this.#blobs.set(id, kept);
      return Promise.resolve(kept);
    }
    const fetch = this.#fetches.get(id);
    if (fetch !== undefined) {
      this.#stats.joined++;
      if (!fetch.urgent) {
        fetch.urgent = true;
        if (!fetch.started) this.#urgent.push(fetch);
      }
      return fetch.promise;
    }
    return this.#queue(id, true).promise;
  }

  /** Starts fetching `id` in the background unless it is kept or being fetched. */
  prefetch(id: string): void {
    if (this.has(id)) return;
    // Nobody waits for a prefetch: its failure is only counted.
    this.#queue(id, false).promise.catch(() => {});
  }

  #queue(id: string, urgent: boolean): Fetch {
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    const fetch: Fetch = { id, urgent, started: false, promise, resolve, reject };
    this.#fetches.set(id, fetch);
    (urgent ? this.#urgent : this.#background).push(fetch);
    this.#pump();
    return fetch;
  }

  #pump(): void {
    while (this.#running < this.#maxFetches) {
      let fetch = this.#urgent.shift();
      while (fetch !== undefined && fetch.started) fetch = this.#urgent.shift();
      if (fetch === undefined) {
        fetch = this.#background.shift();
        while (fetch !== undefined && fetch.started) fetch = this.#background.shift();
      }
      if (fetch === undefined) return;
      this.#start(fetch);
    }
  }

  #start(fetch: Fetch): void {
    fetch.started = true;
    this.#running++;
    this.#stats.fetches++;
    let result: Promise<Uint8Array>;
    try {
      result = this.#fetch(fetch.id);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (data) => {
        this.#finish(fetch);
        this.#keep(fetch.id, data);
        fetch.resolve(data);
      },
      (error) => {
        this.#finish(fetch);
        this.#stats.failures++;
        fetch.reject(error);
      },
    );
  }

  #finish(fetch: Fetch): void {
    this.#running--;
    this.#fetches.delete(fetch.id);
    this.#pump();
  }

  #keep(id: string, data: Uint8Array): void {
    if (data.length > this.#maxBytes) return;
    this.#blobs.set(id, data);
    this.#stats.bytes += data.length;
    for (const [oldId, old] of this.#blobs) {
      if (this.#stats.bytes <= this.#maxBytes) break;
      this.#blobs.delete(oldId);
      this.#stats.bytes -= old.length;
      this.#stats.evictions++;
    }
    this.#stats.blobs = this.#blobs.size;
  }
}
