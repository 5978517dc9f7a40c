/**
 * Named databases: each is one SQLite kv file plus the blob storage it is
 * tied to. Databases are opened on first use (SELECT) and kept open.
 *
 * @module
 */

import type { KvStore } from "./kv/kv_store.ts";
import type { BlobStorage } from "../storage/blob_storage.ts";
import { isValidDatabaseName } from "./config.ts";
import { GroupCommitter } from "./group_commit.ts";
import { BlobPacker } from "./packs/blob_packer.ts";
import { PackReader } from "./packs/pack_reader.ts";

/** One open database. */
export interface Database {
  /** Its name, as given to SELECT. */
  readonly name: string;
  /** Its metadata. */
  readonly kv: KvStore;
  /** Where its blobs live. */
  readonly storage: BlobStorage;
  /** Runs the pipelined commands of all connections in shared transactions. */
  readonly committer: GroupCommitter;
  /** Collects small blobs into packs (see packs/pack_format.ts). */
  readonly packer: BlobPacker;
  /** Reads blobs out of packs. */
  readonly packReader: PackReader;
  /** Blobs shorter than this go into packs; longer ones are stored on their own. */
  readonly packBelowBytes: number;
}

/**
 * Blobs below this size are packed. The chunker's smallest chunk is 512 KiB,
 * so these are whole small files and the ends of larger ones.
 */
export const PACK_BELOW_BYTES = 512 * 1024;

/** How the registry opens the parts of a database; injected so tests can choose. */
export interface DatabaseOpeners {
  /** Opens (creating if needed) the kv store of database `name`. */
  openKv(name: string): KvStore | Promise<KvStore>;
  /** Opens the blob storage of database `name`. */
  openStorage(name: string): Promise<BlobStorage>;
}

/** The database name is not acceptable. */
export class InvalidDatabaseNameError extends TypeError {
  /** Builds the error for `name`. */
  constructor(name: string) {
    super(
      `Cannot select database "${name.slice(0, 80)}": ` +
        "names are 1-64 letters, digits, '_', '-' or '.', not starting with '.'",
    );
    this.name = "InvalidDatabaseNameError";
  }
}

/** Opens databases on first use and closes them all at shutdown. */
export class DatabaseRegistry {
  readonly #openers: DatabaseOpeners;
  readonly #open = new Map<string, Promise<Database>>();
  readonly #ready = new Map<string, Database>();

  /** Builds a registry that opens databases with `openers`. */
  constructor(openers: DatabaseOpeners) {
    this.#openers = openers;
  }

  /** The database `name`, opened (and created) on first use. */
  get(name: string): Promise<Database> {
    if (!isValidDatabaseName(name)) return Promise.reject(new InvalidDatabaseNameError(name));
    let pending = this.#open.get(name);
    if (pending === undefined) {
      pending = this.#openOne(name);
      this.#open.set(name, pending);
      pending.catch(() => this.#open.delete(name));
    }
    return pending;
  }

  async #openOne(name: string): Promise<Database> {
    const storage = await this.#openers.openStorage(name);
    let kv: KvStore;
    try {
      kv = await this.#openers.openKv(name);
    } catch (error) {
      await storage.close();
      throw error;
    }
    const db: Database = {
      name,
      kv,
      storage,
      committer: new GroupCommitter(kv),
      packer: new BlobPacker(storage),
      packReader: new PackReader(storage),
      packBelowBytes: PACK_BELOW_BYTES,
    };
    this.#ready.set(name, db);
    return db;
  }

  /** The databases opened so far, by name. */
  opened(): Database[] {
    return [...this.#ready.values()].sort((a, b) => a.name < b.name ? -1 : 1);
  }

  /** Closes every open database. */
  async closeAll(): Promise<void> {
    const dbs = [...this.#ready.values()];
    this.#ready.clear();
    this.#open.clear();
    // Pack writes still running end first (their blobs are not acknowledged
    // yet, and their index records are not written: nothing is lost).
    await Promise.all(dbs.map((db) => db.packer.close()));
    for (const db of dbs) db.kv.close();
    await Promise.all(dbs.map((db) => db.storage.close()));
  }
}
