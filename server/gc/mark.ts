/**
 * The mark phase of garbage collection: from every snapshot in
 * `ddb:snapshots`, follow the references of the backup metadata schema
 * (docs/data-model.md) — a snapshot's `ref` to its root meta, a meta's `ref`
 * to its directory set or content list, a directory's members to their
 * metas, a content list's values to blobs — and mark what is reached.
 *
 * Directories are content-addressed, so an unchanged subtree is the same
 * `d:` key in every snapshot: each is walked once (an exact set), which
 * makes marking cost the number of distinct directories, not snapshots
 * times tree size. Nothing is ever skipped because of the Bloom filter: a
 * false positive there would leave a live subtree unmarked.
 *
 * Reads go straight to the kv store, a page at a time, and the walk pauses
 * between time slices so other clients are served meanwhile.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { dataPrefix, hashFieldKey, keyAfter, prefixEnd, registryKey } from "../kv/keys.ts";
import type { Marks } from "./marks.ts";
import type { Pacer } from "./pacer.ts";
import {
  CONTENT_PREFIX,
  decodeHexId,
  DIR_PREFIX,
  hasPrefix,
  REF_FIELD,
  SNAPSHOTS_KEY,
} from "./_names.ts";

/** Entries read per page of a set or list. */
const PAGE = 1024;

/** What the mark phase saw. */
export interface MarkStats {
  /** Snapshots in `ddb:snapshots`. */
  snapshots: number;
  /** Distinct directories walked. */
  dirs: number;
  /** Meta hashes visited (a meta shared by several walked directories counts each time). */
  metaVisits: number;
  /** Content lists visited (likewise). */
  contentVisits: number;
  /** Chunk references followed. */
  chunkRefs: number;
  /** References to records that do not exist, or values that are no reference (ddb check reports them). */
  dangling: number;
}

/**
 * Calls `fn` for every entry in [start, end), a page at a time, pausing on
 * `pacer` between pages when the slice is used up. Each page is a scan of
 * its own, so writes of other clients between pages are harmless.
 */
async function eachEntry(
  kv: KvStore,
  start: Uint8Array,
  end: Uint8Array | undefined,
  pacer: Pacer,
  fn: (key: Uint8Array, value: Uint8Array) => void,
  pageSize = PAGE,
): Promise<void> {
  let from = start;
  for (;;) {
    let n = 0;
    let last: Uint8Array | undefined;
    for (const { key, value } of kv.scan({ start: from, end, limit: pageSize })) {
      fn(key, value);
      last = key;
      n++;
    }
    if (n < pageSize || last === undefined) return;
    from = keyAfter(last);
    if (pacer.due()) await pacer.pause();
  }
}

/** Marks everything reachable from the snapshots of `kv` in `marks`. */
export async function mark(kv: KvStore, marks: Marks, pacer: Pacer): Promise<MarkStats> {
  const stats: MarkStats = {
    snapshots: 0,
    dirs: 0,
    metaVisits: 0,
    contentVisits: 0,
    chunkRefs: 0,
    dangling: 0,
  };
  const digest = new Uint8Array(32);
  const pending: Uint8Array[] = [];

  const snapshotsPrefix = dataPrefix("set", SNAPSHOTS_KEY);
  const snapshots: Uint8Array[] = [];
  await eachEntry(kv, snapshotsPrefix, prefixEnd(snapshotsPrefix), pacer, (key) => {
    snapshots.push(key.subarray(snapshotsPrefix.length));
  });
  stats.snapshots = snapshots.length;

  const visitContent = async (name: Uint8Array) => {
    marks.markKey(name);
    stats.contentVisits++;
    const prefix = dataPrefix("list", name);
    await eachEntry(kv, prefix, prefixEnd(prefix), pacer, (_key, value) => {
      stats.chunkRefs++;
      if (decodeHexId(value, 0, digest)) marks.markBlob(digest);
      else stats.dangling++;
    });
  };

  const visitDir = async (name: Uint8Array) => {
    if (!marks.visitDir(name)) return;
    const prefix = dataPrefix("set", name);
    await eachEntry(kv, prefix, prefixEnd(prefix), pacer, (key) => {
      pending.push(key.subarray(prefix.length));
    });
  };

  const visitMeta = async (name: Uint8Array) => {
    marks.markKey(name);
    stats.metaVisits++;
    const ref = kv.get(hashFieldKey(name, REF_FIELD));
    if (ref === undefined) {
      // Symlinks and other non-files have no ref; a missing record has no registry entry.
      if (kv.get(registryKey(name)) === undefined) stats.dangling++;
    } else if (hasPrefix(ref, CONTENT_PREFIX)) {
      await visitContent(ref);
    } else if (hasPrefix(ref, DIR_PREFIX)) {
      await visitDir(ref);
    } else {
      stats.dangling++;
    }
  };

  for (const snapshot of snapshots) {
    const root = kv.get(hashFieldKey(snapshot, REF_FIELD));
    if (root === undefined) {
      stats.dangling++;
      continue;
    }
    pending.push(root);
    while (pending.length > 0) {
      await visitMeta(pending.pop()!);
      if (pacer.due()) await pacer.pause();
    }
  }
  stats.dirs = marks.dirs;
  return stats;
}
