/**
 * The storage listing of garbage collection (`BlobStorage.list`), after the
 * index sweep and the deletions: every object is told apart, from the
 * listing and point lookups only (nothing per object is kept in memory):
 *
 * - a **pack** the blob index names (the pack tally counted its blobs): its
 *   dead bytes are its size less what its live blobs and their trailer
 *   entries take; above the threshold (`pack_candidates.ts`) it joins the
 *   packs to rewrite, else it counts as partly dead;
 * - a blob **indexed** under its own id, or an object **pending deletion**:
 *   left alone;
 * - an object of a **manifest**'s size (`server/dump/manifest.ts`): read
 *   after the listing; a manifest (of any database) and every piece it
 *   names are metadata backups, kept — pruning them is METABACKUP's job;
 * - anything else is an **orphan**: no record names it. Its sighting is
 *   stamped (`orphan_sightings.ts`); `orphans.ts` decides on it.
 *
 * A dry run writes no sightings; it counts the orphans whose earlier
 * sighting makes them due.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import type { BlobStorage } from "../../storage/blob_storage.ts";
import * as blobIndex from "../blob_index.ts";
import {
  type Manifest,
  ManifestFormatError,
  mayBeManifest,
  parseManifest,
} from "../dump/manifest.ts";
import { packTrailerBytes } from "../packs/pack_format.ts";
import type { Pacer } from "./pacer.ts";
import type { PackTally } from "./pack_tally.ts";
import { PackCandidates, shouldRepack } from "./pack_candidates.ts";
import { isPendingDelete } from "./pending_deletes.ts";
import {
  getSighting,
  putSighting,
  removeSighting,
  sameRun,
  type Sighting,
} from "./orphan_sightings.ts";
import { fromHex, toHex } from "./_names.ts";

/** Sightings written per transaction. */
const SIGHTING_BATCH = 256;

/** What the storage listing needs. */
export interface StorageScanOptions {
  /** Write nothing. */
  dryRun: boolean;
  /** When this collection started (ms since the epoch): a new sighting's time. */
  started: number;
  /** Orphans first seen before this time are due for deletion (ms since the epoch). */
  orphanCutoff: number;
  /** This collection's run id (8 bytes). */
  run: Uint8Array;
}

/** What the listing found. */
export interface StorageScan {
  /** Objects listed. */
  objects: number;
  /** Their bytes. */
  bytes: number;
  /** Packs to rewrite. */
  candidates: PackCandidates;
  /** Packs with dead bytes below the threshold (left as they are). */
  partlyDeadPacks: number;
  /** Their dead bytes. */
  partlyDeadBytes: number;
  /** Objects no record names (metadata backups not counted). */
  orphans: number;
  /** Their bytes. */
  orphanBytes: number;
  /** Of those, the ones an earlier collection saw unnamed long enough ago (dry run only). */
  orphansDue: number;
  /** Their bytes (dry run only). */
  orphanBytesDue: number;
  /** Metadata backup manifests found (of any database). */
  manifests: number;
  /** Objects of metadata backups (manifests and the pieces they name) found. */
  dumpObjects: number;
  /** A manifest-sized object could not be read: no orphan may be deleted this time. */
  unsure: boolean;
}

/** Lists `storage`, telling its objects apart (see the module documentation). */
export async function scanStorage(
  kv: KvStore,
  storage: BlobStorage,
  tally: PackTally,
  options: StorageScanOptions,
  pacer: Pacer,
): Promise<StorageScan> {
  const scan: StorageScan = {
    objects: 0,
    bytes: 0,
    candidates: new PackCandidates(),
    partlyDeadPacks: 0,
    partlyDeadBytes: 0,
    orphans: 0,
    orphanBytes: 0,
    orphansDue: 0,
    orphanBytesDue: 0,
    manifests: 0,
    dumpObjects: 0,
    unsure: false,
  };
  let writes: { id: Uint8Array; sighting: Sighting }[] = [];
  const flush = () => {
    if (writes.length === 0) return;
    const batch = writes;
    writes = [];
    kv.transaction(() => {
      for (const { id, sighting } of batch) putSighting(kv, id, sighting);
    });
  };
  const sight = (id: Uint8Array, size: number) => {
    scan.orphans++;
    scan.orphanBytes += size;
    const earlier = getSighting(kv, id);
    if (options.dryRun) {
      if (earlier !== undefined && earlier.firstSeen < options.orphanCutoff) {
        scan.orphansDue++;
        scan.orphanBytesDue += size;
      }
      return;
    }
    const firstSeen = earlier?.firstSeen ?? options.started;
    writes.push({ id, sighting: { firstSeen, size, run: options.run } });
    if (writes.length >= SIGHTING_BATCH) flush();
  };
  /** Whether an object of `id` and `size` is neither a named pack nor indexed nor pending. */
  const unnamed = (id: Uint8Array): boolean =>
    !tally.knows(id) && !isPendingDelete(kv, id) && !blobIndex.has(kv, toHex(id));

  const maybeManifests: { id: string; size: number }[] = [];
  for await (const { id: hex, size } of storage.list()) {
    scan.objects++;
    scan.bytes += size;
    const id = fromHex(hex);
    if (tally.knows(id)) {
      const liveBlobs = tally.liveBlobs(id);
      // A pack without live blobs is deleted (a dry run: would be).
      if (liveBlobs === 0) continue;
      const liveBytes = tally.liveBytes(id);
      const deadBytes = size - liveBytes - packTrailerBytes(liveBlobs);
      if (shouldRepack(size, deadBytes)) {
        scan.candidates.add({ id, size, liveBlobs, liveBytes, deadBytes });
      } else if (deadBytes > 0) {
        scan.partlyDeadPacks++;
        scan.partlyDeadBytes += deadBytes;
      }
    } else if (isPendingDelete(kv, id) || blobIndex.has(kv, hex)) {
      // Named: left to the index and the deletions.
    } else if (mayBeManifest(size)) {
      maybeManifests.push({ id: hex, size });
    } else {
      sight(id, size);
    }
    if (pacer.due()) {
      flush();
      await pacer.pause();
    }
  }

  // Metadata backups: every manifest, and the pieces they name.
  const manifests: Manifest[] = [];
  for (const { id, size } of maybeManifests) {
    let manifest: Manifest;
    try {
      manifest = parseManifest(await storage.get(id));
    } catch (error) {
      if (error instanceof ManifestFormatError) {
        sight(fromHex(id), size);
      } else {
        // Unreadable now: it may be a manifest, and then its pieces are not orphans.
        scan.unsure = true;
        scan.dumpObjects++;
      }
      continue;
    }
    scan.manifests++;
    scan.dumpObjects++;
    manifests.push(manifest);
  }
  flush();
  const named = new Set<string>();
  for (const manifest of manifests) {
    for (const piece of manifest.pieces) {
      if (named.has(piece.id)) continue;
      named.add(piece.id);
      const id = fromHex(piece.id);
      if (options.dryRun) {
        // Counted as an orphan above if it was listed (assumed: pieces exist).
        if (!unnamed(id)) continue;
      } else {
        const sighting = getSighting(kv, id);
        if (sighting === undefined || !sameRun(sighting.run, options.run)) continue;
        kv.transaction(() => removeSighting(kv, id));
      }
      scan.orphans--;
      scan.orphanBytes -= piece.size;
      scan.dumpObjects++;
    }
  }
  return scan;
}
