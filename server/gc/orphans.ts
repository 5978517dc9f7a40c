/**
 * The orphans of a storage — objects no record names, stamped by this
 * collection's listing (`storage_scan.ts`, `orphan_sightings.ts`) — are
 * settled one by one, each looked at again first (it may be named by now):
 *
 * - A blob of it that a snapshot references (the mark phase may have
 *   reached it) and that the index lacks is **adopted**: its record is
 *   written, naming this object — after its bytes are verified against its
 *   hash. That is the orphan itself when its id may be reachable, and the
 *   blobs of an orphan pack. Such blobs exist after a recovery from a
 *   metadata backup older than a collection that rewrote packs: the backup
 *   names the old pack, the blobs are in the new one. An adopted object is
 *   named again, and its unreachable blobs go by the usual sweep later.
 * - An orphan that is still unnamed is **deleted** once it is due: an
 *   earlier collection saw it unnamed before the cutoff (the grace period,
 *   and at least an hour). A pack being written right now, or a metadata
 *   backup's pieces before its manifest, are unnamed for a moment only.
 *
 * A client may store the very same bytes while an orphan is deleted (a
 * pack of the same blobs in the same order has the same id): the deletion
 * then checks the index again, puts a pack back, and removes the record of
 * a standalone blob (`delete_objects.ts`).
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
import { blobIndexKey, keyAfter } from "../kv/keys.ts";
import * as blobIndex from "../blob_index.ts";
import type { Logger } from "../log/logger.ts";
import { decodePack, PACK_MAGIC, type PackEntry, PackFormatError } from "../packs/pack_format.ts";
import type { Marks } from "./marks.ts";
import type { Pacer } from "./pacer.ts";
import { isPendingDelete } from "./pending_deletes.ts";
import {
  decodeSighting,
  removeSighting,
  sameRun,
  type Sighting,
  sightingId,
  SIGHTINGS_END,
  SIGHTINGS_START,
} from "./orphan_sightings.ts";
import { deleteOne } from "./delete_objects.ts";
import { namesPack } from "./_index_values.ts";
import { toHex } from "./_names.ts";

/** Sightings read per page. */
const PAGE = 64;

/** Where orphans are settled. */
export interface OrphanContext {
  /** The database's metadata. */
  kv: KvStore;
  /** The database's blob storage. */
  storage: BlobStorage;
  /** Its name, for logs. */
  name: string;
  /** Where problems are logged. */
  logger: Logger;
  /** What the mark phase reached. */
  marks: Marks;
}

/** How orphans are settled. */
export interface OrphanOptions {
  /** This collection's run id: sightings it did not stamp are dropped. */
  run: Uint8Array;
  /** Orphans first seen before this time (ms since the epoch) are deleted. */
  cutoff: number;
  /** The time adopted blobs are recorded as added (ms since the epoch). */
  now: number;
  /** Settle nothing (only drop stale sightings): the listing was unsure, or too many orphans. */
  hold: boolean;
}

/** What settling orphans did. */
export interface OrphanStats {
  /** Orphans deleted. */
  deleted: number;
  /** Their bytes. */
  bytesDeleted: number;
  /** Objects named again by adopting blobs in them. */
  adoptedObjects: number;
  /** Blobs adopted. */
  adoptedBlobs: number;
  /** Objects found named by now (a pack whose records were committed after the listing). */
  named: number;
  /** Their bytes. */
  namedBytes: number;
  /** Blobs or objects found damaged (not adopted). */
  damaged: number;
}

/** Settles the orphans stamped by this collection; drops the other sightings. */
export async function settleOrphans(
  ctx: OrphanContext,
  options: OrphanOptions,
  pacer: Pacer,
): Promise<OrphanStats> {
  const { kv } = ctx;
  const stats: OrphanStats = {
    deleted: 0,
    bytesDeleted: 0,
    adoptedObjects: 0,
    adoptedBlobs: 0,
    named: 0,
    namedBytes: 0,
    damaged: 0,
  };
  let from = SIGHTINGS_START;
  for (;;) {
    const page: { id: Uint8Array; sighting: Sighting }[] = [];
    for (const { key, value } of kv.scan({ start: from, end: SIGHTINGS_END, limit: PAGE })) {
      page.push({ id: sightingId(key).slice(), sighting: decodeSighting(value) });
      from = keyAfter(key);
    }
    const stale = page.filter((p) => !sameRun(p.sighting.run, options.run));
    if (stale.length > 0) {
      kv.transaction(() => {
        for (const { id } of stale) removeSighting(kv, id);
      });
    }
    if (!options.hold) {
      for (const { id, sighting } of page) {
        if (!sameRun(sighting.run, options.run)) continue;
        await settle(ctx, id, sighting, options, stats);
        if (pacer.due()) await pacer.pause();
      }
    }
    if (page.length < PAGE) return stats;
    await pacer.pause();
  }
}

async function settle(
  ctx: OrphanContext,
  id: Uint8Array,
  sighting: Sighting,
  options: OrphanOptions,
  stats: OrphanStats,
): Promise<void> {
  const { kv, storage } = ctx;
  const hex = toHex(id);
  const drop = () => kv.transaction(() => removeSighting(kv, id));
  if (blobIndex.has(kv, hex) || isPendingDelete(kv, id)) {
    stats.named++;
    stats.namedBytes += sighting.size;
    drop();
    return;
  }
  const due = sighting.firstSeen < options.cutoff;
  let bytes: Uint8Array | undefined;
  let entries: PackEntry[] | undefined;
  let adopted = 0;
  try {
    if (await mayBePack(storage, hex, sighting.size)) {
      bytes = await storage.get(hex);
      try {
        entries = decodePack(bytes);
      } catch (error) {
        if (!(error instanceof PackFormatError)) throw error;
      }
    }
    if (ctx.marks.mayReachBlob(id)) {
      // Referenced as a blob of its own: verified (the storage checks the
      // bytes against the id) and recorded.
      bytes ??= await storage.get(hex);
      const size = bytes.length;
      kv.transaction(() => blobIndex.add(kv, hex, size, options.now));
      adopted++;
    }
  } catch (error) {
    if (error instanceof BlobNotFoundError) {
      drop();
      return;
    }
    if (!(error instanceof BlobCorruptError)) throw error;
    // Kept: what it holds cannot be told, and some of it may be needed.
    stats.damaged++;
    ctx.logger.warn("gc.orphan_damaged", {
      db: ctx.name,
      object: hex,
      error: `${error.message}: kept`,
    });
    return;
  }

  let named = adopted === 0 && blobIndex.has(kv, hex);
  if (bytes !== undefined && entries !== undefined) {
    const adopt: PackEntry[] = [];
    for (const entry of entries) {
      const value = kv.get(blobIndexKey(entry.hash));
      if (namesPack(value, id)) {
        named = true;
      } else if (value === undefined && ctx.marks.mayReachBlob(entry.hash)) {
        const data = bytes.subarray(entry.offset, entry.offset + entry.length);
        if (blobIdOf(data) === toHex(entry.hash)) {
          adopt.push(entry);
        } else {
          stats.damaged++;
          ctx.logger.warn("gc.orphan_damaged", {
            db: ctx.name,
            object: hex,
            blob: toHex(entry.hash),
            error: "its bytes do not match its hash",
          });
        }
      }
    }
    if (adopt.length > 0) {
      kv.transaction(() => {
        for (const e of adopt) {
          blobIndex.add(kv, toHex(e.hash), e.length, options.now, {
            pack: hex,
            offset: e.offset,
            length: e.length,
          });
        }
      });
      adopted += adopt.length;
    }
  }
  if (named || adopted > 0) {
    if (adopted > 0) {
      ctx.logger.info("gc.adopted", { db: ctx.name, object: hex, blobs: adopted });
      stats.adoptedBlobs += adopted;
      stats.adoptedObjects++;
    } else {
      stats.named++;
      stats.namedBytes += sighting.size;
    }
    drop();
    return;
  }
  if (due) await deleteOrphan(ctx, id, sighting.size, bytes, entries, stats);
}

/** Whether object `hex` of `size` bytes may be a pack: it ends with the pack magic. */
async function mayBePack(storage: BlobStorage, hex: string, size: number): Promise<boolean> {
  if (size < PACK_MAGIC.length) return false;
  // Without range reads, the whole object is read and decoded.
  if (storage.getRange === undefined) return true;
  const tail = await storage.getRange(hex, size - PACK_MAGIC.length, PACK_MAGIC.length);
  return tail.every((b, i) => b === PACK_MAGIC[i]);
}

/** Deletes orphan `id`; a pack whose blobs got named meanwhile is put back. */
async function deleteOrphan(
  ctx: OrphanContext,
  id: Uint8Array,
  size: number,
  bytes: Uint8Array | undefined,
  entries: readonly PackEntry[] | undefined,
  stats: OrphanStats,
): Promise<void> {
  const { kv } = ctx;
  const hex = toHex(id);
  await deleteOne(ctx, id);
  if (bytes !== undefined && entries !== undefined) {
    const named = entries.some((e) => namesPack(kv.get(blobIndexKey(e.hash)), id));
    if (named) {
      await ctx.storage.put(hex, bytes);
      ctx.logger.error("gc.race", {
        db: ctx.name,
        object: hex,
        error: "a client stored the same pack while gc deleted it; it is stored again",
      });
      kv.transaction(() => removeSighting(kv, id));
      return;
    }
  }
  kv.transaction(() => removeSighting(kv, id));
  stats.deleted++;
  stats.bytesDeleted += size;
  ctx.logger.debug("gc.orphan_deleted", { db: ctx.name, object: hex, bytes: size });
}
