/**
 * The blob sweep of garbage collection: walks the blob index, keeps every
 * blob the mark phase may have reached and every blob added within the
 * grace period, and removes the others' index records — a page per
 * transaction, pausing between pages. The storage objects that lose their
 * last record (a standalone blob, a pack all of whose blobs are gone) are
 * recorded as pending deletion in the same transaction, and deleted
 * afterwards by `delete_objects.ts`.
 *
 * Counts every pack's live and dead blobs on the way (`pack_tally.ts`).
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { BLOB_INDEX_END, BLOB_INDEX_START, keyAfter } from "../kv/keys.ts";
import * as blobIndex from "../blob_index.ts";
import type { Marks } from "./marks.ts";
import type { Pacer } from "./pacer.ts";
import type { PackTally } from "./pack_tally.ts";
import { addPendingDelete } from "./pending_deletes.ts";
import { toHex } from "./_names.ts";

/** Index value: uint64 size | uint64 time added [| 32-byte pack | uint64 offset]. */
const PACK_OFFSET = 16;
const PACKED_VALUE_BYTES = 56;

/** What the blob sweep does. */
export interface BlobSweepOptions {
  /** Unmarked blobs added at or after this time (ms since the epoch) stay. */
  cutoff: number;
  /** Count only; remove nothing. */
  dryRun: boolean;
  /** Index entries per page (and at most per transaction). */
  pageSize: number;
}

/** What the blob sweep found and did. */
export interface BlobSweepStats {
  /** Index entries read. */
  scanned: number;
  /** Blobs kept because the mark phase may have reached them. */
  reachable: number;
  /** Unreached blobs kept because they were added within the grace period. */
  young: number;
  /** Index records removed (with a dry run: that would be). */
  deleted: number;
  /** Their bytes. */
  deletedBytes: number;
  /** Of those, blobs stored on their own, whose object goes with the record. */
  deletedStandalone: number;
}

function uint64At(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(offset) * 0x1_0000_0000 + view.getUint32(offset + 4);
}

interface DeadBlob {
  hash: Uint8Array;
  /** The pack holding it (a copy), or undefined for a standalone blob. */
  pack: Uint8Array | undefined;
}

/** Sweeps the blob index of `kv` against `marks`, counting packs in `tally`. */
export async function sweepBlobs(
  kv: KvStore,
  marks: Marks,
  tally: PackTally,
  options: BlobSweepOptions,
  pacer: Pacer,
): Promise<BlobSweepStats> {
  const stats: BlobSweepStats = {
    scanned: 0,
    reachable: 0,
    young: 0,
    deleted: 0,
    deletedBytes: 0,
    deletedStandalone: 0,
  };
  let from = BLOB_INDEX_START;
  for (;;) {
    const dead: DeadBlob[] = [];
    let n = 0;
    let last: Uint8Array | undefined;
    for (
      const { key, value } of kv.scan({ start: from, end: BLOB_INDEX_END, limit: options.pageSize })
    ) {
      n++;
      last = key;
      const hash = key.subarray(2);
      const size = uint64At(value, 0);
      const addedAt = value.length >= 16 ? uint64At(value, 8) : 0;
      const packed = value.length >= PACKED_VALUE_BYTES;
      let live = true;
      if (marks.mayReachBlob(hash)) {
        stats.reachable++;
      } else if (addedAt >= options.cutoff) {
        stats.young++;
      } else {
        live = false;
        stats.deleted++;
        stats.deletedBytes += size;
        if (!packed) stats.deletedStandalone++;
        dead.push({
          hash: hash.slice(),
          pack: packed ? value.slice(PACK_OFFSET, PACK_OFFSET + 32) : undefined,
        });
      }
      if (packed) tally.count(value, PACK_OFFSET, live, size);
    }
    stats.scanned += n;
    if (!options.dryRun && dead.length > 0) removeRecords(kv, dead);
    if (n < options.pageSize || last === undefined) return stats;
    from = keyAfter(last);
    await pacer.pause();
  }
}

/** Removes the index records of `dead` and records their objects as pending deletion, atomically. */
function removeRecords(kv: KvStore, dead: readonly DeadBlob[]): void {
  kv.transaction(() => {
    for (const blob of dead) {
      blobIndex.remove(kv, toHex(blob.hash));
      // Whether a pack still holds live blobs is known only at the end of
      // the sweep: the pack is recorded now, and decided on then.
      addPendingDelete(kv, blob.pack ?? blob.hash);
    }
  });
}
