/**
 * Garbage collection of one database: deletes the blobs and backup metadata
 * that no snapshot reaches any more (docs/gc.md).
 *
 * 1. Mark (`mark.ts`): walk every snapshot of `ddb:snapshots` and mark the
 *    keys and blobs it reaches.
 * 2. Sweep the blob index (`sweep_blobs.ts`): remove the records of blobs not
 *    marked and older than the grace period; their objects become pending
 *    deletion.
 * 3. Sweep the metadata (`sweep_metadata.ts`): delete unmarked `m:`/`c:`,
 *    unwalked `d:`, unlisted `s:` keys.
 * 4. Delete the storage objects pending deletion that nothing uses
 *    (`delete_objects.ts`).
 *
 * The caller must hold the database's gc lease for the whole run
 * (`server/leases.ts`): no backup may write references to old data
 * meanwhile. Memory: a Bloom filter of about 10 bits per key and blob, the
 * set of directories (32 bytes each, at most half full), a few dozen bytes
 * per pack.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import type { BlobStorage } from "../../storage/blob_storage.ts";
import { compareBytes, prefixEnd, registryKey } from "../kv/keys.ts";
import * as blobIndex from "../blob_index.ts";
import type { Logger } from "../log/logger.ts";
import { Marks } from "./marks.ts";
import { mark } from "./mark.ts";
import { Pacer } from "./pacer.ts";
import { PackTally } from "./pack_tally.ts";
import { sweepBlobs } from "./sweep_blobs.ts";
import { type KeyCounts, sweepMetadata } from "./sweep_metadata.ts";
import { deletePendingObjects } from "./delete_objects.ts";
import { countPendingDeletes } from "./pending_deletes.ts";
import { CONTENT_PREFIX, META_PREFIX } from "./_names.ts";
import { startHeapGovernor } from "../../memory/heap_governor.ts";

const encoder = new TextEncoder();

/** Unreferenced blobs younger than this stay (a backup may be about to reference them): 1 hour. */
export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/** Index entries and key names handled per transaction. */
export const DEFAULT_PAGE_SIZE = 1000;

/** The database a collection works on. */
export interface GcTarget {
  /** Its name, for logs. */
  readonly name: string;
  /** Its metadata. */
  readonly kv: KvStore;
  /** Its blob storage. */
  readonly storage: BlobStorage;
}

/** Options of {@linkcode collectGarbage}. */
export interface GcOptions {
  /** Count what would go; delete nothing. */
  dryRun?: boolean;
  /** Unreferenced blobs added less than this long ago (ms) stay (default 1 hour). */
  graceMs?: number;
  /** Index entries and names per transaction (default 1000). */
  pageSize?: number;
  /** The wall clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** How the work shares the event loop (default 25 ms slices). */
  pacer?: Pacer;
  /** Where progress and problems are logged. */
  logger: Logger;
}

/** What a collection found and did. */
export interface GcSummary {
  /** Whether it was a dry run (nothing deleted; the counts say what would be). */
  dryRun: boolean;
  /** The grace period used (ms). */
  graceMs: number;
  /** Snapshots in `ddb:snapshots`. */
  snapshots: number;
  /** Distinct directories reachable. */
  reachableDirs: number;
  /** Meta hashes visited while marking (a shared one counts each time). */
  metaVisits: number;
  /** Chunk references followed while marking. */
  chunkRefs: number;
  /** References to missing records (`ddb check` tells where). */
  dangling: number;
  /** Kept and deleted `m:` keys. */
  metas: KeyCounts;
  /** Kept and deleted `c:` keys. */
  contents: KeyCounts;
  /** Kept and deleted `d:` keys. */
  dirs: KeyCounts;
  /** Kept and deleted `s:` keys. */
  snapshotRecords: KeyCounts;
  /** Blobs in the index before the sweep. */
  blobsScanned: number;
  /** Blobs kept as reachable (a few unreachable ones too: Bloom false positives). */
  blobsReachable: number;
  /** Unreachable blobs kept because they are younger than the grace period. */
  blobsYoung: number;
  /** Blob records removed. */
  blobsDeleted: number;
  /** Their bytes. */
  blobBytesDeleted: number;
  /** Storage objects deleted (standalone blobs and packs). */
  objectsDeleted: number;
  /** Of those, packs. */
  packsDeleted: number;
  /** Packs that keep live blobs next to dead ones. */
  packsPartlyDead: number;
  /** Bytes of dead blobs those packs still hold (until packs are rewritten). */
  partlyDeadBytes: number;
  /** Bytes the Bloom filter and directory set took. */
  markBytes: number;
  /** How long it took (ms). */
  durationMs: number;
}

/**
 * The number of key names starting with `prefix`, counted in 257 slices (by
 * the first hex digit pair after it), pausing between them: one count over
 * millions of names would hold the event loop for long.
 */
async function countNames(kv: KvStore, prefix: Uint8Array, pacer: Pacer): Promise<number> {
  const start = registryKey(prefix);
  const bounds = [start];
  for (let i = 0; i < 256; i++) {
    const bound = new Uint8Array(start.length + 2);
    bound.set(start);
    bound.set(encoder.encode(i.toString(16).padStart(2, "0")), start.length);
    bounds.push(bound);
  }
  bounds.push(prefixEnd(start)!);
  bounds.sort(compareBytes);
  let total = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    total += kv.count(bounds[i], bounds[i + 1]);
    if (i % 16 === 15) await pacer.pause();
  }
  return total;
}

/** Collects the garbage of `db`. The caller holds the gc lease. */
export async function collectGarbage(db: GcTarget, options: GcOptions): Promise<GcSummary> {
  const now = options.now ?? Date.now;
  const started = now();
  const clock = performance.now();
  const dryRun = options.dryRun === true;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const pacer = options.pacer ?? new Pacer();
  const kv = db.kv;
  const logger = options.logger;

  const elements = await countNames(kv, META_PREFIX, pacer) +
    await countNames(kv, CONTENT_PREFIX, pacer) + blobIndex.count(kv) + 1024;
  const marks = new Marks(elements);
  const leftover = countPendingDeletes(kv);
  logger.info("gc.start", {
    db: db.name,
    dryRun,
    graceMs,
    elements,
    markBytes: marks.byteLength,
    pendingFromEarlierRuns: leftover,
  });

  // Marking and sweeping read millions of records: much short-lived garbage
  // that V8 would otherwise let pile up (see memory/heap_governor.ts).
  const governor = startHeapGovernor();
  try {
    const marked = await mark(kv, marks, pacer);
    logger.info("gc.marked", {
      db: db.name,
      snapshots: marked.snapshots,
      dirs: marked.dirs,
      metaVisits: marked.metaVisits,
      chunkRefs: marked.chunkRefs,
      ms: Math.round(performance.now() - clock),
    });

    const tally = new PackTally();
    const blobs = await sweepBlobs(kv, marks, tally, {
      cutoff: started - graceMs,
      dryRun,
      pageSize,
    }, pacer);
    const metadata = await sweepMetadata(kv, marks, { dryRun, pageSize }, pacer);
    const packs = tally.totals();
    let objectsDeleted: number;
    let packsDeleted: number;
    if (dryRun) {
      objectsDeleted = blobs.deletedStandalone + packs.deadPacks;
      packsDeleted = packs.deadPacks;
    } else {
      const deleted = await deletePendingObjects(
        { kv, storage: db.storage, name: db.name, logger },
        tally,
        pacer,
      );
      objectsDeleted = deleted.objects;
      packsDeleted = deleted.packs;
    }

    const summary: GcSummary = {
      dryRun,
      graceMs,
      snapshots: marked.snapshots,
      reachableDirs: marked.dirs,
      metaVisits: marked.metaVisits,
      chunkRefs: marked.chunkRefs,
      dangling: marked.dangling,
      metas: metadata.metas,
      contents: metadata.contents,
      dirs: metadata.dirs,
      snapshotRecords: metadata.snapshots,
      blobsScanned: blobs.scanned,
      blobsReachable: blobs.reachable,
      blobsYoung: blobs.young,
      blobsDeleted: blobs.deleted,
      blobBytesDeleted: blobs.deletedBytes,
      objectsDeleted,
      packsDeleted,
      packsPartlyDead: packs.partlyDeadPacks,
      partlyDeadBytes: packs.partlyDeadBytes,
      markBytes: marks.byteLength,
      durationMs: Math.round(performance.now() - clock),
    };
    logger.info("gc.done", {
      db: db.name,
      dryRun,
      keysDeleted: metadata.metas.deleted + metadata.contents.deleted + metadata.dirs.deleted +
        metadata.snapshots.deleted,
      blobsDeleted: blobs.deleted,
      blobBytesDeleted: blobs.deletedBytes,
      objectsDeleted,
      packsDeleted,
      packsPartlyDead: packs.partlyDeadPacks,
      partlyDeadBytes: packs.partlyDeadBytes,
      pauses: pacer.pauses,
      ms: summary.durationMs,
    });
    return summary;
  } finally {
    governor.stop();
  }
}
