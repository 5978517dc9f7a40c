/**
 * Internal, for tests: a database to collect — a real kv store and local
 * storage in a temp dir — with writers of schema records.
 *
 * @module
 */

import { join } from "node:path";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { LocalStorage } from "../../storage/local/local_storage.ts";
import type { BlobStorage } from "../../storage/blob_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import { BlobPacker } from "../packs/blob_packer.ts";
import { PackReader } from "../packs/pack_reader.ts";
import * as blobIndex from "../blob_index.ts";
import { hashes, keyspace, lists, sets } from "../types/mod.ts";
import { Logger } from "../log/logger.ts";
import { collectGarbage, type GcOptions, type GcSummary } from "./gc.ts";

const encoder = new TextEncoder();
/** An hour in ms. */
export const HOUR = 3_600_000;
/** The tests' clock. */
export const NOW = 1_700_000_000_000;

/** A real kv store and local storage in a temp dir, and writers of schema records. */
export class Repo {
  /** The log lines written. */
  readonly lines: string[] = [];
  /** The logger the collection writes to. */
  readonly logger = new Logger({ level: "debug", write: (line) => this.lines.push(line) });
  /** Packs blobs into the local storage. */
  readonly packer: BlobPacker;
  /** Reads packed blobs, as BGET does, through {@linkcode Repo.storage}. */
  readonly packReader: PackReader;

  private constructor(
    /** The temp dir. */
    readonly path: string,
    /** The kv store. */
    readonly kv: SqliteKvStore,
    /** The local storage itself. */
    readonly local: LocalStorage,
    /** The storage the collection uses: the local one, or a wrapper of it. */
    readonly storage: BlobStorage,
  ) {
    this.packer = new BlobPacker(local);
    this.packReader = new PackReader(storage);
  }

  /** Opens a new repo; `wrap` puts a wrapper between the collection and the local storage. */
  static async open(wrap?: (local: LocalStorage) => BlobStorage): Promise<Repo> {
    const dir = await Deno.makeTempDir({ prefix: "ddb_gc_test_" });
    const kv = SqliteKvStore.open(join(dir, "kv.sqlite"));
    const local = await LocalStorage.open(join(dir, "blobs"));
    return new Repo(dir, kv, local, wrap?.(local) ?? local);
  }

  /** Closes and removes everything. */
  async close(): Promise<void> {
    await this.packer.close();
    this.kv.close();
    await this.local.close();
    await Deno.remove(this.path, { recursive: true });
  }

  /** The storage directory. */
  get blobsDir(): string {
    return join(this.path, "blobs");
  }

  /** The kv file. */
  get kvPath(): string {
    return join(this.path, "kv.sqlite");
  }

  /** Every object id in the storage, sorted. */
  async objects(): Promise<string[]> {
    const ids: string[] = [];
    for await (const { id } of this.local.list()) ids.push(id);
    return ids.sort();
  }

  /** The bytes of every object in the storage. */
  async storedBytes(): Promise<number> {
    let total = 0;
    for await (const { size } of this.local.list()) total += size;
    return total;
  }

  /** The database name, for logs. */
  get name(): string {
    return "test";
  }

  /** Stores `data` on its own, recorded as added at `addedAt`. */
  async standalone(data: Uint8Array, addedAt = NOW - 2 * HOUR): Promise<string> {
    const id = blobIdOf(data);
    await this.local.put(id, data);
    this.kv.transaction(() => blobIndex.add(this.kv, id, data.length, addedAt));
    return id;
  }

  /** Stores blobs in one pack; resolves with their ids and the pack's. */
  async packed(
    blobs: Uint8Array[],
    addedAt = NOW - 2 * HOUR,
  ): Promise<{ ids: string[]; pack: string }> {
    const ids = blobs.map(blobIdOf);
    const locations = await Promise.all(blobs.map((b, i) => this.packer.add(ids[i], b)));
    this.kv.transaction(() => {
      locations.forEach((l, i) => blobIndex.add(this.kv, ids[i], l.length, addedAt, l));
    });
    return { ids, pack: locations[0].pack };
  }

  /** A file node referencing `chunks` (blob ids). */
  file(name: string, chunks: string[]): string {
    const content = `c:${blobIdOf(encoder.encode(chunks.join(",")))}`;
    chunks.forEach((id, i) => lists.ladd(this.kv, k(content), BigInt(i + 1), k(id)));
    return this.meta(name, "file", content);
  }

  /** A one-chunk file node (schema version 3): its ref is `b:<id>`, no content list. */
  oneChunkFile(name: string, id: string): string {
    return this.meta(name, "file", `b:${id}`);
  }

  /** A directory node over `members` (meta keys); `dirName` overrides the d: key. */
  dir(name: string, members: string[], dirName?: string): string {
    const dir = dirName ?? `d:${blobIdOf(encoder.encode(members.join(",")))}`;
    if (members.length > 0) sets.sadd(this.kv, k(dir), members.map(k));
    return this.meta(name, "dir", dir);
  }

  /** A meta node of `type` whose ref is `ref`. */
  meta(name: string, type: string, ref?: string): string {
    const key = `m:${blobIdOf(encoder.encode(`${name}/${type}/${ref}`))}`;
    const fields: [Uint8Array, Uint8Array][] = [[k("name"), k(name)], [k("type"), k(type)]];
    if (ref !== undefined) fields.push([k("ref"), k(ref)]);
    hashes.hset(this.kv, k(key), fields);
    return key;
  }

  /** A snapshot of `root`, listed in ddb:snapshots unless `listed` is false. */
  snapshot(root: string, label: string, listed = true): string {
    const key = `s:${blobIdOf(encoder.encode(label))}`;
    hashes.hset(this.kv, k(key), [[k("ref"), k(root)], [k("path"), k(`/${label}`)]]);
    if (listed) sets.sadd(this.kv, k("ddb:snapshots"), [k(key)]);
    return key;
  }

  /** The bytes of the packed blob `id`. */
  readPacked(id: string): Promise<Uint8Array> {
    const location = blobIndex.locate(this.kv, id);
    if (location === undefined || location === "standalone") throw new Error(`${id} is not packed`);
    return this.packReader.read(id, location);
  }

  /** Drops `snapshot` from ddb:snapshots. */
  forget(snapshot: string): void {
    sets.srem(this.kv, k("ddb:snapshots"), [k(snapshot)]);
  }

  /** Whether key `key` exists. */
  has(key: string): boolean {
    return keyspace.exists(this.kv, k(key));
  }

  /** Collects garbage (at {@linkcode NOW} unless told otherwise). */
  gc(options: Partial<GcOptions> = {}): Promise<GcSummary> {
    return collectGarbage(this, { now: () => NOW, ...options, logger: this.logger });
  }
}

/** `text` as bytes. */
export function k(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A blob of `size` bytes starting with `label`. */
export function blob(label: string, size = 100): Uint8Array {
  const out = new Uint8Array(size);
  out.set(encoder.encode(label).subarray(0, size));
  return out;
}

/** Runs `fn` with a new repo (see {@linkcode Repo.open} for `wrap`), then removes it. */
export async function withRepo(
  fn: (repo: Repo) => Promise<void>,
  wrap?: (local: LocalStorage) => BlobStorage,
): Promise<void> {
  const repo = await Repo.open(wrap);
  try {
    await fn(repo);
  } finally {
    await repo.close();
  }
}
