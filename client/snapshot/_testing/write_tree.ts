/**
 * Test helper: writes a hand-described tree (and snapshot) through
 * `Repository`'s write methods, the way the backup engine does — including
 * trees no honest backup would write (bad names, duplicate names, sizes that
 * do not match the content), to test readers against crafted metadata.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Repository } from "../../repo/repository.ts";
import {
  type ChunkRef,
  contentId,
  contentKey,
  dirKeyOf,
  metaFields,
  metaKeyOf,
  type NodeMeta,
  type NodeType,
  type Snapshot,
} from "../schema.ts";

/** Attributes every node may set; the rest default. */
interface Common {
  /** Name (a string is UTF-8 encoded). */
  name: string | Uint8Array;
  /** Permission bits (default 0o644 for files, 0o755 for directories, 0o777 for symlinks). */
  mode?: number;
  /** Modification time in ns (default 1_600_000_000_123_456_789). */
  mtimeNs?: bigint;
  /** Owner (default the current user). */
  uid?: number;
  /** Group (default the current group). */
  gid?: number;
  /** Overrides the `size` field (to write a wrong one). */
  size?: number;
  /** `links` field. */
  links?: string;
}

/** A file: its chunks (each uploaded as a blob unless `missing`). */
export interface FileSpec extends Common {
  /** Node type. */
  type: "file";
  /** The chunks, in order (may repeat). */
  chunks: Uint8Array[];
  /** Blob ids not to upload (their chunks are only referenced). */
  missing?: string[];
}

/** A directory. */
export interface DirSpec extends Common {
  /** Node type. */
  type: "dir";
  /** Its children. */
  children: TreeSpec[];
}

/** A symlink. */
export interface SymlinkSpec extends Common {
  /** Node type. */
  type: "symlink";
  /** Its target. */
  target: string | Uint8Array;
}

/** A fifo, socket or device. */
export interface SpecialSpec extends Common {
  /** Node type. */
  type: Exclude<NodeType, "file" | "dir" | "symlink">;
}

/** A node to write. */
export type TreeSpec = FileSpec | DirSpec | SymlinkSpec | SpecialSpec;

const encoder = new TextEncoder();

/** The lowercase hex SHA-256 of `data`. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function bytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/**
 * The meta of node `spec`: `ref` is its content or dir key (files and
 * dirs), `contentSize` its content's length (files), `owner` the uid and gid
 * used where the spec sets none.
 */
export function specMeta(
  spec: TreeSpec,
  ref: string | undefined,
  contentSize: number,
  owner: { uid: number; gid: number },
): NodeMeta {
  const common = {
    name: bytes(spec.name),
    uid: spec.uid ?? owner.uid,
    gid: spec.gid ?? owner.gid,
    mtimeNs: spec.mtimeNs ?? 1_600_000_000_123_456_789n,
  };
  let meta: NodeMeta;
  switch (spec.type) {
    case "file":
      meta = {
        ...common,
        type: "file",
        size: spec.size ?? contentSize,
        mode: spec.mode ?? 0o644,
        ref,
      };
      break;
    case "dir":
      meta = { ...common, type: "dir", size: spec.size ?? 0, mode: spec.mode ?? 0o755, ref };
      break;
    case "symlink":
      meta = {
        ...common,
        type: "symlink",
        size: spec.size ?? 0,
        mode: spec.mode ?? 0o777,
        target: bytes(spec.target),
      };
      break;
    default:
      meta = { ...common, type: spec.type, size: spec.size ?? 0, mode: spec.mode ?? 0o644 };
  }
  if (spec.links !== undefined) meta.links = spec.links;
  return meta;
}

/**
 * Writes `spec` and everything below it; resolves with its meta key. Every
 * file gets a content list `c:<K>`, one-chunk files too, as schema 2 wrote
 * them (version 3 readers take both; see tests/schema_compat_test.ts).
 */
export async function writeTree(repo: Repository, spec: TreeSpec): Promise<string> {
  let ref: string | undefined;
  let size = 0;
  if (spec.type === "file") {
    const chunks: ChunkRef[] = spec.chunks.map((c) => ({ id: sha256(c), size: c.length }));
    const uploaded = new Set<string>(spec.missing);
    for (const [i, chunk] of chunks.entries()) {
      if (uploaded.has(chunk.id)) continue;
      uploaded.add(chunk.id);
      await repo.putBlob(chunk.id, spec.chunks[i]);
    }
    ref = contentKey(contentId(chunks));
    await repo.writeContent(ref, chunks);
    size = chunks.reduce((sum, c) => sum + c.size, 0);
  } else if (spec.type === "dir") {
    const keys = await Promise.all(spec.children.map((child) => writeTree(repo, child)));
    ref = dirKeyOf(keys);
    await repo.writeDir(ref, keys);
  }
  const meta = specMeta(spec, ref, size, { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 });
  const key = metaKeyOf(meta);
  await repo.writeMeta(key, metaFields(meta));
  return key;
}

/** Commits a snapshot of the tree at `ref`; resolves with its `s:<S>` key. */
export function commitTree(
  repo: Repository,
  ref: string,
  snapshot: Partial<Omit<Snapshot, "ref">> = {},
): Promise<string> {
  return repo.commitSnapshot(testSnapshot({ ref, ...snapshot }));
}

/** A snapshot record for tests: zero counters, fixed host, path and time, with `fields` on top. */
export function testSnapshot(fields: Partial<Snapshot> = {}): Snapshot {
  return {
    ref: "m:x",
    host: "testhost",
    path: "/data",
    timeUs: 1_700_000_000_000_000n,
    tags: [],
    files: 0,
    dirs: 0,
    bytes: 0,
    newBytes: 0,
    newChunks: 0,
    errors: 0,
    client: "test",
    ...fields,
  };
}
