/**
 * Rewriting packs that hold dead blobs (chosen by `pack_candidates.ts`):
 * their live blobs are copied into new packs and the old packs deleted.
 *
 * For a batch of old packs whose live blobs fill about one new pack:
 *
 * 1. Read each old pack (the storage verifies it against its id) and take
 *    the blobs whose index record still places them there, each verified
 *    against its own hash. A damaged pack is read blob by blob (range
 *    reads of the blobs its trailer lists). A blob whose bytes do not match
 *    is reported (`gc.damaged`) and not copied: its record keeps naming the
 *    old pack, which then stays.
 * 2. Write the new pack; `put` resolves once it is durable.
 * 3. Point each copied blob's record at the new pack (if it still names the
 *    old place), a page of records per transaction; then, in one durable
 *    transaction, record the old packs as pending deletion.
 * 4. Wait for the blob reads in progress (`PackReader.settled`): one that
 *    found an old location before step 3 has its pack in hand by then.
 * 5. Delete each old pack that no record names any more, and drop its
 *    pending key.
 *
 * A crash before 3 leaves the new pack unnamed: an orphan, deleted by a
 * later collection (`orphans.ts`). A crash during 3 leaves some records
 * moved and some not: both packs stay, each named, and a later collection
 * rewrites what is left. A crash after 3 leaves pending keys that the next
 * collection's deletions finish (`delete_objects.ts`). At every point each
 * live blob's record names a durable pack holding it.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import {
  BlobCorruptError,
  BlobNotFoundError,
  type BlobStorage,
} from "../../storage/blob_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import { blobIndexKey } from "../kv/keys.ts";
import * as blobIndex from "../blob_index.ts";
import type { Logger } from "../log/logger.ts";
import {
  decodePack,
  decodePackTrailer,
  PACK_TAIL_BYTES,
  type PackEntry,
  packEntryCount,
  PackFormatError,
  packTrailerBytes,
} from "../packs/pack_format.ts";
import type { Pacer } from "./pacer.ts";
import type { PackCandidates } from "./pack_candidates.ts";
import { addPendingDelete, removePendingDelete } from "./pending_deletes.ts";
import { type BatchSource, RepackBatch } from "./repack_batch.ts";
import { namesPack, relocated } from "./_index_values.ts";
import { fromHex, toHex } from "./_names.ts";

/** Index records moved per transaction. */
const SWITCH_PAGE = 1000;

/** New packs are cut at this many bytes of blobs: 8 MiB, as the server's packer does. */
export const REPACK_TARGET_BYTES = 8 * 1024 * 1024;
/**
 * …or at this many blobs: a batch takes some 100 bytes per blob besides its
 * bytes (and a pack's readers an object per entry), so 8 MiB of tiny blobs
 * (hundreds of thousands) would make the collection's memory grow with them.
 */
export const REPACK_TARGET_BLOBS = 65_536;

/** Waits for the blob reads in progress (`PackReader.settled`). */
export interface ReadBarrier {
  /** Resolves once every read started before the call has ended. */
  settled(): Promise<void>;
}

/** Where packs are rewritten. */
export interface RepackContext {
  /** The database's metadata. */
  kv: KvStore;
  /** The database's blob storage. */
  storage: BlobStorage;
  /** Its name, for logs. */
  name: string;
  /** Where problems are logged. */
  logger: Logger;
  /** The reader serving BGET, waited for before an old pack goes. */
  packReader?: ReadBarrier;
}

/** What rewriting packs did. */
export interface RepackStats {
  /** Old packs deleted. */
  packs: number;
  /** Their bytes. */
  bytesDeleted: number;
  /** Blobs moved into new packs. */
  blobs: number;
  /** New packs written (and kept). */
  written: number;
  /** Their bytes. */
  bytesWritten: number;
  /** Live blobs found damaged and left where they are. */
  damaged: number;
  /** Old packs kept: missing, unreadable, or still named by a record. */
  kept: number;
}

/** A live blob read from an old pack (its bytes verified). */
interface LiveBlob {
  hash: Uint8Array;
  data: Uint8Array;
  /** Its offset in the old pack. */
  offset: number;
}

/** Rewrites `candidates` (see the module documentation). */
export async function repackPacks(
  ctx: RepackContext,
  candidates: PackCandidates,
  pacer: Pacer,
  targetBytes = REPACK_TARGET_BYTES,
  targetBlobs = REPACK_TARGET_BLOBS,
): Promise<RepackStats> {
  const stats: RepackStats = {
    packs: 0,
    bytesDeleted: 0,
    blobs: 0,
    written: 0,
    bytesWritten: 0,
    damaged: 0,
    kept: 0,
  };
  let batch = new RepackBatch();
  for (let i = 0; i < candidates.length; i++) {
    const { id, size } = candidates.at(i);
    const source = id.slice();
    const read = await readLive(ctx, source, size, stats, pacer);
    if (read === undefined) continue;
    let bytes = 0;
    for (const blob of read.live) bytes += blob.data.length;
    // New packs are cut between old packs, before they pass the target.
    if (
      batch.sources.length > 0 &&
      (batch.dataBytes + bytes > targetBytes || batch.count + read.live.length > targetBlobs)
    ) {
      await writeBatch(ctx, batch, stats, pacer);
      batch = new RepackBatch();
    }
    batch.addSource(source, size, read.left);
    for (const blob of read.live) batch.add(blob.hash, blob.data, blob.offset);
    if (pacer.due()) await pacer.pause();
  }
  await writeBatch(ctx, batch, stats, pacer);
  return stats;
}

/**
 * How many new packs rewriting `candidates` writes, from the counts of the
 * blob sweep: the cut of {@linkcode repackPacks}, for a dry run.
 */
export function plannedPacks(
  candidates: PackCandidates,
  targetBytes = REPACK_TARGET_BYTES,
  targetBlobs = REPACK_TARGET_BLOBS,
): number {
  let packs = 0;
  let held = 0;
  let heldBlobs = 0;
  for (let i = 0; i < candidates.length; i++) {
    const { liveBytes, liveBlobs } = candidates.at(i);
    if (i > 0 && (held + liveBytes > targetBytes || heldBlobs + liveBlobs > targetBlobs)) {
      packs++;
      held = 0;
      heldBlobs = 0;
    }
    held += liveBytes;
    heldBlobs += liveBlobs;
  }
  return candidates.length > 0 ? packs + 1 : 0;
}

/** The live blobs of old pack `id` (verified), or undefined when it cannot be read. */
async function readLive(
  ctx: RepackContext,
  id: Uint8Array,
  size: number,
  stats: RepackStats,
  pacer: Pacer,
): Promise<{ left: BatchSource["left"]; live: LiveBlob[] } | undefined> {
  const hex = toHex(id);
  let bytes: Uint8Array | undefined;
  let entries: PackEntry[];
  try {
    bytes = await ctx.storage.get(hex);
    entries = decodePack(bytes);
  } catch (error) {
    if (error instanceof BlobNotFoundError) {
      ctx.logger.error("gc.repack_missing", {
        db: ctx.name,
        pack: hex,
        error: "the index names this pack but the storage has not got it: run ddb check",
      });
      stats.kept++;
      return undefined;
    }
    if (!(error instanceof BlobCorruptError || error instanceof PackFormatError)) throw error;
    // A damaged pack: its trailer and each live blob are read on their own.
    bytes = undefined;
    const trailer = await readTrailer(ctx, hex, size, error);
    if (trailer === undefined) {
      stats.kept++;
      return undefined;
    }
    entries = trailer;
  }
  const left: BatchSource["left"] = [];
  const live: LiveBlob[] = [];
  for (const entry of entries) {
    if (pacer.due()) await pacer.pause();
    if (!namesPack(ctx.kv.get(blobIndexKey(entry.hash)), id, entry.offset)) continue;
    let data: Uint8Array;
    try {
      data = bytes !== undefined
        ? bytes.subarray(entry.offset, entry.offset + entry.length)
        : await ctx.storage.getRange!(hex, entry.offset, entry.length);
    } catch (error) {
      if (!(error instanceof BlobCorruptError)) throw error;
      data = new Uint8Array(0);
    }
    const blob = toHex(entry.hash);
    if (data.length !== entry.length || blobIdOf(data) !== blob) {
      stats.damaged++;
      ctx.logger.error("gc.damaged", {
        db: ctx.name,
        blob,
        pack: hex,
        error: "its bytes in the pack do not match its hash: left in place, run ddb check",
      });
      left.push({ hash: entry.hash, offset: entry.offset });
      continue;
    }
    live.push({ hash: entry.hash, data, offset: entry.offset });
  }
  if (live.length === 0 && left.length === 0) {
    // No record names it: not a pack of the index after all (its id shares
    // the tally's 48 bits with one), but an orphan, for `orphans.ts` to judge.
    stats.kept++;
    return undefined;
  }
  return { left, live };
}

/** The entries of damaged pack `hex`, read from its trailer, or undefined. */
async function readTrailer(
  ctx: RepackContext,
  hex: string,
  size: number,
  cause: Error,
): Promise<PackEntry[] | undefined> {
  const storage = ctx.storage;
  try {
    if (storage.getRange === undefined || size < PACK_TAIL_BYTES) throw cause;
    const n = packEntryCount(await storage.getRange(hex, size - PACK_TAIL_BYTES, PACK_TAIL_BYTES));
    const trailerBytes = packTrailerBytes(n);
    if (trailerBytes > size) throw new PackFormatError(`${n} entries do not fit in ${size} bytes`);
    return decodePackTrailer(await storage.getRange(hex, size - trailerBytes, trailerBytes), size);
  } catch (error) {
    if (
      !(error instanceof BlobCorruptError || error instanceof PackFormatError ||
        error === cause)
    ) {
      throw error;
    }
    ctx.logger.error("gc.damaged", {
      db: ctx.name,
      pack: hex,
      error: `the pack cannot be read (${cause.message}) nor its list of blobs ` +
        `(${(error as Error).message}): left in place, run ddb check`,
    });
    return undefined;
  }
}

/** Steps 2 to 5 for one batch. */
async function writeBatch(
  ctx: RepackContext,
  batch: RepackBatch,
  stats: RepackStats,
  pacer: Pacer,
): Promise<void> {
  if (batch.sources.length === 0) return;
  const { kv } = ctx;
  let target: { id: Uint8Array; hex: string; size: number; offsets: Float64Array } | undefined;
  if (batch.count > 0) {
    const { bytes, offsets } = batch.encode();
    const hex = blobIdOf(bytes);
    await ctx.storage.put(hex, bytes);
    target = { id: fromHex(hex), hex, size: bytes.length, offsets };
  }
  // The records move a page per transaction (each move stands on its own:
  // both packs hold the blob), then one durable commit records the old
  // packs as pending deletion and makes every move survive a power loss.
  let moved = 0;
  for (let from = 0; target !== undefined && from < batch.count; from += SWITCH_PAGE) {
    const to = Math.min(batch.count, from + SWITCH_PAGE);
    const into = target;
    kv.transaction(() => {
      for (let i = from; i < to; i++) {
        const key = blobIndexKey(batch.hash(i));
        const value = kv.get(key);
        if (!namesPack(value, batch.source(i).id, batch.fromOffset(i))) continue;
        kv.set(key, relocated(value!, into.id, into.offsets[i]));
        moved++;
      }
    });
    if (pacer.due()) await pacer.pause();
  }
  kv.transaction(() => {
    for (const source of batch.sources) addPendingDelete(kv, source.id);
  }, { durable: true });
  stats.blobs += moved;
  if (target !== undefined) {
    if (moved > 0 || blobIndex.has(kv, target.hex)) {
      stats.written++;
      stats.bytesWritten += target.size;
    } else {
      // Every record changed meanwhile: the new pack is named by nothing.
      await ctx.storage.delete(target.hex);
    }
  }
  await ctx.packReader?.settled();
  for (const source of batch.sources) {
    // A record may still name the old pack: a damaged blob left there, a
    // blob whose record did not move, the pack's bytes stored as a blob.
    // Records are never added naming an old pack: new blobs go into new
    // packs, and a new pack cannot have an old one's bytes while any blob
    // of it is indexed.
    const hex = toHex(source.id);
    let named = blobIndex.has(kv, hex) ||
      source.left.some((b) => namesPack(kv.get(blobIndexKey(b.hash)), source.id));
    for (let i = source.first; i < source.end && !named; i++) {
      named = namesPack(kv.get(blobIndexKey(batch.hash(i))), source.id);
    }
    if (named) {
      stats.kept++;
    } else {
      await ctx.storage.delete(hex);
      stats.packs++;
      stats.bytesDeleted += source.size;
    }
  }
  kv.transaction(() => {
    for (const source of batch.sources) removePendingDelete(kv, source.id);
  });
  ctx.logger.debug("gc.repacked", {
    db: ctx.name,
    packs: batch.sources.length,
    into: target?.hex ?? "-",
    blobs: moved,
  });
}
