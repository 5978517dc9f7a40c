/**
 * One download for the same blob wanted by several files at about the same
 * time: a file and its near copy restored side by side share their common
 * chunks instead of fetching (and verifying, on both ends) each twice. A
 * blob being downloaded is handed to every caller that asks for it
 * meanwhile, and the most recently downloaded ones are kept, up to a bound
 * of bytes, for a caller a little behind.
 *
 * The bytes handed out are shared: callers must not modify them.
 *
 * @module
 */

import type { BlobSource } from "./copy_chunks.ts";

/** A {@linkcode BlobSource} that shares downloads (see the module documentation). */
export class SharedFetches implements BlobSource {
  readonly #source: BlobSource;
  readonly #keepBytes: number;
  readonly #inFlight = new Map<string, Promise<Uint8Array>>();
  /** Recently downloaded blobs, least recently used first. */
  readonly #recent = new Map<string, Uint8Array>();
  #recentBytes = 0;

  /** Wraps `source`, keeping up to `keepBytes` of recent blobs. */
  constructor(source: BlobSource, keepBytes: number) {
    this.#source = source;
    this.#keepBytes = keepBytes;
  }

  /** The blob's bytes (shared), from a download in flight, a recent one or a new one. */
  getBlob(id: string, size?: number): Promise<Uint8Array> {
    const recent = this.#recent.get(id);
    if (recent !== undefined) {
      this.#recent.delete(id);
      this.#recent.set(id, recent);
      return Promise.resolve(recent);
    }
    const pending = this.#inFlight.get(id);
    if (pending !== undefined) return pending;
    const fetch = this.#source.getBlob(id, size);
    this.#inFlight.set(id, fetch);
    fetch.then((data) => {
      this.#inFlight.delete(id);
      this.#keep(id, data);
    }, () => this.#inFlight.delete(id));
    return fetch;
  }

  #keep(id: string, data: Uint8Array): void {
    if (data.length > this.#keepBytes) return;
    this.#recent.set(id, data);
    this.#recentBytes += data.length;
    for (const [old, bytes] of this.#recent) {
      if (this.#recentBytes <= this.#keepBytes) break;
      this.#recent.delete(old);
      this.#recentBytes -= bytes.length;
    }
  }
}
