/**
 * The last step of garbage collection: deletes the storage objects recorded
 * as pending deletion (`pending_deletes.ts`) — by this collection's blob
 * sweep, or by an earlier one that stopped before its end — unless they are
 * in use: an object is kept when a blob of that id is indexed again, or when
 * it is a pack that still holds a live blob (`pack_tally.ts`; the same bytes
 * may be a standalone blob and a pack at once). Each key goes once its
 * object is deleted or kept.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import type { BlobStorage } from "../../storage/blob_storage.ts";
import { keyAfter } from "../kv/keys.ts";
import * as blobIndex from "../blob_index.ts";
import type { Logger } from "../log/logger.ts";
import type { Pacer } from "./pacer.ts";
import type { PackTally } from "./pack_tally.ts";
import {
  addPendingDelete,
  PENDING_DELETES_END,
  PENDING_DELETES_START,
  pendingDeleteId,
  removePendingDelete,
} from "./pending_deletes.ts";
import { toHex } from "./_names.ts";

/** Objects deleted at once. */
const CONCURRENCY = 16;
/** Pending keys handled per page. */
const PAGE = 256;

/** What the deletion did. */
export interface DeleteStats {
  /** Storage objects deleted. */
  objects: number;
  /** Of those, packs (objects the sweep saw as packs). */
  packs: number;
  /** Objects recorded for deletion but found in use, and kept. */
  kept: number;
}

/** Where the deletion works. */
export interface DeleteContext {
  /** The database's metadata. */
  kv: KvStore;
  /** The database's blob storage. */
  storage: BlobStorage;
  /** Its name, for logs. */
  name: string;
  /** Where problems are logged. */
  logger: Logger;
}

/** Deletes the objects pending deletion that nothing uses. */
export async function deletePendingObjects(
  ctx: DeleteContext,
  tally: PackTally,
  pacer: Pacer,
): Promise<DeleteStats> {
  const { kv } = ctx;
  const stats: DeleteStats = { objects: 0, packs: 0, kept: 0 };
  let from = PENDING_DELETES_START;
  let synced = false;
  for (;;) {
    const ids: Uint8Array[] = [];
    for (const { key } of kv.scan({ start: from, end: PENDING_DELETES_END, limit: PAGE })) {
      ids.push(pendingDeleteId(key).slice());
      from = keyAfter(key);
    }
    if (!synced && ids.length > 0) {
      // The index records were removed in ordinary commits, which an OS
      // crash or power loss may undo: make them durable before any object
      // goes, or a record could come back naming a deleted object.
      kv.transaction(() => addPendingDelete(kv, ids[0]), { durable: true });
      synced = true;
    }
    const doomed: Uint8Array[] = [];
    for (const id of ids) {
      if (blobIndex.has(kv, toHex(id)) || tally.liveBlobs(id) > 0) stats.kept++;
      else doomed.push(id);
    }
    for (let i = 0; i < doomed.length; i += CONCURRENCY) {
      await Promise.all(doomed.slice(i, i + CONCURRENCY).map((id) => deleteOne(ctx, id)));
    }
    for (const id of doomed) {
      stats.objects++;
      if (tally.knows(id)) stats.packs++;
    }
    kv.transaction(() => {
      for (const id of ids) removePendingDelete(kv, id);
    });
    if (ids.length < PAGE) return stats;
    await pacer.pause();
  }
}

/**
 * Deletes object `id` (no record may name it). A client that stores the same blob again between the
 * removal of its record and this delete (`BPUT` without a backup lease) gets
 * its record back; if its object is gone by then, the record is removed
 * again so that the blob reads as absent (and is uploaded again) rather
 * than present and unreadable.
 */
export async function deleteOne(ctx: DeleteContext, id: Uint8Array): Promise<void> {
  const hex = toHex(id);
  await ctx.storage.delete(hex);
  if (!blobIndex.has(ctx.kv, hex)) return;
  if (await ctx.storage.has(hex)) return;
  if (blobIndex.locate(ctx.kv, hex) !== "standalone") return;
  ctx.kv.transaction(() => blobIndex.remove(ctx.kv, hex));
  ctx.logger.error("gc.race", {
    db: ctx.name,
    blob: hex,
    error: "the blob was stored again while gc deleted it; its record is removed, store it again",
  });
}
