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
 * 5. List the storage (`storage_scan.ts`): packs whose dead bytes pass the
 *    threshold (`pack_candidates.ts`), objects no record names (orphans),
 *    metadata backups (kept).
 * 6. Settle the orphans (`orphans.ts`): adopt the blobs snapshots need,
 *    delete the others once an earlier run saw them unnamed long enough.
 * 7. Rewrite the chosen packs (`repack.ts`).
 *
 * The caller must hold the database's gc lease for the whole run
 * (`server/leases.ts`): no backup may write references to old data
 * meanwhile. Memory: a Bloom filter of about 10 bits per key and blob, the
 * set of directories (32 bytes each, at most three quarters full), a few
 * dozen bytes per pack, and one new pack's worth of blobs while rewriting.
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
import type { PackCandidates } from "./pack_candidates.ts";
import { scanStorage } from "./storage_scan.ts";
import { type OrphanStats, settleOrphans } from "./orphans.ts";
import {
  plannedPacks,
  type ReadBarrier,
  REPACK_TARGET_BYTES,
  repackPacks,
  type RepackStats,
} from "./repack.ts";
import { CONTENT_PREFIX, META_PREFIX } from "./_names.ts";
import { startHeapGovernor } from "../../memory/heap_governor.ts";

const encoder = new TextEncoder();

/** Unreferenced blobs younger than this stay (a backup may be about to reference them): 1 hour. */
export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/** Index entries and key names handled per transaction. */
export const DEFAULT_PAGE_SIZE = 1000;

/**
 * An object no record names is deleted only when an earlier collection saw
 * it unnamed at least this long before (or the grace period, if longer): 1
 * hour. A put and its index record, or a metadata backup's pieces and its
 * manifest, are not written at one instant.
 */
export const DEFAULT_ORPHAN_MIN_AGE_MS = 60 * 60 * 1000;

/**
 * Orphans are left alone when there are more than this many and they are
 * more than half of the storage's objects: such a storage more likely
 * belongs to another database, or goes with a kv file that lost its index
 * (`ddb db recover`), than it holds leftovers of crashes.
 */
export const ORPHAN_GUARD_MIN = 64;

/** The database a collection works on. */
export interface GcTarget {
  /** Its name, for logs. */
  readonly name: string;
  /** Its metadata. */
  readonly kv: KvStore;
  /** Its blob storage. */
  readonly storage: BlobStorage;
  /**
   * The reader of packed blobs serving its clients: rewriting packs waits
   * for its reads in progress before deleting an old pack.
   */
  readonly packReader?: ReadBarrier;
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
  /** See {@linkcode DEFAULT_ORPHAN_MIN_AGE_MS} (default 1 hour). */
  orphanMinAgeMs?: number;
  /** New packs are cut at this many bytes when rewriting (default 8 MiB). */
  repackTargetBytes?: number;
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
  /** Objects in the storage (listed after the deletions). */
  objectsListed: number;
  /** Their bytes. */
  storageBytes: number;
  /** Packs rewritten (deleted, their live blobs copied into new packs). */
  packsRepacked: number;
  /** Live blobs copied. */
  repackBlobs: number;
  /** New packs written. */
  repackPacksWritten: number;
  /** Bytes of storage freed by rewriting: old packs deleted less new packs written. */
  repackBytesReclaimed: number;
  /** Live blobs found damaged while copying (left in their pack; `gc.damaged` in the log). */
  repackDamaged: number;
  /** Packs left with dead bytes below the threshold. */
  packsPartlyDead: number;
  /** Their dead bytes. */
  partlyDeadBytes: number;
  /** Objects no record names (metadata backups not counted). */
  orphans: number;
  /** Their bytes. */
  orphanBytes: number;
  /** Orphans deleted. */
  orphansDeleted: number;
  /** Their bytes. */
  orphanBytesDeleted: number;
  /** Blobs found in orphans that snapshots need, recorded again. */
  orphanBlobsAdopted: number;
  /** 1 when orphans were left alone this time (see `gc.orphans_held` in the log). */
  orphansHeld: number;
  /** Metadata backup manifests in the storage (of any database; all kept). */
  dumpManifests: number;
  /** Objects of metadata backups found (manifests and their pieces). */
  dumpObjects: number;
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

    const ms = () => Math.round(performance.now() - clock);
    const markedAt = ms();
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

    const sweptAt = ms();
    const run = crypto.getRandomValues(new Uint8Array(8));
    const orphanCutoff = started -
      Math.max(graceMs, options.orphanMinAgeMs ?? DEFAULT_ORPHAN_MIN_AGE_MS);
    const listing = await scanStorage(kv, db.storage, tally, {
      dryRun,
      started,
      orphanCutoff,
      run,
    }, pacer);
    const listedAt = ms();
    const held = holdOrphans(listing.orphans, listing.objects, listing.unsure, blobIndex.count(kv));
    if (held !== undefined) {
      logger.warn("gc.orphans_held", { db: db.name, orphans: listing.orphans, reason: held });
    }
    const target = listing.candidates;
    let orphans: OrphanStats = {
      deleted: held === undefined ? listing.orphansDue : 0,
      bytesDeleted: held === undefined ? listing.orphanBytesDue : 0,
      adoptedObjects: 0,
      adoptedBlobs: 0,
      named: 0,
      namedBytes: 0,
      damaged: 0,
    };
    const repackTarget = options.repackTargetBytes ?? REPACK_TARGET_BYTES;
    let repack: RepackStats;
    let settled = listedAt;
    if (dryRun) {
      repack = plannedRepack(target, repackTarget);
    } else {
      orphans = await settleOrphans(
        { kv, storage: db.storage, name: db.name, logger, marks },
        { run, cutoff: orphanCutoff, now: now(), hold: held !== undefined },
        pacer,
      );
      settled = ms();
      repack = await repackPacks(
        { kv, storage: db.storage, name: db.name, logger, packReader: db.packReader },
        target,
        pacer,
        repackTarget,
      );
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
      objectsListed: listing.objects,
      storageBytes: listing.bytes,
      packsRepacked: repack.packs,
      repackBlobs: repack.blobs,
      repackPacksWritten: repack.written,
      repackBytesReclaimed: repack.bytesDeleted - repack.bytesWritten,
      repackDamaged: repack.damaged,
      packsPartlyDead: listing.partlyDeadPacks,
      partlyDeadBytes: listing.partlyDeadBytes,
      // Less those found named after all (a pack being written during the listing).
      orphans: listing.orphans - orphans.named,
      orphanBytes: listing.orphanBytes - orphans.namedBytes,
      orphansDeleted: orphans.deleted,
      orphanBytesDeleted: orphans.bytesDeleted,
      orphanBlobsAdopted: orphans.adoptedBlobs,
      orphansHeld: held === undefined ? 0 : 1,
      dumpManifests: listing.manifests,
      dumpObjects: listing.dumpObjects,
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
      packsRepacked: summary.packsRepacked,
      repackBytesReclaimed: summary.repackBytesReclaimed,
      packsPartlyDead: summary.packsPartlyDead,
      partlyDeadBytes: summary.partlyDeadBytes,
      orphans: summary.orphans,
      orphansDeleted: summary.orphansDeleted,
      orphanBlobsAdopted: summary.orphanBlobsAdopted,
      pauses: pacer.pauses,
      // Where the time went: marking, sweeps and deletions, listing,
      // orphans, rewriting packs.
      markMs: markedAt,
      sweepMs: sweptAt - markedAt,
      listMs: listedAt - sweptAt,
      orphansMs: settled - listedAt,
      repackMs: summary.durationMs - settled,
      ms: summary.durationMs,
    });
    return summary;
  } finally {
    governor.stop();
  }
}

/** Why orphans are to be left alone this time, or undefined. */
function holdOrphans(
  orphans: number,
  objects: number,
  unsure: boolean,
  indexedBlobs: number,
): string | undefined {
  if (orphans === 0) return undefined;
  if (unsure) return "an object that may be a metadata backup manifest could not be read";
  if (indexedBlobs === 0) {
    return "the database indexes no blob but its storage holds objects: " +
      "is it the right storage, or did the kv file lose its index (ddb db recover)?";
  }
  if (orphans > ORPHAN_GUARD_MIN && orphans * 2 > objects) {
    return `${orphans} of the storage's ${objects} objects are named by no record: ` +
      "is the storage shared with another database, or did the kv file lose its index " +
      "(ddb db recover)?";
  }
  return undefined;
}

/** What rewriting `candidates` would do, from the counts of the blob sweep (a dry run). */
function plannedRepack(candidates: PackCandidates, targetBytes: number): RepackStats {
  const planned: RepackStats = {
    packs: candidates.length,
    bytesDeleted: 0,
    blobs: 0,
    written: plannedPacks(candidates, targetBytes),
    bytesWritten: 0,
    damaged: 0,
    kept: 0,
  };
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates.at(i);
    planned.blobs += c.liveBlobs;
    planned.bytesDeleted += c.size;
    planned.bytesWritten += c.size - c.deadBytes;
  }
  return planned;
}
