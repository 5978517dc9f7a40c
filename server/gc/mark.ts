/**
 * The mark phase of garbage collection: from every snapshot in
 * `ddb:snapshots`, follow the references of the backup metadata schema
 * (docs/data-model.md) — a snapshot's `ref` to its root meta, a meta's `ref`
 * to its directory set or content list (or, for a one-chunk file, `b:<id>`
 * straight to its blob), a directory's members to their metas, a content
 * list's values to blobs — and mark what is reached.
 *
 * Directories are content-addressed, so an unchanged subtree is the same
 * `d:` key in every snapshot: each is walked once (an exact set), which
 * makes marking cost the number of distinct directories, not snapshots
 * times tree size. Nothing is ever skipped because of the Bloom filter: a
 * false positive there would leave a live subtree unmarked.
 *
 * Reads go straight to the kv store (`../types/collection.ts` for both forms
 * of a key's entries), a page at a time, and the walk pauses between time
 * slices so other clients are served meanwhile.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { dataPrefix, keyAfter, prefixEnd } from "../kv/keys.ts";
import {
  type Collection,
  type CollectionType,
  entryIn,
  readCollection,
} from "../types/collection.ts";
import { WrongTypeError } from "../types/errors.ts";
import type { Marks } from "./marks.ts";
import type { Pacer } from "./pacer.ts";
import {
  BLOB_REF_PREFIX,
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
 * The existing key `name` of type `type`, or `undefined` when it is missing
 * or holds another type (either is a dangling reference).
 */
function collection(kv: KvStore, name: Uint8Array, type: CollectionType): Collection | undefined {
  try {
    return readCollection(kv, name, type);
  } catch (error) {
    if (error instanceof WrongTypeError) return undefined;
    throw error;
  }
}

/**
 * Calls `fn` with the suffix and value of every entry of the key `name` of
 * type `type`: at once for an inline key; for one with data keys a page at a
 * time, pausing on `pacer` between pages when the slice is used up. Each page
 * is a scan of its own, so writes of other clients between pages are
 * harmless. Returns whether the key exists (with that type).
 */
async function eachEntry(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  pacer: Pacer,
  fn: (suffix: Uint8Array, value: Uint8Array) => void,
  pageSize = PAGE,
): Promise<boolean> {
  const found = collection(kv, name, type);
  if (found === undefined) return false;
  if (found.inline !== undefined) {
    for (const { suffix, value } of found.inline) fn(suffix, value);
    return true;
  }
  const prefix = dataPrefix(type, name);
  const end = prefixEnd(prefix);
  let from = prefix;
  for (;;) {
    let n = 0;
    let last: Uint8Array | undefined;
    for (const { key, value } of kv.scan({ start: from, end, limit: pageSize })) {
      fn(key.subarray(prefix.length), value);
      last = key;
      n++;
    }
    if (n < pageSize || last === undefined) return true;
    from = keyAfter(last);
    if (pacer.due()) await pacer.pause();
  }
}

/** The `ref` field of the meta or snapshot hash `name`, `undefined` if none, `null` if no such hash. */
function refOf(kv: KvStore, name: Uint8Array): Uint8Array | undefined | null {
  const found = collection(kv, name, "hash");
  return found === undefined ? null : entryIn(kv, name, "hash", found, REF_FIELD);
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

  const snapshots: Uint8Array[] = [];
  await eachEntry(kv, SNAPSHOTS_KEY, "set", pacer, (member) => {
    snapshots.push(member.slice());
  });
  stats.snapshots = snapshots.length;

  const visitContent = async (name: Uint8Array) => {
    marks.markKey(name);
    stats.contentVisits++;
    await eachEntry(kv, name, "list", pacer, (_index, value) => {
      stats.chunkRefs++;
      if (decodeHexId(value, 0, digest)) marks.markBlob(digest);
      else stats.dangling++;
    });
  };

  const visitDir = async (name: Uint8Array) => {
    if (!marks.visitDir(name)) return;
    await eachEntry(kv, name, "set", pacer, (member) => {
      pending.push(member.slice());
    });
  };

  const visitMeta = async (name: Uint8Array) => {
    marks.markKey(name);
    stats.metaVisits++;
    const ref = refOf(kv, name);
    if (ref === null) {
      stats.dangling++;
    } else if (ref === undefined) {
      // Symlinks and other non-files have no ref.
    } else if (hasPrefix(ref, CONTENT_PREFIX)) {
      await visitContent(ref);
    } else if (hasPrefix(ref, BLOB_REF_PREFIX)) {
      // A one-chunk file: its ref names the blob, no list in between.
      stats.chunkRefs++;
      if (decodeHexId(ref, 2, digest)) marks.markBlob(digest);
      else stats.dangling++;
    } else if (hasPrefix(ref, DIR_PREFIX)) {
      await visitDir(ref);
    } else {
      stats.dangling++;
    }
  };

  for (const snapshot of snapshots) {
    const root = refOf(kv, snapshot);
    if (root === undefined || root === null) {
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
