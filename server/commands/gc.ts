/**
 * Garbage collection commands: GC, and LEASE with which backups keep it
 * away (`lease.ts`).
 *
 * `GC [DRYRUN] [GRACE ms]` takes the selected database's gc lease — and
 * fails with `ERR LEASE …` while backups hold theirs — then deletes the
 * blobs and metadata no snapshot reaches, rewrites packs that hold too many
 * dead bytes and deletes storage objects no record names
 * (`server/gc/gc.ts`, docs/gc.md), and answers a map of what it found and
 * did. Unreferenced blobs added less than GRACE ms ago stay (default one
 * hour). DRYRUN counts and deletes nothing.
 *
 * @module
 */

import { bulk, int, map, type Reply } from "../resp/reply.ts";
import type { CommandContext, CommandSpec } from "./command_spec.ts";
import { count, keyword } from "./args.ts";
import { CommandError, syntaxError } from "./command_error.ts";
import { LeaseConflictError, leasesOf } from "../leases.ts";
import { collectGarbage, DEFAULT_GRACE_MS, type GcSummary } from "../gc/gc.ts";
import { LEASE_COMMANDS } from "./lease.ts";

function summaryReply(s: GcSummary): Reply {
  const keysDeleted = s.metas.deleted + s.contents.deleted + s.dirs.deleted +
    s.snapshotRecords.deleted;
  const fields: [string, number][] = [
    ["dry_run", s.dryRun ? 1 : 0],
    ["grace_ms", s.graceMs],
    ["snapshots", s.snapshots],
    ["reachable_dirs", s.reachableDirs],
    ["meta_visits", s.metaVisits],
    ["chunk_refs", s.chunkRefs],
    ["dangling", s.dangling],
    ["metas_kept", s.metas.kept],
    ["metas_deleted", s.metas.deleted],
    ["contents_kept", s.contents.kept],
    ["contents_deleted", s.contents.deleted],
    ["dirs_kept", s.dirs.kept],
    ["dirs_deleted", s.dirs.deleted],
    ["snapshot_records_kept", s.snapshotRecords.kept],
    ["snapshot_records_deleted", s.snapshotRecords.deleted],
    ["keys_deleted", keysDeleted],
    ["blobs_scanned", s.blobsScanned],
    ["blobs_reachable", s.blobsReachable],
    ["blobs_young", s.blobsYoung],
    ["blobs_deleted", s.blobsDeleted],
    ["blob_bytes_deleted", s.blobBytesDeleted],
    ["objects_deleted", s.objectsDeleted],
    ["packs_deleted", s.packsDeleted],
    ["objects_listed", s.objectsListed],
    ["storage_bytes", s.storageBytes],
    ["packs_repacked", s.packsRepacked],
    ["repack_blobs", s.repackBlobs],
    ["repack_packs_written", s.repackPacksWritten],
    ["repack_bytes_reclaimed", s.repackBytesReclaimed],
    ["repack_damaged", s.repackDamaged],
    ["packs_partly_dead", s.packsPartlyDead],
    ["partly_dead_bytes", s.partlyDeadBytes],
    ["orphans", s.orphans],
    ["orphan_bytes", s.orphanBytes],
    ["orphans_deleted", s.orphansDeleted],
    ["orphan_bytes_deleted", s.orphanBytesDeleted],
    ["orphan_blobs_adopted", s.orphanBlobsAdopted],
    ["orphans_held", s.orphansHeld],
    ["dump_manifests", s.dumpManifests],
    ["dump_objects", s.dumpObjects],
    ["mark_bytes", s.markBytes],
    ["duration_ms", s.durationMs],
  ];
  return map(fields.map(([name, value]) => [bulk(name), int(value)]));
}

async function gc({ server, session }: CommandContext, args: Uint8Array[]): Promise<Reply> {
  let dryRun = false;
  let graceMs = DEFAULT_GRACE_MS;
  for (let i = 0; i < args.length; i++) {
    const word = keyword(args[i]);
    if (word === "DRYRUN") dryRun = true;
    else if (word === "GRACE" && i + 1 < args.length) graceMs = count(args[++i]);
    else throw syntaxError();
  }
  const db = session.db;
  const leases = leasesOf(db, server.now);
  const id = `gc:${session.id}:${server.now()}`;
  try {
    leases.acquire("gc", id, Infinity);
  } catch (error) {
    if (error instanceof LeaseConflictError) {
      server.logger.warn("gc.refused", { db: db.name, reason: error.message });
      throw new CommandError(`ERR LEASE ${error.message}`, { cause: error });
    }
    throw error;
  }
  try {
    return summaryReply(
      await collectGarbage(db, { dryRun, graceMs, now: server.now, logger: server.logger }),
    );
  } finally {
    leases.release(id);
  }
}

/** GC and LEASE. */
export const GC_COMMANDS: readonly CommandSpec[] = [
  ...LEASE_COMMANDS,
  {
    name: "GC",
    arity: -1,
    flags: ["write", "admin", "notx"],
    synopsis: "[DRYRUN] [GRACE ms]",
    summary:
      "Deletes blobs and metadata no snapshot reaches (takes the gc lease); returns a summary.",
    async: gc,
  },
];
