/**
 * The metadata sweep of garbage collection: walks the key names of the
 * backup schema by prefix (the registry is ordered by name) and deletes
 * - `m:` and `c:` keys the mark phase did not reach (a Bloom filter: a
 *   false positive keeps a key until a later run),
 * - `d:` keys it did not walk (exact),
 * - `s:` hashes that are not in `ddb:snapshots` (forgotten snapshots whose
 *   record stayed) — looked up when deleting, so a snapshot committed
 *   meanwhile stays.
 *
 * Deletes a page of names per transaction and pauses between pages.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { keyAfter, prefixEnd, registryKey } from "../kv/keys.ts";
import * as keyspace from "../types/keyspace.ts";
import { sismember } from "../types/sets.ts";
import type { Marks } from "./marks.ts";
import type { Pacer } from "./pacer.ts";
import {
  CONTENT_PREFIX,
  DIR_PREFIX,
  META_PREFIX,
  SNAPSHOT_PREFIX,
  SNAPSHOTS_KEY,
} from "./_names.ts";

/** Kept and deleted keys of one kind. */
export interface KeyCounts {
  /** Keys that stay. */
  kept: number;
  /** Keys deleted (with a dry run: that would be). */
  deleted: number;
}

/** What the metadata sweep found and did, per kind of key. */
export interface MetadataSweepStats {
  /** `m:` meta hashes. */
  metas: KeyCounts;
  /** `c:` content lists. */
  contents: KeyCounts;
  /** `d:` directory sets. */
  dirs: KeyCounts;
  /** `s:` snapshot hashes. */
  snapshots: KeyCounts;
}

/** What the metadata sweep does. */
export interface MetadataSweepOptions {
  /** Count only; delete nothing. */
  dryRun: boolean;
  /** Names per page (and at most per transaction). */
  pageSize: number;
}

type Kind = keyof MetadataSweepStats;

/** Sweeps the `m:`, `c:`, `d:` and `s:` keys of `kv` against `marks`. */
export async function sweepMetadata(
  kv: KvStore,
  marks: Marks,
  options: MetadataSweepOptions,
  pacer: Pacer,
): Promise<MetadataSweepStats> {
  const stats: MetadataSweepStats = {
    metas: { kept: 0, deleted: 0 },
    contents: { kept: 0, deleted: 0 },
    dirs: { kept: 0, deleted: 0 },
    snapshots: { kept: 0, deleted: 0 },
  };
  const kinds: [Kind, Uint8Array, (name: Uint8Array) => boolean][] = [
    ["metas", META_PREFIX, (name) => !marks.mayReachKey(name)],
    ["contents", CONTENT_PREFIX, (name) => !marks.mayReachKey(name)],
    ["dirs", DIR_PREFIX, (name) => !marks.visitedDir(name)],
    ["snapshots", SNAPSHOT_PREFIX, (name) => !isListed(kv, name)],
  ];
  for (const [kind, prefix, isGarbage] of kinds) {
    const start = registryKey(prefix);
    const end = prefixEnd(start);
    let from = start;
    for (;;) {
      const garbage: Uint8Array[] = [];
      let n = 0;
      for (const { key } of kv.scan({ start: from, end, limit: options.pageSize })) {
        n++;
        from = keyAfter(key);
        const name = key.subarray(1);
        if (isGarbage(name)) garbage.push(name);
      }
      stats[kind].kept += n - garbage.length;
      stats[kind].deleted += garbage.length;
      if (!options.dryRun && garbage.length > 0) {
        // No await since the names were read: what was garbage still is.
        kv.transaction(() => keyspace.del(kv, garbage));
      }
      if (n < options.pageSize) break;
      await pacer.pause();
    }
  }
  return stats;
}

/**
 * Whether `name` is a member of `ddb:snapshots` (a `WrongTypeError` when that
 * is no set: then nothing is known to be garbage).
 */
function isListed(kv: KvStore, name: Uint8Array): boolean {
  return sismember(kv, SNAPSHOTS_KEY, name);
}
