/**
 * Recovery of a lost server's metadata from its blob storage alone: the
 * newest metadata backup (`meta_backup.ts`) of a database becomes its kv file
 * in a data directory, while no server runs there.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { join } from "node:path";
import {
  BlobCorruptError,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStorage,
} from "../../storage/blob_storage.ts";
import * as blobIndex from "../blob_index.ts";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { DumpFormatError } from "./dump_format.ts";
import { ManifestFormatError } from "./manifest.ts";
import { kvDir, kvFilePath, lockDataDir } from "./data_dir.ts";
import { DatabaseNotEmptyError, DumpImporter, installKvFile } from "./import.ts";
import { KvSnapshot } from "./kv_snapshot.ts";
import { listManifests, readDump, type StoredManifest } from "./meta_backup.ts";

/** Bytes of a piece handed to the importer at once: 1 MiB. */
const PUSH_BYTES = 1024 * 1024;

/** The storage holds no usable metadata backup. */
export class NoMetaBackupError extends Error {
  /** Builds the error; `reason` says what was found. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`Cannot recover: ${reason}`, options);
    this.name = "NoMetaBackupError";
  }
}

/** What {@linkcode recoverFromStorage} needs. */
export interface RecoverOptions {
  /** The storage the backups were written to. */
  storage: BlobStorage;
  /** The data directory to rebuild the database in (its server must be stopped). */
  dataDir: string;
  /**
   * The database to recover (its backups only); by default the database of
   * the newest backup in the storage.
   */
  database?: string;
  /** Told when a backup cannot be used and an older one is tried. */
  onSkip?: (stored: StoredManifest, reason: string) => void;
}

/** What {@linkcode recoverFromStorage} did. */
export interface RecoverResult {
  /** The database rebuilt. */
  database: string;
  /** The backup it was rebuilt from. */
  backup: StoredManifest;
  /** The kv file written. */
  path: string;
  /** Blobs in the backup's blob index. */
  indexedBlobs: number;
  /**
   * Blobs dropped from the index because their object (the blob, or its
   * pack) is not in the storage (deleted by a garbage collection after the
   * backup, or lost). Snapshots that need them are damaged.
   */
  droppedBlobs: string[];
}

/** What {@linkcode dropMissingBlobs} found. */
export interface BlobIndexCheck {
  /** Blobs in the index. */
  indexed: number;
  /** Ids of the blobs dropped from it. */
  dropped: string[];
}

/**
 * Makes the blob index of the kv file at `kvPath` name only blobs whose
 * object is in `present` (the storage's listing): a blob on its own, or the
 * pack holding it. Drops the others (their counters follow). Without this, a
 * backup would skip uploading a chunk the index claims is stored.
 */
export function dropMissingBlobs(kvPath: string, present: ReadonlySet<string>): BlobIndexCheck {
  const kv = SqliteKvStore.open(kvPath);
  try {
    let indexed = 0;
    const dropped: string[] = [];
    for (const { id } of blobIndex.list(kv)) {
      indexed++;
      const where = blobIndex.locate(kv, id);
      const object = where === "standalone" || where === undefined ? id : where.pack;
      if (!present.has(object)) dropped.push(id);
    }
    if (dropped.length > 0) {
      kv.transaction(() => {
        for (const id of dropped) blobIndex.remove(kv, id);
      }, { durable: true });
    }
    return { indexed, dropped };
  } finally {
    kv.close();
  }
}

/** `listing`, adding each id to `into` on the way. */
async function* recording(
  listing: AsyncIterable<BlobInfo>,
  into: Set<string>,
): AsyncGenerator<BlobInfo> {
  for await (const info of listing) {
    into.add(info.id);
    yield info;
  }
}

/** Errors that make one backup unusable, so that an older one is tried. */
function isDamage(error: unknown): error is Error {
  return error instanceof BlobNotFoundError || error instanceof BlobCorruptError ||
    error instanceof DumpFormatError || error instanceof ManifestFormatError;
}

/** Refuses when the kv file at `path` exists and holds records. */
function assertEmptyTarget(path: string): void {
  try {
    Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const current = KvSnapshot.open(path);
  try {
    if (!current.isEmpty()) throw new DatabaseNotEmptyError(path);
  } finally {
    current.close();
  }
}

/**
 * Rebuilds a database's kv file in `dataDir` from the newest usable metadata
 * backup in the storage: each piece is verified against its id, the dump
 * against its trailer and the manifest's checksum, the blob index against
 * the storage's listing ({@linkcode dropMissingBlobs}), and only then is the
 * file put in place (atomically). A backup that cannot be read (a piece missing
 * or damaged) is reported to `onSkip` and the next older one is tried.
 *
 * Holds the data directory's lock meanwhile (`DataDirBusyError` when a
 * server runs there). Refuses a database that exists and is not empty
 * ({@linkcode DatabaseNotEmptyError}); throws {@linkcode NoMetaBackupError}
 * when there is no usable backup.
 */
export async function recoverFromStorage(options: RecoverOptions): Promise<RecoverResult> {
  const { storage, dataDir } = options;
  const lock = await lockDataDir(dataDir);
  try {
    // One listing finds the backups and tells which objects exist.
    const present = new Set<string>();
    const all = await listManifests(
      storage,
      options.database,
      recording(storage.list(), present),
    );
    if (all.length === 0) {
      throw new NoMetaBackupError(
        `no metadata backup${
          options.database === undefined ? "" : ` of database "${options.database}"`
        } in storage "${storage.displayUrl}"`,
      );
    }
    const database = options.database ?? all[0].manifest.database;
    const candidates = all.filter((s) => s.manifest.database === database);
    const target = kvFilePath(dataDir, database);
    assertEmptyTarget(target);
    await Deno.mkdir(kvDir(dataDir), { recursive: true });
    const reasons: string[] = [];
    for (const stored of candidates) {
      const temp = join(kvDir(dataDir), `.${database}.recover-${randomUUID()}.sqlite`);
      const importer = DumpImporter.create(temp);
      try {
        for await (const piece of readDump(storage, stored.manifest)) {
          // In slices: the decoder's garbage per step stays small.
          for (let at = 0; at < piece.length; at += PUSH_BYTES) {
            importer.push(piece.subarray(at, at + PUSH_BYTES));
          }
        }
        const { summary } = importer.finish();
        if (summary.checksum !== stored.manifest.checksum) {
          throw new ManifestFormatError("the dump's checksum is not the manifest's");
        }
        const check = dropMissingBlobs(temp, present);
        installKvFile(temp, target);
        return {
          database,
          backup: stored,
          path: target,
          indexedBlobs: check.indexed,
          droppedBlobs: check.dropped,
        };
      } catch (error) {
        importer.abort();
        if (!isDamage(error)) throw error;
        reasons.push(`${stored.id}: ${error.message}`);
        options.onSkip?.(stored, error.message);
      }
    }
    throw new NoMetaBackupError(
      `no usable metadata backup of database "${database}" (${reasons.join("; ")})`,
    );
  } finally {
    lock.close();
  }
}
