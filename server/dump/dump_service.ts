/**
 * The server side of dumps: export sessions (DBEXPORT pages a dump out),
 * import sessions (DBIMPORT streams one in) and metadata backups
 * (METABACKUP, `--meta-backup-every`), one service per server.
 *
 * Sessions are named by random tokens, not tied to a connection: a client
 * that reconnects may go on. A session idle for longer than its timeout is
 * dropped (an export holds a read snapshot, which keeps the WAL from being
 * checkpointed; an import holds a temporary file). Metadata backups of one
 * database run one at a time.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { basename, join } from "node:path";
import type { ServerState } from "../commands/command_spec.ts";
import type { Database } from "../database.ts";
import * as blobIndex from "../blob_index.ts";
import { isValidDatabaseName } from "../config.ts";
import { kvDir, kvFilePath } from "./data_dir.ts";
import { KvExport } from "./export.ts";
import {
  copyIntoEmpty,
  DatabaseNotEmptyError,
  DumpImporter,
  type ImportResult,
  isEmpty,
  removeKvFiles,
} from "./import.ts";
import { DEFAULT_KEEP, pruneMetaBackups, writeMetaBackup } from "./meta_backup.ts";
import type { Manifest } from "./manifest.ts";

/** An export session unused for this long is dropped: 60 s. */
export const EXPORT_IDLE_MS = 60_000;
/** An import session unused for this long is dropped: 10 minutes. */
export const IMPORT_IDLE_MS = 10 * 60_000;
/** Sessions of each kind open at once, at most. */
export const MAX_SESSIONS = 8;
/** Bytes of one DBEXPORT page: 1 MiB. */
export const EXPORT_PAGE_BYTES = 1024 * 1024;
const SWEEP_INTERVAL_MS = 5_000;

/** A dump request the client must fix or retry (unknown session, busy, not empty…). */
export class DumpRequestError extends Error {
  /** Builds the error with the full message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DumpRequestError";
  }
}

/** One page of an export. */
export interface ExportPage {
  /** The cursor of the next page, or `"0"` after the last one. */
  cursor: string;
  /** The page's bytes of the dump. */
  bytes: Uint8Array;
}

/** What a metadata backup did. */
export interface MetaBackupReport {
  /** The manifest's blob id. */
  manifestId: string;
  /** The manifest. */
  manifest: Manifest;
  /** Older manifests deleted. */
  prunedManifests: number;
  /** Pieces deleted with them. */
  prunedPieces: number;
  /** How long it took (ms). */
  ms: number;
}

interface ExportSession {
  readonly dump: KvExport;
  /** The chunk after the one last sent; `undefined` when that one was the last. */
  ahead: Uint8Array | undefined;
  lastUsed: number;
}

interface ImportSession {
  readonly database: string;
  readonly importer: DumpImporter;
  lastUsed: number;
  busy: boolean;
}

function token(): string {
  return randomBytes(16).toString("hex");
}

/** The dump service of one server. */
export class DumpService {
  readonly #server: ServerState;
  readonly #exports = new Map<string, ExportSession>();
  readonly #imports = new Map<string, ImportSession>();
  readonly #backups = new Map<string, Promise<unknown>>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #staleRemoved = false;

  /** Builds the service of `server`. */
  constructor(server: ServerState) {
    this.#server = server;
  }

  /** The kv file of database `name`. */
  kvPath(name: string): string {
    return kvFilePath(this.#server.config.dataDir, name);
  }

  /** Opens an existing database; refuses names that are invalid or have no kv file. */
  async #existing(name: string): Promise<Database> {
    if (!isValidDatabaseName(name)) throw new DumpRequestError(`ERR invalid database name`);
    const open = this.#server.databases.opened().find((db) => db.name === name);
    if (open !== undefined) return open;
    try {
      await Deno.lstat(this.kvPath(name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new DumpRequestError(`ERR no such database '${name}'`);
      }
      throw error;
    }
    return await this.#server.databases.get(name);
  }

  /** Starts exporting database `name`; returns the first page. */
  async startExport(name: string): Promise<ExportPage> {
    if (this.#exports.size >= MAX_SESSIONS) {
      throw new DumpRequestError(`ERR too many exports in progress (${MAX_SESSIONS})`);
    }
    await this.#existing(name);
    const dump = KvExport.open(this.kvPath(name), name, this.#server.now(), EXPORT_PAGE_BYTES);
    const first = dump.next()!;
    const session: ExportSession = { dump, ahead: dump.next(), lastUsed: 0 };
    this.#server.logger.info("db.export.start", { db: name });
    return this.#page(token(), session, first);
  }

  /** The page at `cursor` of the export of database `name` in progress. */
  continueExport(name: string, cursor: string): ExportPage {
    const session = this.#exports.get(cursor);
    if (session === undefined || session.dump.header.database !== name) {
      throw new DumpRequestError(
        `ERR no export at cursor '${cursor.slice(0, 64)}' (finished, expired or never started)`,
      );
    }
    this.#exports.delete(cursor);
    const bytes = session.ahead!;
    session.ahead = session.dump.next();
    return this.#page(token(), session, bytes);
  }

  #page(next: string, session: ExportSession, bytes: Uint8Array): ExportPage {
    if (session.ahead === undefined) {
      const summary = session.dump.summary;
      this.#server.logger.info("db.export.done", {
        db: session.dump.header.database,
        records: summary?.records,
        bytes: summary?.bytes,
      });
      return { cursor: "0", bytes };
    }
    session.lastUsed = this.#server.now();
    this.#exports.set(next, session);
    this.#sweep();
    return { cursor: next, bytes };
  }

  /**
   * Starts importing into database `name`, which must be empty; returns the
   * session's token.
   */
  async beginImport(name: string): Promise<string> {
    if (!isValidDatabaseName(name)) throw new DumpRequestError(`ERR invalid database name`);
    if (this.#imports.size >= MAX_SESSIONS) {
      throw new DumpRequestError(`ERR too many imports in progress (${MAX_SESSIONS})`);
    }
    for (const session of this.#imports.values()) {
      if (session.database === name) {
        throw new DumpRequestError(`ERR an import into '${name}' is in progress`);
      }
    }
    const db = await this.#server.databases.get(name);
    if (!isEmpty(db.kv)) {
      throw new DumpRequestError(
        `ERR database '${name}' is not empty (import only into an empty database)`,
      );
    }
    await this.#removeStaleImports();
    const id = token();
    const importer = DumpImporter.create(
      join(kvDir(this.#server.config.dataDir), `.${name}.import-${id}.sqlite`),
    );
    this.#imports.set(id, { database: name, importer, lastUsed: this.#server.now(), busy: false });
    this.#sweep();
    this.#server.logger.info("db.import.start", { db: name });
    return id;
  }

  #import(id: string): ImportSession {
    const session = this.#imports.get(id);
    if (session === undefined || session.busy) {
      throw new DumpRequestError(
        `ERR no import session '${id.slice(0, 64)}' (finished, failed, expired or never begun)`,
      );
    }
    session.lastUsed = this.#server.now();
    return session;
  }

  /** Adds the next bytes of the dump to import session `id`; a bad dump ends the session. */
  putImport(id: string, bytes: Uint8Array): void {
    const session = this.#import(id);
    try {
      session.importer.push(bytes);
    } catch (error) {
      this.#imports.delete(id);
      this.#server.logger.warn("db.import.failed", {
        db: session.database,
        error: (error as Error).message,
      });
      throw error;
    }
  }

  /**
   * Verifies the dump of import session `id` and copies it into its
   * database in one transaction (nothing is written when the dump is bad or
   * the database is no longer empty). Ends the session.
   */
  async commitImport(id: string): Promise<ImportResult> {
    const session = this.#import(id);
    session.busy = true;
    const { importer, database } = session;
    try {
      const result = importer.finish();
      const db = await this.#server.databases.get(database);
      const started = performance.now();
      copyIntoEmpty(importer.path, this.kvPath(database), db.kv, database);
      this.#server.logger.info("db.import.done", {
        db: database,
        from: result.header.database,
        records: result.summary.records,
        bytes: result.summary.bytes,
        copy_ms: Math.round(performance.now() - started),
      });
      return result;
    } catch (error) {
      this.#server.logger.warn("db.import.failed", {
        db: database,
        error: (error as Error).message,
      });
      if (error instanceof DatabaseNotEmptyError) {
        throw new DumpRequestError(`ERR ${error.message}`, { cause: error });
      }
      throw error;
    } finally {
      this.#imports.delete(id);
      importer.abort();
    }
  }

  /** Drops import session `id` and its file. */
  abortImport(id: string): void {
    const session = this.#import(id);
    this.#imports.delete(id);
    session.importer.abort();
  }

  /** Removes leftovers of imports of an earlier run (the data directory is locked: none is live). */
  async #removeStaleImports(): Promise<void> {
    if (this.#staleRemoved) return;
    this.#staleRemoved = true;
    const dir = kvDir(this.#server.config.dataDir);
    const live = new Set([...this.#imports.values()].map((s) => basename(s.importer.path)));
    try {
      for await (const entry of Deno.readDir(dir)) {
        const match = /^(\..+\.import-[0-9a-f]{32}\.sqlite)(-wal|-shm|-journal)?$/.exec(entry.name);
        if (match && !live.has(match[1])) removeKvFiles(join(dir, match[1]));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /**
   * Writes a metadata backup of database `name` into its storage and keeps
   * its newest `keep` backups; logs the outcome. Backups of one database run
   * one after the other.
   */
  metaBackup(name: string, keep: number = DEFAULT_KEEP): Promise<MetaBackupReport> {
    const previous = this.#backups.get(name) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.#metaBackup(name, keep));
    const settled = run.catch(() => {});
    this.#backups.set(name, settled);
    settled.then(() => {
      if (this.#backups.get(name) === settled) this.#backups.delete(name);
    });
    return run;
  }

  async #metaBackup(name: string, keep: number): Promise<MetaBackupReport> {
    const started = performance.now();
    const logger = this.#server.logger;
    try {
      const db = await this.#existing(name);
      const { id, manifest } = await writeMetaBackup({
        kvPath: this.kvPath(name),
        database: name,
        storage: db.storage,
        now: () => this.#server.now(),
      });
      const pruned = await pruneMetaBackups(
        db.storage,
        name,
        keep,
        (blob) => blobIndex.has(db.kv, blob),
      );
      const report: MetaBackupReport = {
        manifestId: id,
        manifest,
        prunedManifests: pruned.manifests.length,
        prunedPieces: pruned.pieces,
        ms: Math.round(performance.now() - started),
      };
      logger.info("meta_backup.done", {
        db: name,
        manifest: id,
        records: manifest.records,
        bytes: manifest.bytes,
        pieces: manifest.pieces.length,
        pruned: report.prunedManifests,
        ms: report.ms,
      });
      return report;
    } catch (error) {
      logger.error("meta_backup.failed", { db: name, error: (error as Error).message });
      throw error;
    }
  }

  /** Drops idle sessions; runs while there are sessions. */
  #sweep(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      const now = this.#server.now();
      for (const [cursor, session] of this.#exports) {
        if (now - session.lastUsed > EXPORT_IDLE_MS) {
          this.#exports.delete(cursor);
          session.dump.close();
          this.#server.logger.warn("db.export.expired", { db: session.dump.header.database });
        }
      }
      for (const [id, session] of this.#imports) {
        if (!session.busy && now - session.lastUsed > IMPORT_IDLE_MS) {
          this.#imports.delete(id);
          session.importer.abort();
          this.#server.logger.warn("db.import.expired", { db: session.database });
        }
      }
      if (this.#exports.size === 0 && this.#imports.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, SWEEP_INTERVAL_MS);
    Deno.unrefTimer(this.#sweeper);
  }

  /** Ends every session (their snapshots and files go). */
  close(): void {
    for (const session of this.#exports.values()) session.dump.close();
    for (const session of this.#imports.values()) if (!session.busy) session.importer.abort();
    this.#exports.clear();
    this.#imports.clear();
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

const services = new WeakMap<ServerState, DumpService>();

/** The dump service of `server`, created on first use. */
export function dumpServiceOf(server: ServerState): DumpService {
  let service = services.get(server);
  if (service === undefined) {
    service = new DumpService(server);
    services.set(server, service);
  }
  return service;
}
