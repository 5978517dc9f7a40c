/**
 * The backup repository as seen by the client: typed operations of the
 * metadata schema (client/snapshot/schema.ts) and of blobs, over RESP
 * connections to `ddb serve`. One connection carries metadata (pipelined);
 * a few more carry blob uploads and downloads, so the server can store
 * several blobs at once, and files' content lists. Downloads whose size is
 * known go in two lanes: small blobs on the first half of these
 * connections, large ones on the rest.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  asArray,
  asBytesOrNull,
  asInteger,
  asText,
  type ConnectOptions,
  RespClient,
  ServerReplyError,
} from "../remote/resp_client.ts";
import type { RespValue } from "../remote/reply_decoder.ts";
import {
  blobIdOfRef,
  type ChunkRef,
  groupKey,
  GROUPS_KEY,
  type NodeMeta,
  parseMeta,
  parseSnapshot,
  SCHEMA_KEY,
  SCHEMA_VERSION,
  SchemaError,
  type Snapshot,
  snapshotFields,
  snapshotKeyOf,
  SNAPSHOTS_KEY,
} from "../snapshot/schema.ts";

/**
 * Blobs smaller than this (as told to {@linkcode Repository.getBlob}; the
 * size below which the server packs blobs) are downloaded on connections of
 * their own, apart from larger ones.
 */
export const SMALL_BLOB_BYTES = 512 * 1024;

/** Metas asked for in one `HMULTIGETALL` by {@linkcode Repository.readMetas}. */
export const META_BATCH = 256;

/** A chunk of a file with the offset where it ends. */
export interface PlacedChunk extends ChunkRef {
  /** Offset just past the chunk's last byte. */
  end: number;
}

/** A snapshot with its key. */
export interface SnapshotEntry extends Snapshot {
  /** `s:<S>`. */
  key: string;
}

/** One entry of a group list. */
export interface GroupEntry {
  /** Its index: the snapshot's time, µs since the epoch. */
  timeUs: bigint;
  /** Its value: the snapshot key `s:<S>`. */
  key: string;
}

/** The server returned a blob whose bytes do not match the hash asked for, or stored a different hash. */
export class IntegrityError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IntegrityError";
  }
}

function fieldsOf(reply: RespValue): Map<string, Uint8Array> {
  const flat = asArray(reply);
  const fields = new Map<string, Uint8Array>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1];
    if (!(value instanceof Uint8Array)) throw new TypeError("hash value is not a bulk string");
    fields.set(asText(flat[i]), value);
  }
  return fields;
}

function flatten(fields: ReadonlyMap<string, Uint8Array>): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  for (const [name, value] of fields) out.push(name, value);
  return out;
}

/** Connections to one database of one server. */
export class Repository {
  readonly #meta: RespClient;
  readonly #blobs: RespClient[];
  #next = 0;
  /** Whether the server knows `BGET … NOVERIFY` (until it refuses it). */
  #serverTakesNoVerify = true;

  private constructor(meta: RespClient, blobs: RespClient[]) {
    this.#meta = meta;
    this.#blobs = blobs;
  }

  /** Opens `blobConnections` + 1 connections to the server. */
  static async open(options: ConnectOptions, blobConnections = 4): Promise<Repository> {
    const meta = await RespClient.connect(options);
    const blobs: RespClient[] = [];
    try {
      for (let i = 0; i < blobConnections; i++) blobs.push(await RespClient.connect(options));
    } catch (error) {
      meta.close();
      for (const b of blobs) b.close();
      throw error;
    }
    return new Repository(meta, blobs);
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await Promise.all([this.#meta, ...this.#blobs].map((c) => c.closed()));
  }

  #blobConnection(size?: number): RespClient {
    // The least busy connection, so one slow upload does not hold up others.
    // A download whose size is known goes to its lane: small blobs to the
    // first half of the connections, large ones to the rest, so a small
    // blob never waits behind megabytes of large ones on the server.
    const all = this.#blobs;
    let from = 0;
    let to = all.length;
    if (size !== undefined && all.length >= 2) {
      const split = all.length >> 1;
      if (size < SMALL_BLOB_BYTES) to = split;
      else from = split;
    }
    let best = all[from + this.#next++ % (to - from)];
    for (let i = from; i < to; i++) if (all[i].inFlight < best.inFlight) best = all[i];
    return best;
  }

  // ---- blobs

  /** For each id, whether the server has the blob (one BMULTIEXISTS). */
  async hasBlobs(ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const reply = asArray(await this.#meta.call("BMULTIEXISTS", ...ids));
    return reply.map((v) => asInteger(v) === 1);
  }

  /** Uploads a blob whose id the caller computed; checks the server agrees. */
  async putBlob(id: string, data: Uint8Array): Promise<void> {
    const stored = asText(await this.#blobConnection().call("BPUT", data));
    if (stored !== id) {
      throw new IntegrityError(`Cannot upload blob ${id}: the server stored it as ${stored}`);
    }
  }

  /**
   * Downloads a blob and verifies its hash; throws when the server does not
   * have it. `size`, when the caller knows it, picks the connection (see
   * {@linkcode SMALL_BLOB_BYTES}); it is not checked here.
   *
   * The server sends the bytes as stored (`BGET … NOVERIFY`): the hash
   * computed here is the check, once instead of on both ends. With
   * `verifyOnServer` it checks them too, and a damaged blob is then the
   * server's error reply, not an
   * {@linkcode IntegrityError}: `ddb check` tells the two apart.
   */
  async getBlob(
    id: string,
    size?: number,
    options: { verifyOnServer?: boolean } = {},
  ): Promise<Uint8Array> {
    const connection = this.#blobConnection(size);
    let reply: RespValue;
    if (options.verifyOnServer || !this.#serverTakesNoVerify) {
      reply = await connection.call("BGET", id);
    } else {
      try {
        reply = await connection.call("BGET", id, "NOVERIFY");
      } catch (error) {
        // A server older than NOVERIFY refuses the argument: it verifies, as before.
        if (
          !(error instanceof ServerReplyError && /wrong number of arguments/.test(error.message))
        ) {
          throw error;
        }
        this.#serverTakesNoVerify = false;
        reply = await connection.call("BGET", id);
      }
    }
    const data = asBytesOrNull(reply);
    if (data === null) {
      throw new IntegrityError(`Cannot read blob ${id}: the server does not have it`);
    }
    const actual = createHash("sha256").update(data).digest("hex");
    if (actual !== id) {
      throw new IntegrityError(`Cannot read blob ${id}: received bytes hash to ${actual}`);
    }
    return data;
  }

  // ---- writing metadata (idempotent, content-addressed; made visible by commitSnapshot)

  /** Writes a file's chunk list as `c:<K>`. */
  writeContent(key: string, chunks: readonly ChunkRef[]): Promise<unknown> {
    const calls: Promise<RespValue>[] = [];
    let end = 0;
    for (const chunk of chunks) {
      end += chunk.size;
      calls.push(this.#meta.call("LADD", key, String(end), chunk.id));
    }
    return Promise.all(calls);
  }

  /** Writes a meta hash. */
  writeMeta(key: string, fields: ReadonlyMap<string, Uint8Array>): Promise<RespValue> {
    return this.#meta.call("HSET", key, ...flatten(fields));
  }

  /** Writes a directory set (an empty directory has no set). */
  writeDir(key: string, members: readonly string[]): Promise<RespValue> | undefined {
    if (members.length === 0) return undefined;
    return this.#meta.call("SADD", key, ...members);
  }

  /**
   * Makes a snapshot visible, in one durable transaction: its record, its
   * place in its group's list, and the sets listing every snapshot and group.
   */
  async commitSnapshot(snapshot: Snapshot): Promise<string> {
    const key = snapshotKeyOf(snapshot);
    const group = groupKey(snapshot.host, snapshot.path);
    const meta = this.#meta;
    const replies = [
      meta.call("TXINIT"),
      meta.call("SET", SCHEMA_KEY, String(SCHEMA_VERSION)),
      meta.call("HSET", key, ...flatten(snapshotFields(snapshot))),
      meta.call("LADD", group, String(snapshot.timeUs), key),
      meta.call("SADD", SNAPSHOTS_KEY, key),
      meta.call("SADD", GROUPS_KEY, group),
      meta.call("TXCOMMIT"),
    ];
    await Promise.all(replies);
    return key;
  }

  // ---- reading

  /** Whether a key exists. */
  async exists(key: string): Promise<boolean> {
    return asInteger(await this.#meta.call("EXISTS", key)) === 1;
  }

  /** Every snapshot, oldest first. */
  async listSnapshots(): Promise<SnapshotEntry[]> {
    const keys = asArray(await this.#meta.call("SMEMBERS", SNAPSHOTS_KEY)).map(asText);
    const replies = await Promise.all(keys.map((k) => this.#meta.call("HGETALL", k)));
    const out = keys.map((key, i) => ({ key, ...parseSnapshot(key, fieldsOf(replies[i])) }));
    return out.sort((a, b) =>
      a.timeUs < b.timeUs ? -1 : a.timeUs > b.timeUs ? 1 : a.key < b.key ? -1 : 1
    );
  }

  /** One snapshot by key. */
  async readSnapshot(key: string): Promise<SnapshotEntry> {
    const fields = fieldsOf(await this.#meta.call("HGETALL", key));
    if (fields.size === 0) throw new SchemaError(`Cannot find snapshot "${key}"`);
    return { key, ...parseSnapshot(key, fields) };
  }

  /** A node's metadata. */
  async readMeta(key: string): Promise<NodeMeta> {
    if (!key.startsWith("m:")) throw new SchemaError(`Cannot read meta "${key}": not a meta key`);
    const fields = fieldsOf(await this.#meta.call("HGETALL", key));
    if (fields.size === 0) throw new SchemaError(`Cannot find meta "${key}"`);
    return parseMeta(key, fields);
  }

  /**
   * The metadata of several nodes, each settled on its own (as
   * `Promise.allSettled` of {@linkcode readMeta} would): one
   * `HMULTIGETALL` per {@linkcode META_BATCH} keys instead of a command
   * each. When the server refuses a batch (a key of another type), its keys
   * are read one by one, so that only the bad ones fail.
   */
  async readMetas(keys: readonly string[]): Promise<PromiseSettledResult<NodeMeta>[]> {
    const batches: Promise<PromiseSettledResult<NodeMeta>[]>[] = [];
    for (let at = 0; at < keys.length; at += META_BATCH) {
      batches.push(this.#readMetaBatch(keys.slice(at, at + META_BATCH)));
    }
    return (await Promise.all(batches)).flat();
  }

  async #readMetaBatch(keys: readonly string[]): Promise<PromiseSettledResult<NodeMeta>[]> {
    const asked = keys.filter((key) => key.startsWith("m:"));
    let replies: RespValue[];
    try {
      replies = asked.length === 0 ? [] : asArray(await this.#meta.call("HMULTIGETALL", ...asked));
    } catch (error) {
      if (!(error instanceof ServerReplyError)) throw error;
      return await Promise.allSettled(keys.map((key) => this.readMeta(key)));
    }
    if (replies.length !== asked.length) {
      throw new TypeError(`HMULTIGETALL replied ${replies.length} hashes for ${asked.length} keys`);
    }
    let next = 0;
    return keys.map((key): PromiseSettledResult<NodeMeta> => {
      try {
        if (!key.startsWith("m:")) {
          throw new SchemaError(`Cannot read meta "${key}": not a meta key`);
        }
        const fields = fieldsOf(replies[next++]);
        if (fields.size === 0) throw new SchemaError(`Cannot find meta "${key}"`);
        return { status: "fulfilled", value: parseMeta(key, fields) };
      } catch (reason) {
        return { status: "rejected", reason };
      }
    });
  }

  /** The meta keys of a directory's children (empty for an empty directory). */
  async readDir(key: string): Promise<string[]> {
    if (!key.startsWith("d:")) throw new SchemaError(`Cannot read directory "${key}"`);
    return asArray(await this.#meta.call("SMEMBERS", key)).map(asText);
  }

  /**
   * A file's chunks in order, with their end offsets, from its content ref:
   * a `c:<K>` list is read on a connection of small blobs (when there are
   * some), not the metadata one: a walk of a tree queues thousands of reads
   * there, which a restore's content lists need not wait behind. A `b:<id>`
   * ref is the one chunk `id` of `size` bytes, the file's size from its
   * meta (required then), without asking the server.
   */
  async readContent(key: string, size?: number): Promise<PlacedChunk[]> {
    const blob = blobIdOfRef(key);
    if (blob !== undefined) {
      if (size === undefined || !Number.isSafeInteger(size) || size <= 0) {
        throw new SchemaError(`Cannot read content "${key}": no valid size (${size}) for it`);
      }
      return [{ id: blob, size, end: size }];
    }
    if (!key.startsWith("c:")) throw new SchemaError(`Cannot read content "${key}"`);
    const connection = this.#blobs.length > 0 ? this.#blobConnection(0) : this.#meta;
    const flat = asArray(await connection.call("LITER", key, "WITH", "INDEX"));
    const chunks: PlacedChunk[] = [];
    let start = 0;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const end = Number(asText(flat[i]));
      const id = asText(flat[i + 1]);
      if (!Number.isSafeInteger(end) || end <= start || !/^[0-9a-f]{64}$/.test(id)) {
        throw new SchemaError(`Cannot read content "${key}": malformed chunk list`);
      }
      chunks.push({ id, size: end - start, end });
      start = end;
    }
    return chunks;
  }

  // ---- maintenance (forget, check, stats)

  /** The raw fields of a hash, unparsed (empty when the key does not exist). */
  async readFields(key: string): Promise<Map<string, Uint8Array>> {
    return fieldsOf(await this.#meta.call("HGETALL", key));
  }

  /** Every member of `ddb:snapshots`, unparsed and unsorted. */
  async listSnapshotKeys(): Promise<string[]> {
    return asArray(await this.#meta.call("SMEMBERS", SNAPSHOTS_KEY)).map(asText);
  }

  /** Every member of `ddb:groups`. */
  async listGroupKeys(): Promise<string[]> {
    return asArray(await this.#meta.call("SMEMBERS", GROUPS_KEY)).map(asText);
  }

  /** The entries of a group list (`g:<host>:<path>`), oldest first. */
  async readGroup(group: string): Promise<GroupEntry[]> {
    const flat = asArray(await this.#meta.call("LITER", group, "WITH", "INDEX"));
    const entries: GroupEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      entries.push({ timeUs: BigInt(asText(flat[i])), key: asText(flat[i + 1]) });
    }
    return entries;
  }

  /** The number of blobs and their total size, over the whole database (BCNT, BSIZE). */
  async blobTotals(): Promise<{ count: number; bytes: number }> {
    const [count, bytes] = await Promise.all([
      this.#meta.call("BCNT"),
      this.#meta.call("BSIZE"),
    ]);
    return { count: asInteger(count), bytes: asInteger(bytes) };
  }

  /**
   * Removes snapshot records, one durable `TXINIT … TXCOMMIT` per group:
   * their `s:` hashes, their entries of `ddb:snapshots` and of their group
   * list, and the group from `ddb:groups` when its list becomes empty. The
   * server has no command to drop one list entry, so the transaction deletes
   * the group list and writes back the entries that stay. The trees, contents
   * and blobs stay (reclaiming them is garbage collection's work).
   *
   * A backup committing to the same group between the read of the list and
   * the transaction would lose its list entry; so, afterwards, every
   * snapshot of the touched groups still in `ddb:snapshots` whose list entry
   * is missing is linked again. Run one forget at a time: two concurrent
   * removals from one group can write back each other's removed entries
   * (`ddb check` reports such dangling entries).
   */
  async removeSnapshots(snapshots: readonly SnapshotEntry[]): Promise<void> {
    const byGroup = new Map<string, Set<string>>();
    for (const s of snapshots) {
      const group = groupKey(s.host, s.path);
      let keys = byGroup.get(group);
      if (keys === undefined) byGroup.set(group, keys = new Set());
      keys.add(s.key);
    }
    const meta = this.#meta;
    for (const [group, keys] of byGroup) {
      const stay = (await this.readGroup(group)).filter((e) => !keys.has(e.key));
      const replies = [meta.call("TXINIT"), meta.call("DEL", group)];
      for (const e of stay) replies.push(meta.call("LADD", group, String(e.timeUs), e.key));
      replies.push(meta.call("SREM", SNAPSHOTS_KEY, ...keys));
      for (const key of keys) replies.push(meta.call("DEL", key));
      if (stay.length === 0) replies.push(meta.call("SREM", GROUPS_KEY, group));
      replies.push(meta.call("TXCOMMIT"));
      await Promise.all(replies);
    }
    await this.#relinkGroups(new Set(byGroup.keys()));
  }

  /** Links again the snapshots of `groups` whose group list entry is missing. */
  async #relinkGroups(groups: ReadonlySet<string>): Promise<void> {
    const keys = await this.listSnapshotKeys();
    const meta = this.#meta;
    const records = await Promise.all(
      keys.map((key) =>
        Promise.all(["host", "path", "time"].map((f) => meta.call("HGET", key, f)))
          .then((values) => ({ key, values }))
      ),
    );
    const candidates: { key: string; group: string; time: string }[] = [];
    for (const { key, values } of records) {
      if (values.some((v) => !(v instanceof Uint8Array))) continue;
      const [host, path, time] = values.map(asText);
      if (!/^\d+$/.test(time) || host === "" || host.includes(":")) continue;
      const group = groupKey(host, path);
      if (groups.has(group)) candidates.push({ key, group, time });
    }
    const linked = await Promise.all(
      candidates.map((c) => meta.call("LINDEX", c.group, c.time)),
    );
    const relinks: Promise<RespValue>[] = [];
    candidates.forEach((c, i) => {
      if (asBytesOrNull(linked[i]) !== null) return;
      relinks.push(
        meta.call("LADD", c.group, c.time, c.key),
        meta.call("SADD", GROUPS_KEY, c.group),
      );
    });
    await Promise.all(relinks);
  }
}
