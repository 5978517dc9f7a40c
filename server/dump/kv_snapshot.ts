/**
 * A consistent, read-only view of a kv file (`SqliteKvStore`'s SQLite file)
 * while its server keeps writing: a separate read-only connection holding
 * one read transaction. In WAL mode the transaction sees the database as of
 * its first read, whatever commits after, until it is closed. The view may
 * stay open across event-loop turns (it is another connection: the writer
 * is never blocked), but while it is open the WAL cannot be checkpointed past
 * its snapshot and grows with the writes: close it promptly.
 *
 * This reads the kv table (`kv (k BLOB PRIMARY KEY, v BLOB)`) directly: a
 * dump is a copy of that table, tied to its format version.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { KV_APPLICATION_ID, KvFormatError } from "../kv/sqlite_kv_store.ts";
import type { KvEntry } from "../kv/kv_store.ts";

/** Rows read per query; pages keep no statement open between reads. */
const PAGE_ROWS = 256;
const BUSY_TIMEOUT_MS = 5000;

/** `StatementSync.setReturnArrays`, which the bundled `node:sqlite` types lack. */
interface ReturnArrays {
  setReturnArrays(enabled: boolean): void;
}

function returnArrays(statement: StatementSync): StatementSync {
  (statement as unknown as ReturnArrays).setReturnArrays(true);
  return statement;
}

/** A read-only snapshot of a kv file. */
export class KvSnapshot {
  /** The kv file's format version (`PRAGMA user_version`). */
  readonly kvFormatVersion: number;
  readonly #db: DatabaseSync;
  readonly #first: StatementSync;
  readonly #after: StatementSync;
  #closed = false;

  private constructor(db: DatabaseSync, kvFormatVersion: number) {
    this.#db = db;
    this.kvFormatVersion = kvFormatVersion;
    this.#first = returnArrays(db.prepare("SELECT k, v FROM kv ORDER BY k LIMIT ?"));
    this.#after = returnArrays(db.prepare("SELECT k, v FROM kv WHERE k > ? ORDER BY k LIMIT ?"));
  }

  /**
   * Opens the kv file at `path` read-only and starts the snapshot. Throws
   * {@linkcode KvFormatError} when the file is missing or not a ddb kv file.
   */
  static open(path: string): KvSnapshot {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { readOnly: true });
    } catch (cause) {
      throw new KvFormatError(path, `cannot open the file (${String(cause)})`, { cause });
    }
    try {
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // The read transaction starts at the first read below and lasts until close.
      db.exec("BEGIN");
      const appId = Number(db.prepare("PRAGMA application_id").get()?.application_id ?? 0);
      if (appId !== KV_APPLICATION_ID) {
        throw new KvFormatError(
          path,
          `not a ddb kv store (application_id 0x${appId.toString(16)})`,
        );
      }
      const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
      return new KvSnapshot(db, version);
    } catch (error) {
      db.close();
      if (error instanceof KvFormatError) throw error;
      throw new KvFormatError(path, `cannot read the file (${String(error)})`, { cause: error });
    }
  }

  /** Every entry in key order, as of the snapshot, read lazily in pages. */
  *entries(): Generator<KvEntry, void, undefined> {
    let rows = this.#page(undefined);
    while (rows.length > 0) {
      for (const row of rows) yield { key: row[0], value: row[1] };
      if (rows.length < PAGE_ROWS) return;
      rows = this.#page(rows[rows.length - 1][0]);
    }
  }

  /** Whether the snapshot holds no entry at all. */
  isEmpty(): boolean {
    return this.#first.all(1).length === 0;
  }

  #page(after: Uint8Array | undefined): [Uint8Array, Uint8Array][] {
    if (this.#closed) throw new TypeError("Cannot read the kv snapshot: it is closed");
    const rows = after === undefined
      ? this.#first.all(PAGE_ROWS)
      : this.#after.all(after, PAGE_ROWS);
    return rows as unknown as [Uint8Array, Uint8Array][];
  }

  /** Ends the snapshot and closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#db.isTransaction) this.#db.exec("COMMIT");
    } finally {
      this.#db.close();
    }
  }
}
