/**
 * Metadata backups into a database's own blob storage, so that the metadata
 * can be rebuilt from the storage alone (`ddb db recover`).
 *
 * A backup is a dump of the database (a consistent snapshot) cut into
 * pieces of at most {@linkcode PIECE_BYTES}, each stored as a blob, then a
 * manifest listing them (`manifest.ts`), stored last: a manifest is only ever
 * seen once all its pieces are durable. Pruning keeps the newest manifests
 * of the database and deletes the older ones, manifest first, then the
 * pieces no kept manifest (of any database sharing the storage) names and
 * the blob index does not hold.
 *
 * @module
 */

import type { BlobInfo, BlobStorage } from "../../storage/blob_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import { DEFAULT_CHUNK_BYTES, DUMP_FORMAT_VERSION } from "./dump_format.ts";
import { KvExport } from "./export.ts";
import {
  type DumpPiece,
  encodeManifest,
  type Manifest,
  ManifestFormatError,
  mayBeManifest,
  parseManifest,
} from "./manifest.ts";

/** Largest piece of a dump stored as one blob: 8 MiB. */
export const PIECE_BYTES = 8 * 1024 * 1024;
/** Manifests of a database kept by {@linkcode pruneMetaBackups} unless told otherwise. */
export const DEFAULT_KEEP = 3;

/** A manifest found in a storage. */
export interface StoredManifest {
  /** The manifest's blob id. */
  id: string;
  /** What it says. */
  manifest: Manifest;
}

/** What {@linkcode writeMetaBackup} needs. */
export interface MetaBackupOptions {
  /** The database's kv file. */
  kvPath: string;
  /** Its name. */
  database: string;
  /** Its blob storage. */
  storage: BlobStorage;
  /** The clock (ms since the epoch). */
  now: () => number;
  /**
   * Awaited between two chunks of the dump (reading a chunk is synchronous):
   * lets a server answer other clients meanwhile. Default: a macrotask turn.
   */
  pause?: () => Promise<void>;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Writes a metadata backup of the kv file into the storage: the dump's
 * pieces, then its manifest. Returns the stored manifest. Memory stays at
 * about two pieces whatever the database's size.
 */
export async function writeMetaBackup(options: MetaBackupOptions): Promise<StoredManifest> {
  const { storage } = options;
  const pause = options.pause ?? nextTurn;
  const createdAt = options.now();
  const pieces: DumpPiece[] = [];
  let parts: Uint8Array[] = [];
  let held = 0;
  const store = async () => {
    const piece = concat(parts, held);
    parts = [];
    held = 0;
    const id = blobIdOf(piece);
    await storage.put(id, piece);
    pieces.push({ id, size: piece.length });
  };
  const dump = KvExport.open(options.kvPath, options.database, createdAt, DEFAULT_CHUNK_BYTES);
  try {
    for (let chunk = dump.next(); chunk !== undefined; chunk = dump.next()) {
      parts.push(chunk);
      held += chunk.length;
      if (held >= PIECE_BYTES) await store();
      else await pause();
    }
  } finally {
    dump.close();
  }
  if (held > 0) await store();
  const summary = dump.summary!;
  const manifest: Manifest = {
    database: options.database,
    createdAt,
    dumpFormatVersion: DUMP_FORMAT_VERSION,
    kvFormatVersion: dump.header.kvFormatVersion,
    records: summary.records,
    bytes: summary.bytes,
    checksum: summary.checksum,
    pieces,
  };
  const bytes = encodeManifest(manifest);
  const id = blobIdOf(bytes);
  await storage.put(id, bytes);
  return { id, manifest };
}

/**
 * Every manifest in the storage, in no particular order: one listing (the
 * storage's own unless `listing` is given), then one read per object whose
 * size may be a manifest's. Objects of that size that are not manifests are
 * skipped.
 */
export async function* findManifests(
  storage: BlobStorage,
  listing: AsyncIterable<BlobInfo> = storage.list(),
): AsyncGenerator<StoredManifest> {
  for await (const { id, size } of listing) {
    if (!mayBeManifest(size)) continue;
    let manifest: Manifest;
    try {
      manifest = parseManifest(await storage.get(id));
    } catch (error) {
      if (error instanceof ManifestFormatError) continue;
      throw error;
    }
    yield { id, manifest };
  }
}

/** Orders manifests newest first (ties by id, for a stable order). */
export function newestFirst(a: StoredManifest, b: StoredManifest): number {
  return b.manifest.createdAt - a.manifest.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The manifests of the storage, of `database` only when given, newest first
 * (`listing` as for {@linkcode findManifests}).
 */
export async function listManifests(
  storage: BlobStorage,
  database?: string,
  listing?: AsyncIterable<BlobInfo>,
): Promise<StoredManifest[]> {
  const found: StoredManifest[] = [];
  for await (const stored of findManifests(storage, listing)) {
    if (database === undefined || stored.manifest.database === database) found.push(stored);
  }
  return found.sort(newestFirst);
}

/** What {@linkcode pruneMetaBackups} deleted. */
export interface PruneResult {
  /** Ids of the manifests deleted. */
  manifests: string[];
  /** Number of pieces deleted. */
  pieces: number;
}

/**
 * Deletes the manifests of `database` but the newest `keep`, and the pieces
 * only they name. A piece also named by a kept manifest (of any database) or
 * for which `isBlob(id)` is true (an indexed blob with the same bytes) stays.
 */
export async function pruneMetaBackups(
  storage: BlobStorage,
  database: string,
  keep: number,
  isBlob: (id: string) => boolean,
): Promise<PruneResult> {
  if (!Number.isSafeInteger(keep) || keep < 1) {
    throw new RangeError(`Cannot prune metadata backups keeping ${keep}: keep at least 1`);
  }
  const all: StoredManifest[] = [];
  for await (const stored of findManifests(storage)) all.push(stored);
  const ours = all.filter((s) => s.manifest.database === database).sort(newestFirst);
  const dropped = ours.slice(keep);
  if (dropped.length === 0) return { manifests: [], pieces: 0 };
  const droppedIds = new Set(dropped.map((s) => s.id));
  const kept = new Set<string>();
  for (const stored of all) {
    if (droppedIds.has(stored.id)) continue;
    for (const piece of stored.manifest.pieces) kept.add(piece.id);
  }
  let pieces = 0;
  for (const { id, manifest } of dropped) {
    // The manifest first: a crash then leaves unnamed pieces, never a
    // manifest naming missing ones.
    await storage.delete(id);
    for (const piece of manifest.pieces) {
      if (kept.has(piece.id) || isBlob(piece.id)) continue;
      kept.add(piece.id);
      await storage.delete(piece.id);
      pieces++;
    }
  }
  return { manifests: [...droppedIds], pieces };
}

/**
 * The dump a manifest names, piece by piece, each verified against its id by
 * the storage. Throws `BlobNotFoundError` for a missing piece.
 */
export async function* readDump(
  storage: BlobStorage,
  manifest: Manifest,
): AsyncGenerator<Uint8Array> {
  for (const piece of manifest.pieces) {
    const bytes = await storage.get(piece.id);
    if (bytes.length !== piece.size) {
      throw new ManifestFormatError(
        `piece ${piece.id} has ${bytes.length} bytes, the manifest says ${piece.size}`,
      );
    }
    yield bytes;
  }
}
