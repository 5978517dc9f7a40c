/**
 * `ddb stats`: how much the snapshots hold and how much they take.
 *
 * - Logical size: the bytes of the files of every snapshot, summed over the
 *   snapshots (from their records: what restoring each would write).
 * - Stored size: the bytes of the distinct blobs the snapshots reference.
 *   A blob is a chunk stored as is, so its size is the chunk's size in the
 *   content lists (`c:` index = cumulative end offset); no blob is read.
 * - Dedup ratio: logical / stored.
 *
 * The trees are walked once per distinct directory (a directory whose `d:`
 * key was walked for an earlier snapshot is skipped), each content list is
 * read once, each blob counted once. Memory: a set of the distinct
 * directories, contents and blobs (about 100 bytes per id).
 *
 * @module
 */

import { Semaphore } from "../concurrency/semaphore.ts";
import { ServerReplyError } from "../remote/resp_client.ts";
import type { Repository, SnapshotEntry } from "../repo/repository.ts";
import { contentId, contentKey, SchemaError } from "../snapshot/schema.ts";
import { walkTree } from "../snapshot/walk.ts";

/** What `collectStats` reads (a `Repository` has it). */
export type StatsSource = Pick<Repository, "readMeta" | "readDir" | "readContent">;

/** The numbers. */
export interface RepositoryStats {
  /** Snapshots counted. */
  snapshots: number;
  /** Files in all of them (summed over the snapshots). */
  files: number;
  /** Directories in all of them (summed). */
  dirs: number;
  /** Bytes of the files of all of them (summed). */
  logicalBytes: number;
  /** Distinct file contents. */
  contents: number;
  /** Distinct blobs referenced. */
  blobs: number;
  /** Bytes of the distinct blobs referenced. */
  storedBytes: number;
  /** `logicalBytes / storedBytes` (1 when nothing is stored). */
  dedupRatio: number;
}

/** Options of {@linkcode collectStats}. */
export interface StatsOptions {
  /** Receives the numbers as they grow. */
  onProgress?: (stats: Readonly<RepositoryStats>) => void;
  /** Receives metadata that cannot be read (then the numbers are too small). */
  onError?: (message: string) => void;
  /** Content lists read at once (default 1024). */
  contentWindow?: number;
}

const EMPTY_CONTENT = contentKey(contentId([]));

/**
 * Computes the numbers of `snapshots`.
 *
 * @throws when the server cannot be read; unreadable metadata goes to
 *   {@linkcode StatsOptions.onError} (or is thrown without it).
 */
export async function collectStats(
  source: StatsSource,
  snapshots: readonly SnapshotEntry[],
  options: StatsOptions = {},
): Promise<RepositoryStats> {
  const onError = options.onError ?? ((message: string) => {
    throw new Error(message);
  });
  const stats: RepositoryStats = {
    snapshots: snapshots.length,
    files: 0,
    dirs: 0,
    logicalBytes: 0,
    contents: 0,
    blobs: 0,
    storedBytes: 0,
    dedupRatio: 1,
  };
  for (const s of snapshots) {
    stats.files += s.files;
    stats.dirs += s.dirs;
    stats.logicalBytes += s.bytes;
  }
  const dirsWalked = new Set<string>();
  const contents = new Set<string>();
  const blobs = new Set<string>();
  const slots = new Semaphore(options.contentWindow ?? 1024);
  let failure: unknown;

  const readContent = async (ref: string, size: number) => {
    try {
      for (const chunk of await source.readContent(ref, size)) {
        if (blobs.has(chunk.id)) continue;
        blobs.add(chunk.id);
        stats.blobs++;
        stats.storedBytes += chunk.size;
      }
      options.onProgress?.(stats);
    } catch (error) {
      if (!(error instanceof SchemaError || error instanceof ServerReplyError)) throw error;
      onError(`Cannot read content list ${ref}: ${error.message}`);
    } finally {
      slots.release();
    }
  };

  for (const snapshot of snapshots) {
    const fresh: string[] = [];
    const walk = walkTree(source, snapshot.ref, {
      // Pure during a walk: dirsWalked grows between snapshots.
      descend: (entry) => !dirsWalked.has(entry.meta.ref!),
      onError: (error) => onError(error.message),
    });
    for await (const entry of walk) {
      if (failure !== undefined) throw failure;
      const ref = entry.meta.ref;
      if (entry.meta.type === "dir") fresh.push(ref!);
      if (entry.meta.type !== "file" || ref === EMPTY_CONTENT || contents.has(ref!)) continue;
      contents.add(ref!);
      stats.contents++;
      await slots.acquire();
      readContent(ref!, entry.meta.size).catch((error) => {
        failure ??= error;
      });
    }
    for (const ref of fresh) dirsWalked.add(ref);
  }
  // Every read holds a slot until it is done: all of them is all done.
  await slots.acquire(slots.capacity);
  slots.release(slots.capacity);
  if (failure !== undefined) throw failure;
  stats.dedupRatio = stats.storedBytes === 0 ? 1 : stats.logicalBytes / stats.storedBytes;
  options.onProgress?.(stats);
  return stats;
}
