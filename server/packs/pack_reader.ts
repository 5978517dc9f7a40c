/**
 * Reading one blob out of a pack: the whole pack is read into a bounded
 * cache of recently read packs, then the blob is cut out of it.
 *
 * A verified read hashes the cached pack once (against the pack's id); the
 * blob is then returned without hashing it again when the pack's own
 * trailer lists it at that place (the trailer holds each blob's hash as the
 * server computed it when packing, and the pack's hash covers the trailer);
 * otherwise the blob is verified against its id. When the pack is damaged,
 * the blob's own range is read instead (`getRange`), so that one bad byte
 * costs one blob, not every blob of its pack.
 *
 * An unverified read (for a caller that hashes every blob it receives)
 * hashes nothing: it returns the bytes at the blob's place in the pack as
 * stored, damaged or not.
 *
 * @module
 */

import { BlobCorruptError, type BlobStorage } from "../../storage/blob_storage.ts";
import { blobIdOf, bytesToHex } from "../../storage/blob_id.ts";
import { decodePack, PackFormatError } from "./pack_format.ts";
import type { PackLocation } from "./blob_packer.ts";

/** Options of {@linkcode PackReader.read}. */
export interface PackReadOptions {
  /**
   * Whether to verify the blob (default true). `false`: the bytes at its
   * place, as stored — only for a caller that checks them itself.
   */
  verify?: boolean;
}

/** Reads packed blobs from one storage. */
export class PackReader {
  readonly #storage: BlobStorage;
  readonly #cacheBytes: number;
  /** Whole packs by id, least recently used first. */
  readonly #cache = new Map<string, CachedPack>();
  #cachedBytes = 0;
  /** The reads in progress. */
  readonly #reading = new Set<Promise<Uint8Array>>();

  /** Builds a reader of `storage`; `cacheBytes` bounds the cache of whole packs. */
  constructor(storage: BlobStorage, cacheBytes = 64 * 1024 * 1024) {
    this.#storage = storage;
    this.#cacheBytes = cacheBytes;
  }

  /**
   * The bytes of blob `id` at `location`, verified against `id` unless
   * `options.verify` is false.
   *
   * @throws {BlobNotFoundError} when the pack is missing.
   * @throws {BlobCorruptError} when the bytes do not hash to `id` or the pack is too short.
   */
  read(id: string, location: PackLocation, options?: PackReadOptions): Promise<Uint8Array> {
    const reading = options?.verify === false
      ? this.#readUnverified(id, location)
      : this.#read(id, location);
    this.#reading.add(reading);
    const done = () => this.#reading.delete(reading);
    reading.then(done, done);
    return reading;
  }

  /**
   * Resolves once every read that started before this call has ended
   * (however it ended). The garbage collector waits for it after moving
   * blobs out of a pack and before deleting that pack: a read that found
   * the blob's old location has the old pack in hand by then, and every
   * later read finds the new location.
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#reading]);
  }

  async #readUnverified(id: string, location: PackLocation): Promise<Uint8Array> {
    const { pack, offset, length } = location;
    const bytes = await this.#whole(pack).bytes;
    if (offset + length > bytes.length) {
      throw new BlobCorruptError(id, `pack ${pack} is ${bytes.length} bytes, too short`);
    }
    // A view: see #read.
    return bytes.subarray(offset, offset + length);
  }

  async #read(id: string, location: PackLocation): Promise<Uint8Array> {
    const { pack, offset, length } = location;
    // Whole packs, cached: the blobs of a pack are mostly read together (a
    // restore, a copy out of the mount), and one read of a pack (≤ ~8 MiB)
    // costs less than a storage round trip per blob.
    let data: Uint8Array;
    try {
      const cached = this.#whole(pack);
      const bytes = await cached.bytes;
      cached.verified ??= blobIdOf(bytes) === pack;
      if (!cached.verified) throw new BlobCorruptError(pack, "its bytes differ from its hash");
      if (offset + length > bytes.length) {
        throw new BlobCorruptError(id, `pack ${pack} is ${bytes.length} bytes, too short`);
      }
      const listed = listing(cached, bytes).get(id);
      if (listed !== undefined && listed.offset === offset && listed.length === length) {
        // A view: the cached pack is never modified. It keeps the whole pack
        // alive while the reply waits, which the executor counts (it bounds
        // held replies by the buffers they are views of).
        return bytes.subarray(offset, offset + length);
      }
      data = bytes.slice(offset, offset + length);
    } catch (error) {
      // A damaged pack: its other blobs may be intact, so read this one's
      // range alone (verified below) rather than lose every blob of the pack.
      const storage = this.#storage;
      if (!(error instanceof BlobCorruptError) || storage.getRange === undefined) {
        throw error;
      }
      data = await storage.getRange(pack, offset, length);
    }
    if (blobIdOf(data) !== id) {
      throw new BlobCorruptError(id, `the bytes at ${offset}+${length} of pack ${pack} differ`);
    }
    return data;
  }

  #whole(pack: string): CachedPack {
    const cached = this.#cache.get(pack);
    if (cached !== undefined) {
      this.#cache.delete(pack);
      this.#cache.set(pack, cached);
      return cached;
    }
    // Not verified here: a verified read hashes it once (#read), an
    // unverified one never does.
    const entry: CachedPack = {
      bytes: this.#storage.get(pack, { verify: false }),
      size: 0,
      verified: undefined,
      listing: undefined,
    };
    this.#cache.set(pack, entry);
    entry.bytes.then((bytes) => {
      if (this.#cache.get(pack) !== entry) return;
      entry.size = bytes.length;
      this.#cachedBytes += bytes.length;
      for (const [id, old] of this.#cache) {
        if (this.#cachedBytes <= this.#cacheBytes || id === pack) break;
        this.#cache.delete(id);
        this.#cachedBytes -= old.size;
      }
    }, () => {
      if (this.#cache.get(pack) === entry) this.#cache.delete(pack);
    });
    return entry;
  }
}

/** Where a pack's trailer puts each blob: by lowercase hex id. */
type Listing = Map<string, { offset: number; length: number }>;

interface CachedPack {
  /** The whole pack as stored (not verified by the storage). */
  bytes: Promise<Uint8Array>;
  /** Its size once read (0 before): what it counts against the bound. */
  size: number;
  /** Whether its bytes hash to its id; undefined until a verified read checked. */
  verified: boolean | undefined;
  /** Its trailer's entries, decoded on first use; empty for a malformed trailer. */
  listing: Listing | undefined;
}

/** The entries of the verified pack `bytes` held by `cached`, decoded once. */
function listing(cached: CachedPack, bytes: Uint8Array): Listing {
  if (cached.listing !== undefined) return cached.listing;
  const entries: Listing = new Map();
  try {
    for (const { hash, offset, length } of decodePack(bytes)) {
      entries.set(bytesToHex(hash), { offset, length });
    }
  } catch (error) {
    // Not a well-formed pack: every blob is then verified by its hash.
    if (!(error instanceof PackFormatError)) throw error;
    entries.clear();
  }
  cached.listing = entries;
  return entries;
}
