/**
 * A {@linkcode KvStore} in one SQLite file (`node:sqlite`), one table
 * `kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`. SQLite compares
 * BLOBs with memcmp, shorter first on a common prefix: the order the
 * `KvStore` contract asks for.
 *
 * Durability: WAL journal with `synchronous=NORMAL`, so a commit is in the
 * WAL (the OS page cache) when it returns and survives a crash of the
 * process; the WAL is fsynced only at checkpoints. A durable transaction
 * commits with `synchronous=FULL`, which fsyncs the WAL at commit and so
 * makes that commit and every earlier one survive an OS crash or power loss.
 *
 * The file is marked with an `application_id` and a `user_version` (format
 * version); {@linkcode SqliteKvStore.open} refuses any other SQLite file.
 *
 * @module
 */

import { cacheKey, MAX_VALUE_BYTES, ReadCache } from "./read_cache.ts";
import { PresenceFilter } from "./presence_filter.ts";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { KvEntry, KvStore, ScanOptions, TransactionOptions } from "./kv_store.ts";
import { keyAfter } from "./keys.ts";

/** `PRAGMA application_id` of a ddb kv file: "ddb1" in ASCII. */
export const KV_APPLICATION_ID = 0x64646231;
/** `PRAGMA user_version` of the format this code writes and reads. */
export const KV_FORMAT_VERSION = 1;

const BUSY_TIMEOUT_MS = 5000;
/**
 * WAL pages (4 KiB) after which a commit checkpoints. SQLite's default of
 * 1000 makes checkpoints the main cost of small transactions that touch
 * scattered keys; 10000 (about 40 MiB of WAL) measured 1.7x faster writes
 * here with no change in reads.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;
/**
 * SQLite's page cache, in KiB (its default is 2 MiB). Backups insert keys
 * that are hashes, so every insert lands on a random leaf page: with 32 MiB
 * of cache and reads through a memory map, 400k random inserts ran at 20 µs
 * each instead of 26.
 */
const CACHE_KIB = 32 * 1024;
/** Bytes of the database file read through a memory map (clean pages, shared with the OS cache). */
const MMAP_BYTES = 256 * 1024 * 1024;
/** Size a WAL file is truncated back to after a checkpoint. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** The file cannot be opened as a kv store: not SQLite, or not ours, or too new. */
export class KvFormatError extends Error {
  /** Builds the error for the file at `path`. */
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`Cannot open kv store "${path}": ${reason}`, options);
    this.name = "KvFormatError";
  }
}

/** Scan statement shapes: bit 0 = has start, bit 1 = has end, bit 2 = reverse. */
const SCAN_SHAPES = 8;

/** Rows of a scan's first page; later pages grow by 4x up to {@linkcode MAX_PAGE}. */
const FIRST_PAGE = 64;
const MAX_PAGE = 4096;

function scanSql(shape: number): string {
  const where: string[] = [];
  if (shape & 1) where.push("k >= ?");
  if (shape & 2) where.push("k < ?");
  return "SELECT k, v FROM kv" +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY k ${shape & 4 ? "DESC" : "ASC"} LIMIT ?`;
}

/** `StatementSync.setReturnArrays`, which the bundled `node:sqlite` types lack. */
interface ReturnArrays {
  setReturnArrays(enabled: boolean): void;
}

/** Makes `statement` return rows as arrays (about 40% faster than objects). */
function returnArrays(statement: StatementSync): StatementSync {
  (statement as unknown as ReturnArrays).setReturnArrays(true);
  return statement;
}

function isPromiseLike(value: unknown): boolean {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

function promiseError(): TypeError {
  return new TypeError(
    "Cannot commit transaction: fn returned a promise (a transaction must not await); rolled back",
  );
}

/**
 * Keys the filter of known keys is first sized for, at least (1.25 MiB):
 * a new store grows to this many within its first large backup, and each
 * growth rescans the store. Beyond it, ~1 key per 128 bytes of the file.
 */
const MIN_EXPECTED_KEYS = 1 << 20;

/** A write held back until the transaction's commit. */
interface PendingWrite {
  readonly key: Uint8Array;
  value: Uint8Array;
}

/** A {@linkcode KvStore} backed by one SQLite file. */
export class SqliteKvStore implements KvStore {
  readonly #db: DatabaseSync;
  readonly #cache = new ReadCache();
  /** The keys that may be stored: a lookup of any other skips SQLite. */
  readonly #presence: PresenceFilter;
  /**
   * Small writes of the open transaction not yet given to SQLite, by cache
   * key: repeated writes of a hot key cost one statement per transaction.
   * Flushed before anything that reads SQLite in bulk (scan, count, range
   * delete), before a savepoint and before the commit; dropped on rollback.
   */
  readonly #pending = new Map<string, PendingWrite>();
  readonly #get: StatementSync;
  readonly #set: StatementSync;
  readonly #delete: StatementSync;
  readonly #deleteRange: StatementSync;
  readonly #count: StatementSync;
  readonly #begin: StatementSync;
  readonly #beginRead: StatementSync;
  #readBatch = false;
  readonly #commit: StatementSync;
  readonly #rollback: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollbackTo: StatementSync;
  readonly #scans: (StatementSync | undefined)[] = new Array(SCAN_SHAPES).fill(undefined);
  #depth = 0;
  #durablePending = false;
  #closed = false;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#get = returnArrays(db.prepare("SELECT v FROM kv WHERE k = ?"));
    this.#set = db.prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)");
    this.#delete = db.prepare("DELETE FROM kv WHERE k = ?");
    this.#deleteRange = db.prepare("DELETE FROM kv WHERE k >= ? AND k < ?");
    this.#count = returnArrays(db.prepare("SELECT count(*) FROM kv WHERE k >= ? AND k < ?"));
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#beginRead = db.prepare("BEGIN DEFERRED");
    this.#commit = db.prepare("COMMIT");
    this.#rollback = db.prepare("ROLLBACK");
    this.#savepoint = db.prepare("SAVEPOINT kv_nested");
    this.#release = db.prepare("RELEASE kv_nested");
    this.#rollbackTo = db.prepare("ROLLBACK TO kv_nested");
    const firstKeys = returnArrays(db.prepare("SELECT k FROM kv ORDER BY k LIMIT ?"));
    const keysAfter = returnArrays(db.prepare("SELECT k FROM kv WHERE k > ? ORDER BY k LIMIT ?"));
    const bytes = pragmaInt(db, "page_count") * pragmaInt(db, "page_size");
    this.#presence = new PresenceFilter({
      keysAfter: (after, limit) => {
        const rows =
          (after === undefined ? firstKeys.all(limit) : keysAfter.all(after, limit)) as unknown as [
            Uint8Array,
          ][];
        return rows.map((row) => row[0]);
      },
    }, { expectedKeys: Math.max(MIN_EXPECTED_KEYS, Math.ceil(bytes / 128)) });
  }

  /**
   * Opens (creating if needed) the kv store in the SQLite file at `path`
   * (`":memory:"` for a private in-memory store). Throws
   * {@linkcode KvFormatError} when the file is not a ddb kv store: not SQLite,
   * another `application_id`, other tables, or a newer format version.
   */
  static open(path: string): SqliteKvStore {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (cause) {
      throw new KvFormatError(path, `cannot open the file (${String(cause)})`, { cause });
    }
    try {
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      initialize(db, path);
      const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
      if (mode !== "wal" && mode !== "memory") {
        throw new KvFormatError(path, `cannot switch to WAL mode (journal_mode is ${mode})`);
      }
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      db.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
      db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
      db.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
      return new SqliteKvStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * The value under `key`, or `undefined`. The returned bytes may be shared
   * with the read cache: do not modify them.
   */
  get(key: Uint8Array): Uint8Array | undefined {
    if (!this.#presence.mayContain(key)) return undefined;
    const k = cacheKey(key);
    if (k !== undefined) {
      const pending = this.#pending.get(k);
      if (pending !== undefined) return pending.value;
      const cached = this.#cache.lookupAt(k);
      if (cached !== undefined) return cached === ReadCache.ABSENT ? undefined : cached;
    }
    this.#sqliteRead();
    const row = this.#get.get(key) as unknown as [Uint8Array] | undefined;
    const value = row === undefined ? undefined : row[0];
    this.#cache.remember(key, value);
    return value;
  }

  /**
   * Stores `value` under `key`, replacing any previous value. Inside a
   * transaction a small write may reach SQLite only at the commit (or the
   * next bulk read), which is invisible to callers of this store.
   */
  set(key: Uint8Array, value: Uint8Array): void {
    if (this.#readBatch) throw readBatchWrite();
    this.#presence.add(key);
    const k = cacheKey(key);
    if (k !== undefined && this.#depth > 0 && value.length <= MAX_VALUE_BYTES) {
      // Kept by reference: the KvStore contract forbids modifying them
      // before the transaction ends. The cache learns the value at flush.
      const pending = this.#pending.get(k);
      if (pending === undefined) this.#pending.set(k, { key, value });
      else pending.value = value;
      return;
    }
    if (k !== undefined) this.#pending.delete(k);
    this.#set.run(key, value);
    this.#cache.remember(key, value);
  }

  /** Deletes `key`; returns whether it existed. */
  delete(key: Uint8Array): boolean {
    if (this.#readBatch) throw readBatchWrite();
    const k = cacheKey(key);
    const wasPending = k !== undefined && this.#pending.delete(k);
    const existed = this.#delete.run(key).changes !== 0 || wasPending;
    this.#cache.remember(key, undefined);
    return existed;
  }

  /** Begins a read batch's transaction before its first read of SQLite. */
  #sqliteRead(): void {
    if (this.#readBatch && !this.#db.isTransaction) this.#beginRead.run();
  }

  /** Gives the pending writes to SQLite. */
  #flush(): void {
    if (this.#pending.size === 0) return;
    const statement = this.#set;
    const cache = this.#cache;
    for (const [k, write] of this.#pending) {
      statement.run(write.key, write.value);
      cache.rememberAt(k, write.value.slice());
    }
    this.#pending.clear();
  }

  /** Deletes every key in [start, end); returns how many were deleted. */
  deleteRange(start: Uint8Array, end: Uint8Array): number {
    if (this.#readBatch) throw readBatchWrite();
    this.#flush();
    const deleted = Number(this.#deleteRange.run(start, end).changes);
    if (deleted > 0) this.#cache.clear();
    return deleted;
  }

  /** Number of keys in [start, end). */
  count(start: Uint8Array, end: Uint8Array): number {
    this.#flush();
    this.#sqliteRead();
    const row = this.#count.get(start, end) as unknown as [number];
    return row[0];
  }

  /**
   * Entries in key order (or reverse order) within the bounds, read lazily in
   * pages (`all()` on a page is about 3x faster than `iterate()` per row, and
   * no statement stays open between pages). Do not write to the store while
   * the iterator is open: a later page may or may not see the write.
   */
  scan(options: ScanOptions = {}): IterableIterator<KvEntry> {
    const { limit } = options;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw new RangeError(`Cannot scan with limit ${limit}: not a non-negative integer`);
    }
    return this.#scan(options.start, options.end, options.reverse === true, limit || Infinity);
  }

  *#scan(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    reverse: boolean,
    limit: number,
  ): Generator<KvEntry, void, undefined> {
    this.#flush();
    let remaining = limit;
    let page = FIRST_PAGE;
    while (remaining > 0) {
      const want = Math.min(page, remaining);
      const shape = (start === undefined ? 0 : 1) | (end === undefined ? 0 : 2) | (reverse ? 4 : 0);
      const statement = this.#scans[shape] ??= returnArrays(this.#db.prepare(scanSql(shape)));
      const params: (Uint8Array | number)[] = [];
      if (start !== undefined) params.push(start);
      if (end !== undefined) params.push(end);
      params.push(want);
      this.#sqliteRead();
      const rows = statement.all(...params) as unknown as [Uint8Array, Uint8Array][];
      for (const row of rows) yield { key: row[0], value: row[1] };
      if (rows.length < want) return;
      remaining -= rows.length;
      const last = rows[rows.length - 1][0];
      // The next page starts just after (or, reversed, ends at) the last key.
      if (reverse) end = last;
      else start = keyAfter(last);
      page = Math.min(page * 4, MAX_PAGE);
    }
  }

  /**
   * Runs `fn` atomically. The outermost call is a `BEGIN IMMEDIATE`
   * transaction; nested calls are savepoints. With `{ durable: true }` the
   * outermost commit is fsynced (with all before it) before this returns; a
   * nested durable call makes the enclosing outermost commit durable. `fn`
   * must not return a promise: that is rolled back and throws a `TypeError`.
   */
  transaction<T>(fn: () => T, options?: TransactionOptions): T {
    if (this.#readBatch) throw new TypeError("Cannot start a transaction inside a read batch");
    const durable = options?.durable === true;
    if (this.#depth > 0) {
      if (durable) this.#durablePending = true;
      return this.#nested(fn);
    }
    if (durable) this.#db.exec("PRAGMA synchronous = FULL");
    try {
      this.#begin.run();
      this.#depth = 1;
      this.#durablePending = false;
      let result: T;
      try {
        result = fn();
        if (isPromiseLike(result)) throw promiseError();
        this.#flush();
        this.#commit.run();
      } catch (error) {
        this.#pending.clear();
        this.#cache.clear();
        if (this.#db.isTransaction) this.#rollback.run();
        throw error;
      } finally {
        this.#depth = 0;
      }
      if (this.#durablePending && !durable) this.#syncWal();
      return result;
    } finally {
      this.#durablePending = false;
      if (durable) this.#db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  /** See {@linkcode KvStore.readBatch}. */
  readBatch<T>(fn: () => T): T {
    if (this.#depth > 0 || this.#readBatch) return fn();
    // The read transaction begins at the batch's first read that reaches
    // SQLite (#sqliteRead): a batch answered from the cache costs nothing.
    this.#readBatch = true;
    try {
      const result = fn();
      if (isPromiseLike(result)) throw promiseError();
      return result;
    } finally {
      this.#readBatch = false;
      if (this.#db.isTransaction) this.#commit.run();
    }
  }

  #nested<T>(fn: () => T): T {
    // Whatever is pending was written before the savepoint: a rollback to it
    // then simply drops what is pending at that time.
    this.#flush();
    this.#savepoint.run();
    this.#depth++;
    let result: T;
    try {
      result = fn();
      if (isPromiseLike(result)) throw promiseError();
    } catch (error) {
      // SQLite may already have rolled back the whole transaction (I/O error).
      this.#pending.clear();
      this.#cache.clear();
      if (this.#db.isTransaction) {
        this.#rollbackTo.run();
        this.#release.run();
      }
      throw error;
    } finally {
      this.#depth--;
    }
    this.#release.run();
    return result;
  }

  /**
   * Makes every commit so far durable after a non-durable commit: a commit
   * at `synchronous=FULL` of a transaction that rewrites the (unchanged)
   * format version, so that it has a WAL frame to write and fsync.
   */
  #syncWal(): void {
    this.#db.exec("PRAGMA synchronous = FULL");
    try {
      this.#db.exec(`BEGIN IMMEDIATE; PRAGMA user_version = ${KV_FORMAT_VERSION}; COMMIT`);
    } finally {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#db.exec("PRAGMA synchronous = NORMAL");
    }
  }

  /** Whether a transaction is open. */
  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  /** See {@linkcode KvStore.forgetCached}. */
  forgetCached(): void {
    if (this.#depth > 0 || this.#readBatch) {
      throw new TypeError("Cannot forget cached reads inside a transaction");
    }
    this.#cache.clear();
    this.#presence.reset();
  }

  /** Closes the store (a no-op when closed); later calls of other methods throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#presence.close();
    this.#db.close();
  }
}

/** Checks that the file is a ddb kv store, or makes an empty file one. */
function readBatchWrite(): TypeError {
  return new TypeError("Cannot write inside a read batch");
}

function initialize(db: DatabaseSync, path: string): void {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (cause) {
    throw new KvFormatError(path, `not a readable SQLite database (${String(cause)})`, { cause });
  }
  try {
    const appId = pragmaInt(db, "application_id");
    const version = pragmaInt(db, "user_version");
    const objects = db.prepare(
      "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    ).all().map((row) => `${row.type} ${row.name}`);
    if (appId === 0 && version === 0 && objects.length === 0) {
      db.exec("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
      db.exec(`PRAGMA application_id = ${KV_APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${KV_FORMAT_VERSION}`);
    } else if (appId !== KV_APPLICATION_ID) {
      throw new KvFormatError(
        path,
        `not a ddb kv store (application_id 0x${(appId >>> 0).toString(16)}, ` +
          `${objects.length} schema objects)`,
      );
    } else if (version < 1 || version > KV_FORMAT_VERSION) {
      throw new KvFormatError(
        path,
        `format version ${version} is not supported (this server reads 1 to ${KV_FORMAT_VERSION})`,
      );
    } else if (objects.length !== 1 || objects[0] !== "table kv") {
      throw new KvFormatError(path, `unexpected schema (${objects.join(", ")})`);
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    if (error instanceof KvFormatError) throw error;
    throw new KvFormatError(path, `cannot read the schema (${String(error)})`, { cause: error });
  }
}

function pragmaInt(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get();
  return Number(row?.[name] ?? 0);
}
