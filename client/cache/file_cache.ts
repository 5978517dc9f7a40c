/**
 * The local cache that makes backups incremental, like restic's
 * parent-snapshot check: for each file backed up it remembers the file's
 * stat (size, mtime, ctime, inode, device) and the content it was stored as
 * (`c:<K>`, chunk count, `m:<M>`). A later backup whose stat of the file is
 * unchanged reuses the content without reading the file.
 *
 * One SQLite file (`node:sqlite`) per backup target (see
 * {@linkcode cachePathFor}); the table is queried row by row, never loaded
 * whole, and writes are buffered and applied in batches inside transactions.
 *
 * Generations. The cache is only as good as the last snapshot it was
 * committed for: the content it names is known to be stored on the server
 * only once that snapshot exists. So every run of a {@linkcode FileCache}
 * gets a fresh generation number R (from a counter, never reused), and each
 * row carries `gen` (the generation that wrote its data) and `seen` (the
 * last generation that recorded it or hit it). A lookup trusts a row only if
 * `gen <= C`, C being the generation of the last commit; rows written by a
 * run that was never committed have `gen > C` and stay invisible.
 * {@linkcode FileCache.commit} deletes every row with `seen != R` (files
 * gone, excluded, or written by abandoned runs) and makes R the committed
 * generation, in one transaction; a lookup hit only sets `seen`, so an
 * uncommitted run never hides entries of the committed one.
 *
 * One process at a time: the file is opened with SQLite's exclusive locking
 * mode, so a second {@linkcode FileCache.open} of the same file fails with
 * {@linkcode FileCacheError} until the first is closed (back up without a
 * cache then).
 *
 * Crash safety: WAL journal with `synchronous=NORMAL`; a crash or power loss
 * may lose the last commits, never reorder them, so the cache is at worst
 * older (more misses), never wrong.
 *
 * Damage: a file that is not a cache of this format is moved aside by
 * {@linkcode FileCache.open} (the file is not fully checked there: that
 * would read all of it). Damage found later, by a query, moves the file
 * aside too, with a warning, and turns the cache off for the rest of the
 * session: lookups miss, records and commits do nothing. Other SQLite
 * errors (disk full, I/O) throw {@linkcode FileCacheError}.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";

/** `PRAGMA application_id` of a ddb file cache: "ddbc" in ASCII. */
export const FILE_CACHE_APPLICATION_ID = 0x64646263;
/** `PRAGMA user_version` of the format this code writes and reads. */
export const FILE_CACHE_FORMAT_VERSION = 1;
/** Buffered writes (records and hits) applied per transaction. */
export const FILE_CACHE_BATCH = 4096;

/** The stat fields compared by a lookup; all must match for a hit. */
export interface FileStat {
  /** Size in bytes. */
  size: number;
  /** Modification time, ns since the epoch. */
  mtimeNs: bigint;
  /** Status change time, ns since the epoch. */
  ctimeNs: bigint;
  /** Inode number. */
  ino: number;
  /** Device id. */
  dev: number;
}

/** What a file was stored as. */
export interface CachedFile {
  /**
   * The file's content ref: `c:<K>` (its content list) or `b:<id>` (its one
   * chunk); for a directory, its set `d:<D>`.
   */
  contentKey: string;
  /** Number of chunks in it. */
  chunks: number;
  /** Content size in bytes. */
  size: number;
  /** `m:<M>` of the file's meta, when the caller keeps it. */
  metaKey?: string;
}

/** Options of {@linkcode FileCache.open}. */
export interface FileCacheOptions {
  /**
   * Receives warnings (a corrupt or foreign file moved aside). Default:
   * `console.warn`.
   */
  onWarning?: (message: string) => void;
}

/** The cache cannot be opened or used. */
export class FileCacheError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FileCacheError";
  }
}

/** A file that is not a usable cache (moved aside by {@linkcode FileCache.open}). */
class UnusableCache extends Error {
  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = "UnusableCache";
  }
}

const SQLITE_ERROR = 1;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The primary SQLite result code of `error`, if it is a SQLite error. */
function sqliteCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" ? code & 0xff : undefined;
}

const SCHEMA = `
CREATE TABLE state (
  name TEXT PRIMARY KEY,
  value ANY
) STRICT, WITHOUT ROWID;
CREATE TABLE files (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  dev INTEGER NOT NULL,
  content_key TEXT NOT NULL,
  chunks INTEGER NOT NULL,
  content_size INTEGER NOT NULL,
  meta_key TEXT,
  gen INTEGER NOT NULL,
  seen INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO state (name, value) VALUES ('committed_gen', 0), ('next_gen', 1);
`;

const LOOKUP_SQL = `SELECT content_key, chunks, content_size, meta_key FROM files
  WHERE path = ? AND size = ? AND mtime_ns = ? AND ctime_ns = ? AND ino = ? AND dev = ?
  AND gen <= ?`;

// Identical data keeps its generation: it was stored by an earlier run and
// is stored again by this one, so it is valid once either commits.
const RECORD_SQL = `INSERT INTO files (path, size, mtime_ns, ctime_ns, ino, dev, content_key,
    chunks, content_size, meta_key, gen, seen)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (path) DO UPDATE SET
    gen = CASE WHEN size = excluded.size AND mtime_ns = excluded.mtime_ns
        AND ctime_ns = excluded.ctime_ns AND ino = excluded.ino AND dev = excluded.dev
        AND content_key = excluded.content_key AND chunks = excluded.chunks
        AND content_size = excluded.content_size AND meta_key IS excluded.meta_key
      THEN gen ELSE excluded.gen END,
    size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
    ino = excluded.ino, dev = excluded.dev, content_key = excluded.content_key,
    chunks = excluded.chunks, content_size = excluded.content_size,
    meta_key = excluded.meta_key, seen = excluded.seen`;

/** `StatementSync.setReturnArrays`, which the bundled `node:sqlite` types lack. */
interface ReturnArrays {
  setReturnArrays(enabled: boolean): void;
}

/** A buffered write: a hit (`entry` undefined) or a record. */
interface PendingWrite {
  path: string;
  stat?: FileStat;
  entry?: CachedFile;
}

function checkStat(path: string, stat: FileStat): void {
  const ok = Number.isSafeInteger(stat.size) && stat.size >= 0 &&
    typeof stat.mtimeNs === "bigint" && typeof stat.ctimeNs === "bigint" &&
    Number.isInteger(stat.ino) && Number.isInteger(stat.dev);
  if (!ok) throw new TypeError(`Cannot use stat of "${path}": a field is not an integer`);
}

function checkEntry(path: string, entry: CachedFile): void {
  const key = entry.contentKey;
  if (!key.startsWith("c:") && !key.startsWith("d:") && !/^b:[0-9a-f]{64}$/.test(key)) {
    throw new TypeError(
      `Cannot record "${path}": content key "${key}" is not c:<K>, b:<id> nor d:<D>`,
    );
  }
  if (entry.metaKey !== undefined && !entry.metaKey.startsWith("m:")) {
    throw new TypeError(`Cannot record "${path}": meta key "${entry.metaKey}" is not m:<M>`);
  }
  if (!Number.isSafeInteger(entry.chunks) || entry.chunks < 0) {
    throw new TypeError(`Cannot record "${path}": chunk count ${entry.chunks} is not valid`);
  }
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
    throw new TypeError(`Cannot record "${path}": size ${entry.size} is not valid`);
  }
}

/** Creates the directories above `path` (mode 0700) and an empty file (mode 0600) if missing. */
function prepareFile(path: string): void {
  const slash = path.lastIndexOf("/");
  if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true, mode: 0o700 });
  try {
    Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Renames the (closed) cache file to `<path>.corrupt` and removes its journals. */
function moveAside(path: string): void {
  Deno.renameSync(path, `${path}.corrupt`);
  removeIfPresent(`${path}-wal`);
  removeIfPresent(`${path}-shm`);
  removeIfPresent(`${path}-journal`);
}

/** The local incremental-backup cache of one backup target. */
export class FileCache {
  /** The cache file. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #lookup: StatementSync;
  readonly #record: StatementSync;
  readonly #touch: StatementSync;
  readonly #setState: StatementSync;
  readonly #pending: PendingWrite[] = [];
  /** Generation of the last commit: rows with `gen <= #committed` are trusted. */
  #committed: number;
  /** This run's generation. */
  #gen: number;
  #snapshotKey: string | undefined;
  readonly #warn: (message: string) => void;
  #closed = false;
  /** Damage was found: the file was moved aside and the cache is off. */
  #broken = false;

  private constructor(path: string, db: DatabaseSync, warn: (message: string) => void) {
    this.path = path;
    this.#db = db;
    this.#warn = warn;
    this.#lookup = db.prepare(LOOKUP_SQL);
    (this.#lookup as unknown as ReturnArrays).setReturnArrays(true);
    this.#record = db.prepare(RECORD_SQL);
    this.#touch = db.prepare("UPDATE files SET seen = ? WHERE path = ?");
    this.#setState = db.prepare("INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)");
    const state = new Map<string, unknown>();
    for (const row of db.prepare("SELECT name, value FROM state").all()) {
      state.set(String(row.name), row.value);
    }
    const committed = state.get("committed_gen");
    const next = state.get("next_gen");
    const key = state.get("snapshot_key");
    if (typeof committed !== "number" || typeof next !== "number" || next <= committed) {
      throw new UnusableCache("its generation counters are missing or inconsistent");
    }
    this.#committed = committed;
    this.#snapshotKey = typeof key === "string" ? key : undefined;
    this.#gen = next;
    // Claim the generation now, so no later run ever reuses it.
    this.#transaction(() => this.#setState.run("next_gen", next + 1));
  }

  /**
   * Opens the cache file at `path`, creating it and its directories if
   * needed. A file that is not a cache of this format (not SQLite, another
   * application, another version, damaged) is moved aside to
   * `<path>.corrupt` (replacing an older one) and a new cache is created,
   * with a warning. Throws {@linkcode FileCacheError} if the file is in use
   * by another process or cannot be created.
   */
  static open(path: string, options: FileCacheOptions = {}): FileCache {
    const warn = options.onWarning ?? ((message: string) => console.warn(message));
    try {
      prepareFile(path);
    } catch (cause) {
      throw new FileCacheError(`Cannot open file cache "${path}": ${describe(cause)}`, { cause });
    }
    try {
      return FileCache.#tryOpen(path, warn);
    } catch (error) {
      if (!(error instanceof UnusableCache)) throw error;
      try {
        moveAside(path);
        prepareFile(path);
      } catch (cause) {
        throw new FileCacheError(
          `Cannot recreate file cache "${path}" (${error.message}): ${describe(cause)}`,
          { cause },
        );
      }
      warn(
        `Warning: file cache "${path}" is unusable (${error.message}); ` +
          `moved it to "${path}.corrupt" and started a new one`,
      );
      try {
        return FileCache.#tryOpen(path, warn);
      } catch (again) {
        if (!(again instanceof UnusableCache)) throw again;
        throw new FileCacheError(`Cannot create file cache "${path}": ${again.message}`, {
          cause: again,
        });
      }
    }
  }

  /** Opens `path`; throws {@linkcode UnusableCache} when the file should be replaced. */
  static #tryOpen(path: string, warn: (message: string) => void): FileCache {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (cause) {
      throw new FileCacheError(`Cannot open file cache "${path}": ${describe(cause)}`, { cause });
    }
    try {
      db.exec("PRAGMA busy_timeout = 200");
      // Held from the first write to close(): one process per cache.
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      initialize(db);
      db.exec("PRAGMA synchronous = NORMAL");
      return new FileCache(path, db, warn);
    } catch (error) {
      db.close();
      const code = sqliteCode(error);
      if (code === SQLITE_BUSY || code === SQLITE_LOCKED) {
        throw new FileCacheError(
          `Cannot open file cache "${path}": it is in use by another process`,
          { cause: error },
        );
      }
      // Generic errors while reading the schema mean a schema of another
      // shape (e.g. "no such column").
      if (code === SQLITE_CORRUPT || code === SQLITE_NOTADB || code === SQLITE_ERROR) {
        throw new UnusableCache(describe(error), { cause: error });
      }
      if (error instanceof UnusableCache) throw error;
      throw new FileCacheError(`Cannot open file cache "${path}": ${describe(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * The snapshot (`s:<S>`) the cache was last committed for, if any. The
   * caller checks that it still exists on the server and calls
   * {@linkcode FileCache.reset} if not: content named only by a forgotten
   * snapshot may have been pruned.
   */
  get snapshotKey(): string | undefined {
    return this.#snapshotKey;
  }

  /** True when no lookup can hit: nothing committed yet (or since a reset), or the cache broke. */
  get empty(): boolean {
    return this.#broken || this.#snapshotKey === undefined;
  }

  /**
   * What `path` was stored as, if the cache has it with exactly this stat
   * (size, mtimeNs, ctimeNs, ino and dev) from a committed run. A hit keeps
   * the entry for the next generation (no need to record it again).
   */
  lookup(path: string, stat: FileStat): CachedFile | undefined {
    this.#open();
    checkStat(path, stat);
    // Rows are trusted only once a commit named its snapshot: with no
    // snapshot key (a first run, or after a reset) nothing can match, and a
    // first backup of 50,000 files need not ask SQLite 50,000 times.
    if (this.empty) return undefined;
    const row = this.#guard("read", () =>
      this.#lookup.get(
        path,
        stat.size,
        stat.mtimeNs,
        stat.ctimeNs,
        stat.ino,
        stat.dev,
        this.#committed,
      )) as unknown as [string, number, number, string | null] | undefined;
    if (row === undefined) return undefined;
    this.#buffer({ path });
    const entry: CachedFile = { contentKey: row[0], chunks: row[1], size: row[2] };
    if (row[3] !== null) entry.metaKey = row[3];
    return entry;
  }

  /**
   * Remembers that `path`, with `stat`, was stored as `entry`. Buffered;
   * visible to lookups only after a {@linkcode FileCache.commit} (of this
   * or a later run).
   */
  record(path: string, stat: FileStat, entry: CachedFile): void {
    this.#open();
    checkStat(path, stat);
    checkEntry(path, entry);
    this.#buffer({ path, stat, entry });
  }

  /**
   * Makes this run's entries (recorded or hit since the open or the last
   * commit) the cache's content, for snapshot `snapshotKey`; every other
   * entry is dropped. Call it only once the snapshot is stored on the
   * server. A new run starts: later records belong to the next commit.
   */
  commit(snapshotKey: string): void {
    this.#open();
    if (this.#broken) return;
    const gen = this.#gen;
    this.#guard("commit", () =>
      this.#transaction(() => {
        this.#flushPending();
        this.#db.prepare("DELETE FROM files WHERE seen != ?").run(gen);
        this.#setState.run("committed_gen", gen);
        this.#setState.run("snapshot_key", snapshotKey);
        this.#setState.run("next_gen", gen + 2);
      }));
    if (this.#broken) return;
    this.#committed = gen;
    this.#gen = gen + 1;
    this.#snapshotKey = snapshotKey;
  }

  /** Empties the cache (and drops this run's buffered writes); no snapshot key. */
  reset(): void {
    this.#open();
    this.#pending.length = 0;
    this.#snapshotKey = undefined;
    if (this.#broken) return;
    this.#guard("reset", () =>
      this.#transaction(() => {
        this.#db.exec("DELETE FROM files");
        this.#db.prepare("DELETE FROM state WHERE name = 'snapshot_key'").run();
      }));
  }

  /**
   * Closes the file. Writes not committed are dropped (they would not be
   * trusted anyway). Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.length = 0;
    if (!this.#broken) this.#db.close();
  }

  #open(): void {
    if (this.#closed) {
      throw new FileCacheError(`Cannot use file cache "${this.path}": it is closed`);
    }
  }

  #buffer(write: PendingWrite): void {
    if (this.#broken) return;
    this.#pending.push(write);
    if (this.#pending.length >= FILE_CACHE_BATCH) {
      this.#guard("write", () => this.#transaction(() => this.#flushPending()));
    }
  }

  /**
   * Runs `fn`. Damage (SQLite "corrupt" or "not a database") moves the file
   * aside with a warning and turns the cache off (`undefined` is returned);
   * other SQLite errors become {@linkcode FileCacheError}.
   */
  #guard<T>(what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      const code = sqliteCode(error);
      if (code === undefined) throw error;
      if (code !== SQLITE_CORRUPT && code !== SQLITE_NOTADB) {
        throw new FileCacheError(
          `Cannot ${what} file cache "${this.path}": ${describe(error)}`,
          { cause: error },
        );
      }
      this.#broken = true;
      this.#pending.length = 0;
      this.#snapshotKey = undefined;
      let outcome = `moved it to "${this.path}.corrupt"`;
      try {
        this.#db.close();
        moveAside(this.path);
      } catch (cause) {
        outcome = `could not move it aside (${describe(cause)})`;
      }
      this.#warn(
        `Warning: file cache "${this.path}" is damaged (${describe(error)}); ${outcome}; ` +
          "continuing without a cache",
      );
      return undefined;
    }
  }

  #flushPending(): void {
    const gen = this.#gen;
    for (const { path, stat, entry } of this.#pending) {
      if (stat === undefined || entry === undefined) {
        this.#touch.run(gen, path);
      } else {
        this.#record.run(
          path,
          stat.size,
          stat.mtimeNs,
          stat.ctimeNs,
          stat.ino,
          stat.dev,
          entry.contentKey,
          entry.chunks,
          entry.size,
          entry.metaKey ?? null,
          gen,
          gen,
        );
      }
    }
    this.#pending.length = 0;
  }

  #transaction(fn: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      fn();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * Checks the file's format, creating the schema in an empty file; throws
 * {@linkcode UnusableCache} for another application's file or format.
 */
function initialize(db: DatabaseSync): void {
  const applicationId = Number(db.prepare("PRAGMA application_id").get()?.application_id);
  const version = Number(db.prepare("PRAGMA user_version").get()?.user_version);
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all()
    .map((row) => String(row.name)).sort();
  if (applicationId === 0 && version === 0 && tables.length === 0) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(SCHEMA);
      db.exec(`PRAGMA application_id = ${FILE_CACHE_APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${FILE_CACHE_FORMAT_VERSION}`);
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  } else if (applicationId !== FILE_CACHE_APPLICATION_ID) {
    throw new UnusableCache(`application_id is ${applicationId}, not a ddb file cache`);
  } else if (version !== FILE_CACHE_FORMAT_VERSION) {
    throw new UnusableCache(`format version ${version}, expected ${FILE_CACHE_FORMAT_VERSION}`);
  } else if (tables.join(",") !== "files,state") {
    throw new UnusableCache(`unexpected tables ${tables.join(", ")}`);
  }
  const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
  if (mode !== "wal") throw new Error(`cannot switch to WAL mode (journal_mode is ${mode})`);
}
