/**
 * Packs small blobs together before they reach the storage (format:
 * `pack_format.ts`), like the group commit does for kv writes: the blobs put
 * while one pack is being written go into the next one, so the number of
 * storage writes follows the number of round trips, not of blobs.
 *
 * A blob's {@linkcode BlobPacker.add} resolves once the pack holding it is
 * durable in the storage (its `put` resolved), with the blob's location; the
 * caller records that location in its index. A failed pack write rejects
 * every blob of that pack.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { BlobStorage } from "../../storage/blob_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import { encodePack } from "./pack_format.ts";

/** Where a packed blob lives. */
export interface PackLocation {
  /** The pack's blob id (lowercase hex SHA-256 of the pack). */
  pack: string;
  /** Where the blob starts in the pack. */
  offset: number;
  /** The blob's length. */
  length: number;
}

/** Options of {@linkcode BlobPacker}. */
export interface BlobPackerOptions {
  /** A pack is written as soon as this many blob bytes wait (default 8 MiB). */
  maxPackBytes?: number;
  /** Runs `fn` soon (default `setTimeout(fn, 0)`: after this event-loop turn). */
  schedule?: (fn: () => void) => void;
}

interface Waiting {
  hash: Uint8Array;
  data: Uint8Array;
  done: PromiseWithResolvers<PackLocation>;
}

/** Collects small blobs into packs written to one storage. */
export class BlobPacker {
  readonly #storage: BlobStorage;
  readonly #maxPackBytes: number;
  readonly #schedule: (fn: () => void) => void;
  #waiting = new Map<string, Waiting>();
  #waitingBytes = 0;
  #scheduled = false;
  #inFlight = new Set<Promise<void>>();
  #closed = false;

  /** Builds a packer writing into `storage`. */
  constructor(storage: BlobStorage, options: BlobPackerOptions = {}) {
    this.#storage = storage;
    this.#maxPackBytes = options.maxPackBytes ?? 8 * 1024 * 1024;
    this.#schedule = options.schedule ?? ((fn) => setTimeout(fn, 0));
  }

  /**
   * Adds blob `id` (lowercase hex SHA-256 of `data`, checked by the caller)
   * to the next pack; resolves with its location once that pack is durable.
   * `data` must not be modified afterwards. Adding an id that is waiting
   * shares its pack.
   */
  add(id: string, data: Uint8Array): Promise<PackLocation> {
    if (this.#closed) return Promise.reject(new Error("Cannot pack blob: the packer is closed"));
    const waiting = this.#waiting.get(id);
    if (waiting !== undefined) return waiting.done.promise;
    const done = Promise.withResolvers<PackLocation>();
    this.#waiting.set(id, { hash: Buffer.from(id, "hex"), data, done });
    this.#waitingBytes += data.length;
    if (this.#waitingBytes >= this.#maxPackBytes) {
      this.#write();
    } else if (this.#inFlight.size === 0) {
      this.#soon();
    }
    return done.promise;
  }

  #soon(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => {
      this.#scheduled = false;
      if (this.#waiting.size > 0) this.#write();
    });
  }

  /** Writes what waits as one pack. */
  #write(): void {
    const blobs = [...this.#waiting.values()];
    this.#waiting = new Map();
    this.#waitingBytes = 0;
    const writing: Promise<void> = this.#writePack(blobs).finally(() => {
      this.#inFlight.delete(writing);
      // Blobs that arrived during the write go out next, together.
      if (this.#inFlight.size === 0 && this.#waiting.size > 0) this.#soon();
    });
    this.#inFlight.add(writing);
  }

  async #writePack(blobs: Waiting[]): Promise<void> {
    try {
      const { bytes, entries } = encodePack(blobs);
      // blobIdOf remembers the id, so that the storage's check of it in
      // `put` does not hash the whole pack a second time.
      const pack = blobIdOf(bytes);
      await this.#storage.put(pack, bytes);
      for (let i = 0; i < blobs.length; i++) {
        blobs[i].done.resolve({ pack, offset: entries[i].offset, length: entries[i].length });
      }
    } catch (error) {
      for (const blob of blobs) blob.done.reject(error);
    }
  }

  /** Writes whatever waits and resolves when every pack write has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#waiting.size > 0) this.#write();
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }
}
