/**
 * The backup metadata schema (version 3; versions 1 and 2 are still read),
 * written with the server's types.
 * See docs/data-model.md, "Backup metadata schema", for the full description.
 *
 * Keys (strings on the server):
 * - `c:<K>` list — a file's content: index = cumulative end offset of each
 *   chunk, value = the chunk's blob id. `LMRANGE c:<K> offset …` finds the
 *   chunk holding any offset. K = {@linkcode contentId} of the chunk list.
 * - `m:<M>` hash — one node's metadata (file, dir, symlink, …). M is the id
 *   of its own fields, so identical nodes share one meta.
 * - `d:<D>` set — a directory's children, as their `m:<M>` keys. D is the id
 *   of the sorted member list.
 * - `s:<S>` hash — a snapshot; S is the id of its fields.
 * - `g:<host>:<path>` list — the snapshots of one (host, absolute path):
 *   index = snapshot time in µs since the epoch, value = `s:<S>`.
 * - `ddb:snapshots` set — every snapshot key (the truth for listing).
 * - `ddb:groups` set — every group key.
 * - `ddb:schema` string — the newest schema version written, "3".
 *
 * A file of exactly one chunk has no content list: its ref is `b:<blob id>`
 * (version 3), the chunk being the whole file (its size is the file's). Most
 * files of a tree are that small; a list for each cost the server a command
 * and a row per file. Versions 1 and 2 wrote `c:<K>` for every file, and
 * `c:<K>` refs stay valid (a cached file keeps its old ref).
 *
 * References and attributes are kept apart: a meta hash has two fields,
 * `ref` (`c:<K>`, `b:<id>` or `d:<D>`, absent for other types) and `attrs` (name, type,
 * size, mode, owner, mtime, … in one value: ./attrs.ts); in a snapshot the
 * reference is `ref` (`m:<M>`). A later client-side encryption may hide the
 * attributes while the server can still follow references for garbage
 * collection and checks. Version 1 metas had one field per attribute
 * (`name`, `type`, `size`, `mode`, `uid`, `gid`, `mtime`, `target`, `links`)
 * and are still read.
 *
 * @module
 */

import { listId, recordId } from "./canonical.ts";
import { decodeAttrs, encodeAttrs } from "./attrs.ts";

/** The schema version written by this client. */
export const SCHEMA_VERSION = 3;
/** The schema versions this client reads. */
export const READABLE_SCHEMA_VERSIONS: readonly number[] = [1, 2, 3];
/** String key holding the schema version. */
export const SCHEMA_KEY = "ddb:schema";
/** Set of every snapshot key. */
export const SNAPSHOTS_KEY = "ddb:snapshots";
/** Set of every group key. */
export const GROUPS_KEY = "ddb:groups";

/** Node types. */
export type NodeType = "file" | "dir" | "symlink" | "fifo" | "socket" | "chardev" | "blockdev";

/** One chunk of a file: its blob id and size. */
export interface ChunkRef {
  /** Blob id (lowercase hex SHA-256). */
  id: string;
  /** Size in bytes. */
  size: number;
}

/** The id of a file's content: a hash of its chunk list (ids and sizes). */
export function contentId(chunks: readonly ChunkRef[]): string {
  return listId("content", chunks.map((c) => `${c.id}:${c.size}`));
}

/** `c:<K>`. */
export function contentKey(id: string): string {
  return `c:${id}`;
}

const BLOB_REF = /^b:[0-9a-f]{64}$/;

/** `b:<id>`: the ref of a file whose content is the one blob `id`. */
export function blobRef(id: string): string {
  return `b:${id}`;
}

/** The blob id of a `b:<id>` ref, or `undefined` for any other string. */
export function blobIdOfRef(ref: string): string | undefined {
  return BLOB_REF.test(ref) ? ref.slice(2) : undefined;
}

/**
 * The ref of a file with content `chunks` (schema version 3): `b:<id>` for
 * exactly one chunk, else `c:<K>` of the list (an empty file's list is
 * never written: readers know its key).
 */
export function contentRefOf(chunks: readonly ChunkRef[]): string {
  return chunks.length === 1 ? blobRef(chunks[0].id) : contentKey(contentId(chunks));
}

/** `d:<D>` of a directory whose children have the given meta keys (any order). */
export function dirKeyOf(childMetaKeys: readonly string[]): string {
  return `d:${listId("dir", [...childMetaKeys].sort())}`;
}

/** A node's metadata. Times are nanoseconds since the epoch. */
export interface NodeMeta {
  /** The entry's name in its parent (raw bytes as the OS gives them). */
  name: Uint8Array;
  /** Its type. */
  type: NodeType;
  /** Size in bytes (files: content length; dirs: sum of the tree; else 0 or lstat size). */
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Modification time, ns since the epoch. */
  mtimeNs: bigint;
  /** `c:<K>` or `b:<id>` for files, `d:<D>` for directories; absent otherwise. */
  ref?: string;
  /** Symlink target bytes. */
  target?: Uint8Array;
  /** `dev:ino` when the file has several hard links, so restore can tell. */
  links?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The fields of a meta hash (schema versions 2 and 3): `attrs` and, for files and dirs, `ref`. */
export function metaFields(meta: NodeMeta): Map<string, Uint8Array> {
  const fields = new Map<string, Uint8Array>([["attrs", encodeAttrs(meta)]]);
  if (meta.ref !== undefined) fields.set("ref", encoder.encode(meta.ref));
  return fields;
}

/** The fields of a meta hash as schema version 1 wrote them (tests of old repositories). */
export function metaFieldsV1(meta: NodeMeta): Map<string, Uint8Array> {
  const fields = new Map<string, Uint8Array>([
    ["name", meta.name],
    ["type", encoder.encode(meta.type)],
    ["size", encoder.encode(String(meta.size))],
    ["mode", encoder.encode(String(meta.mode))],
    ["uid", encoder.encode(String(meta.uid))],
    ["gid", encoder.encode(String(meta.gid))],
    ["mtime", encoder.encode(String(meta.mtimeNs))],
  ]);
  if (meta.ref !== undefined) fields.set("ref", encoder.encode(meta.ref));
  if (meta.target !== undefined) fields.set("target", meta.target);
  if (meta.links !== undefined) fields.set("links", encoder.encode(meta.links));
  return fields;
}

/** `m:<M>` for `meta`. */
export function metaKeyOf(meta: NodeMeta): string {
  return metaKeyOfFields(metaFields(meta));
}

/** `m:<M>` for a meta's fields as {@linkcode metaFields} gives them (to encode them once). */
export function metaKeyOfFields(fields: ReadonlyMap<string, Uint8Array>): string {
  return `m:${recordId("meta", fields)}`;
}

/** The metadata is not of this schema. */
export class SchemaError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SchemaError";
  }
}

const NODE_TYPES: readonly NodeType[] = [
  "file",
  "dir",
  "symlink",
  "fifo",
  "socket",
  "chardev",
  "blockdev",
];

function integerField(fields: ReadonlyMap<string, Uint8Array>, name: string, key: string): number {
  const text = decoder.decode(fields.get(name) ?? new Uint8Array());
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new SchemaError(`Cannot read meta "${key}": field "${name}" is not an integer`);
  }
  return n;
}

/**
 * Parses a meta hash read from the server, of schema version 2 (`attrs`) or
 * 1 (a field per attribute); throws {@linkcode SchemaError} if malformed.
 */
export function parseMeta(key: string, fields: ReadonlyMap<string, Uint8Array>): NodeMeta {
  const attrs = fields.get("attrs");
  const meta = attrs === undefined ? parseMetaV1(key, fields) : parseMetaV2(key, attrs, fields);
  if (
    meta.type === "file" &&
    !(meta.ref?.startsWith("c:") || (meta.ref !== undefined && BLOB_REF.test(meta.ref)))
  ) {
    throw new SchemaError(`Cannot read meta "${key}": a file without a content ref`);
  }
  if (meta.type === "dir" && !meta.ref?.startsWith("d:")) {
    throw new SchemaError(`Cannot read meta "${key}": a directory without a dir ref`);
  }
  if (meta.type !== "file" && meta.type !== "dir" && meta.ref !== undefined) {
    throw new SchemaError(`Cannot read meta "${key}": a ${meta.type} with a ref`);
  }
  return meta;
}

function parseMetaV2(
  key: string,
  attrs: Uint8Array,
  fields: ReadonlyMap<string, Uint8Array>,
): NodeMeta {
  for (const name of fields.keys()) {
    if (name !== "attrs" && name !== "ref") {
      throw new SchemaError(`Cannot read meta "${key}": unknown field "${name}"`);
    }
  }
  let meta: NodeMeta;
  try {
    meta = decodeAttrs(attrs);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SchemaError(`Cannot read meta "${key}": attrs ${reason}`, { cause });
  }
  const ref = fields.get("ref");
  if (ref !== undefined) meta.ref = decoder.decode(ref);
  return meta;
}

function parseMetaV1(key: string, fields: ReadonlyMap<string, Uint8Array>): NodeMeta {
  const type = decoder.decode(fields.get("type") ?? new Uint8Array()) as NodeType;
  if (!NODE_TYPES.includes(type)) {
    throw new SchemaError(`Cannot read meta "${key}": unknown type "${type}"`);
  }
  const name = fields.get("name");
  if (name === undefined) throw new SchemaError(`Cannot read meta "${key}": no name`);
  const mtime = decoder.decode(fields.get("mtime") ?? new Uint8Array());
  if (!/^-?\d+$/.test(mtime)) throw new SchemaError(`Cannot read meta "${key}": bad mtime`);
  const ref = fields.get("ref");
  const links = fields.get("links");
  const meta: NodeMeta = {
    name,
    type,
    size: integerField(fields, "size", key),
    mode: integerField(fields, "mode", key) & 0o7777,
    uid: integerField(fields, "uid", key),
    gid: integerField(fields, "gid", key),
    mtimeNs: BigInt(mtime),
  };
  if (ref !== undefined) meta.ref = decoder.decode(ref);
  if (fields.get("target") !== undefined) meta.target = fields.get("target");
  if (links !== undefined) meta.links = decoder.decode(links);
  return meta;
}

/** A snapshot record. */
export interface Snapshot {
  /** `m:<M>` of the backed-up path's root node. */
  ref: string;
  /** Host name of the machine backed up. */
  host: string;
  /** Absolute path backed up. */
  path: string;
  /** Snapshot time, µs since the epoch (also its index in the group list). */
  timeUs: bigint;
  /** Tags. */
  tags: string[];
  /** Files in the snapshot. */
  files: number;
  /** Directories in the snapshot. */
  dirs: number;
  /** Logical bytes (sum of file sizes). */
  bytes: number;
  /** Bytes uploaded as new blobs by this backup. */
  newBytes: number;
  /** Blobs uploaded by this backup. */
  newChunks: number;
  /** Entries that could not be read. */
  errors: number;
  /** Client version that wrote it. */
  client: string;
}

/** The fields of a snapshot hash. */
export function snapshotFields(s: Snapshot): Map<string, Uint8Array> {
  const text = (v: string | number | bigint) => encoder.encode(String(v));
  return new Map([
    ["ref", text(s.ref)],
    ["host", text(s.host)],
    ["path", text(s.path)],
    ["time", text(s.timeUs)],
    ["tags", text(s.tags.join(","))],
    ["files", text(s.files)],
    ["dirs", text(s.dirs)],
    ["bytes", text(s.bytes)],
    ["new_bytes", text(s.newBytes)],
    ["new_chunks", text(s.newChunks)],
    ["errors", text(s.errors)],
    ["client", text(s.client)],
    ["schema", text(SCHEMA_VERSION)],
  ]);
}

/** `s:<S>` for a snapshot. */
export function snapshotKeyOf(s: Snapshot): string {
  return `s:${recordId("snapshot", snapshotFields(s))}`;
}

/** Parses a snapshot hash; throws {@linkcode SchemaError} if malformed. */
export function parseSnapshot(key: string, fields: ReadonlyMap<string, Uint8Array>): Snapshot {
  const get = (name: string) => decoder.decode(fields.get(name) ?? new Uint8Array());
  if (!READABLE_SCHEMA_VERSIONS.some((v) => get("schema") === String(v))) {
    throw new SchemaError(
      `Cannot read snapshot "${key}": schema "${get("schema")}" is not one of ${
        READABLE_SCHEMA_VERSIONS.join(", ")
      } (a newer client wrote it?)`,
    );
  }
  const n = (name: string) => integerField(fields, name, key);
  const time = get("time");
  if (!/^\d+$/.test(time)) throw new SchemaError(`Cannot read snapshot "${key}": bad time`);
  return {
    ref: get("ref"),
    host: get("host"),
    path: get("path"),
    timeUs: BigInt(time),
    tags: get("tags") === "" ? [] : get("tags").split(","),
    files: n("files"),
    dirs: n("dirs"),
    bytes: n("bytes"),
    newBytes: n("new_bytes"),
    newChunks: n("new_chunks"),
    errors: n("errors"),
    client: get("client"),
  };
}

/** `g:<host>:<path>`. Hosts may not contain `:`. */
export function groupKey(host: string, path: string): string {
  if (host.includes(":") || host === "") {
    throw new SchemaError(`Cannot use host name "${host}": empty or contains ':'`);
  }
  return `g:${host}:${path}`;
}

/** Splits a group key into host and path. */
export function parseGroupKey(key: string): { host: string; path: string } {
  const match = /^g:([^:]+):(.*)$/s.exec(key);
  if (!match) throw new SchemaError(`Cannot read group key "${key}"`);
  return { host: match[1], path: match[2] };
}
