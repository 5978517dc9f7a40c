/**
 * Importing a dump, all or nothing: the records are first written into a
 * new temporary kv file as they arrive ({@linkcode DumpImporter}), and only
 * once the trailer's checksum is verified do they reach the target, either
 * by renaming the file into place (offline: {@linkcode installKvFile}) or by
 * one transaction into the file of an open, empty store (online:
 * {@linkcode copyIntoEmpty}). A damaged, truncated or refused dump leaves
 * the target as it was.
 *
 * @module
 */

import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { KV_FORMAT_VERSION, SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { DumpDecoder, DumpFormatError, type DumpHeader, type DumpSummary } from "./dump_format.ts";
import { KvSnapshot } from "./kv_snapshot.ts";

const BUSY_TIMEOUT_MS = 5000;

/** The target database holds records: an import never merges. */
export class DatabaseNotEmptyError extends Error {
  /** Builds the error for the database or file `target`. */
  constructor(target: string, options?: ErrorOptions) {
    super(
      `Cannot import into "${target}": it is not empty (import only into an empty database)`,
      options,
    );
    this.name = "DatabaseNotEmptyError";
  }
}

/** What an import read, once verified. */
export interface ImportResult {
  /** The dump's header. */
  header: DumpHeader;
  /** Its record count, size and checksum. */
  summary: DumpSummary;
}

/**
 * Streams a dump into a new kv file at `path`: `push` chunks as they come
 * (each is decoded, checked and written at once, so memory stays at about a
 * chunk), then `finish` — which verifies the trailer and makes the file
 * complete and durable — or `abort`, which deletes it. The file is a normal
 * kv file (`SqliteKvStore` format) once finished, and garbage before.
 */
export class DumpImporter {
  /** The temporary kv file. */
  readonly path: string;
  readonly #decoder = new DumpDecoder();
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  #header: DumpHeader | undefined;
  #closed = false;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare("INSERT INTO kv (k, v) VALUES (?, ?)");
  }

  /** Creates the kv file at `path`, which must not exist. */
  static create(path: string): DumpImporter {
    if (exists(path)) throw new Deno.errors.AlreadyExists(`Cannot import into "${path}": exists`);
    // The store's own initialization makes the file a kv file of this build.
    SqliteKvStore.open(path).close();
    const db = new DatabaseSync(path);
    try {
      // A half-imported file is thrown away, never recovered: no journal, no sync.
      db.exec("PRAGMA journal_mode = OFF");
      db.exec("PRAGMA synchronous = OFF");
      return new DumpImporter(path, db);
    } catch (error) {
      db.close();
      removeKvFiles(path);
      throw error;
    }
  }

  /** The dump's header, once read. */
  get header(): DumpHeader | undefined {
    return this.#header;
  }

  /** Records written so far. */
  get records(): number {
    return this.#decoder.records;
  }

  /**
   * Decodes and writes `chunk`. Throws {@linkcode DumpFormatError} on a bad
   * dump (the importer is then aborted).
   */
  push(chunk: Uint8Array): void {
    if (this.#closed) throw new TypeError("Cannot import: the importer is closed");
    try {
      this.#decoder.push(chunk);
      this.#db.exec("BEGIN");
      try {
        for (let item = this.#decoder.next(); item !== undefined; item = this.#decoder.next()) {
          if (item.kind === "record") this.#insert.run(item.key, item.value);
          else if (item.kind === "header") this.#checkHeader(item.header);
        }
      } finally {
        this.#db.exec("COMMIT");
      }
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  #checkHeader(header: DumpHeader): void {
    if (header.kvFormatVersion !== KV_FORMAT_VERSION) {
      throw new DumpFormatError(
        `its records are of kv format version ${header.kvFormatVersion}, ` +
          `this build stores version ${KV_FORMAT_VERSION}`,
      );
    }
    this.#header = header;
  }

  /**
   * Checks that the dump ended with a valid trailer, then makes the file
   * self-contained and durable and closes it. Throws
   * {@linkcode DumpFormatError} (and aborts) when the dump is incomplete.
   */
  finish(): ImportResult {
    if (this.#closed) throw new TypeError("Cannot import: the importer is closed");
    let summary: DumpSummary;
    try {
      summary = this.#decoder.finish();
      this.#db.exec("PRAGMA journal_mode = DELETE");
    } catch (error) {
      this.abort();
      throw error;
    }
    this.#closed = true;
    this.#db.close();
    const file = Deno.openSync(this.path, { read: true, write: true });
    try {
      file.syncSync();
    } finally {
      file.close();
    }
    return { header: this.#header!, summary };
  }

  /** Closes and deletes the file (idempotent). */
  abort(): void {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#db.close();
    }
    removeKvFiles(this.path);
  }
}

/**
 * Copies every record of the finished import file `sourcePath` into the kv
 * file `kvPath`, which the open store `kv` serves, in one durable
 * transaction, after checking inside it that the file is empty
 * ({@linkcode DatabaseNotEmptyError} otherwise, with nothing written).
 * Returns the number of records copied. `target` names the database in
 * errors.
 *
 * The copy is one `INSERT … SELECT` on a second connection, so that memory
 * stays flat and the time is SQLite's alone (records written one by one
 * through the store measured 2.5x slower and 3x the memory, all of it
 * garbage of its write path). It runs synchronously: the event loop waits.
 * Then `kv` forgets what it remembers of the file (cached reads, which may
 * remember keys as absent; its filter of known keys), so it sees the records.
 */
export function copyIntoEmpty(
  sourcePath: string,
  kvPath: string,
  kv: KvStore,
  target: string,
): number {
  if (kv.inTransaction) {
    throw new TypeError(`Cannot import into "${target}": a transaction of the store is open`);
  }
  const db = new DatabaseSync(kvPath);
  let copied: number;
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // The commit fsyncs the WAL: the import is durable when this returns.
    db.exec("PRAGMA synchronous = FULL");
    db.prepare("ATTACH DATABASE ? AS dump").run(sourcePath);
    db.exec("BEGIN IMMEDIATE");
    try {
      if (db.prepare("SELECT 1 FROM main.kv LIMIT 1").get() !== undefined) {
        throw new DatabaseNotEmptyError(target);
      }
      copied = Number(
        db.prepare("INSERT INTO main.kv (k, v) SELECT k, v FROM dump.kv ORDER BY k").run().changes,
      );
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  } finally {
    db.close();
  }
  kv.forgetCached();
  return copied;
}

/** Whether `kv` holds no record at all. */
export function isEmpty(kv: KvStore): boolean {
  for (const _ of kv.scan({ limit: 1 })) return false;
  return true;
}

/**
 * Puts the finished import file `sourcePath` in place as the kv file
 * `targetPath` (same directory), atomically and durably. The target may be
 * missing or an empty kv file; anything else is refused
 * ({@linkcode DatabaseNotEmptyError}, `KvFormatError`). Only for a data
 * directory whose server is stopped and locked: an open connection to the
 * target would keep writing to the replaced file.
 */
export function installKvFile(sourcePath: string, targetPath: string): void {
  if (dirname(sourcePath) !== dirname(targetPath)) {
    throw new RangeError(`Cannot install "${sourcePath}" as "${targetPath}": not one directory`);
  }
  if (exists(`${sourcePath}-wal`)) {
    throw new TypeError(
      `Cannot install "${sourcePath}": its WAL is not checkpointed (still open?)`,
    );
  }
  if (exists(targetPath)) {
    const current = KvSnapshot.open(targetPath);
    try {
      if (!current.isEmpty()) throw new DatabaseNotEmptyError(targetPath);
    } finally {
      current.close();
    }
  }
  // The empty target's WAL must not be replayed into the new file.
  removeKvFiles(targetPath);
  Deno.renameSync(sourcePath, targetPath);
  const dir = Deno.openSync(dirname(targetPath), { read: true });
  try {
    dir.syncSync();
  } finally {
    dir.close();
  }
}

/** Removes the kv file `path` with its WAL and shared-memory files; missing ones are fine. */
export function removeKvFiles(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      Deno.removeSync(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
