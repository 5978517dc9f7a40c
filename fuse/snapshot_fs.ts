/**
 * The read-only {@linkcode FileSystem} of `ddb mount`: every snapshot of a
 * repository, laid out as fuse/tree.ts describes (docs/mount.md for users):
 *
 * ```text
 * /latest/<name>/…               newest snapshot of each backed-up (host, path)
 * /snapshots/<name>/<time>/…     every snapshot
 * /at/<name>/<time>/…            the snapshot as of a time (looked up, not listed)
 * ```
 *
 * Pure apart from its ports: the repository (a {@linkcode SnapshotReader},
 * which `Repository` is), a clock and a logger.
 *
 * - The list of snapshots is read again when a directory above the
 *   snapshots (the root, `latest`, `snapshots`, `at` and their group
 *   directories) is looked up in or listed and the last list is older than
 *   {@linkcode SnapshotFsOptions.refreshMs}: new snapshots appear without
 *   remounting.
 * - Inodes: see fuse/inode_table.ts. A directory's identity is its parent's
 *   inode and its meta key (a directory has one parent, as the kernel
 *   expects); a snapshot's root directory adds its name, so `latest/x` gets
 *   a new inode when a newer snapshot changes it; any other node's identity
 *   is its meta key alone, so an unchanged file is one inode in every
 *   snapshot, and files hard-linked together (same `links`) are one inode
 *   per snapshot tree. `readdir` does not count lookups: a kernel layer
 *   answering READDIRPLUS calls `lookup` for each entry it returns (cheap:
 *   the listing is cached).
 * - Reads go through a {@linkcode FileReader} per open handle (binary search
 *   over the chunk list, read-ahead) and one shared {@linkcode BlobCache}.
 * - A failure of the repository (server, missing blob, malformed metadata)
 *   is logged and reported as EIO; unknown names as ENOENT.
 *
 * @module
 */

import type { PlacedChunk, SnapshotEntry } from "../client/repo/repository.ts";
import type { NodeMeta, NodeType } from "../client/snapshot/schema.ts";
import {
  type Attr,
  type DirEntry,
  Errno,
  type FileSystem,
  FileType,
  FsError,
  ROOT_INODE,
  type StatFs,
} from "./file_system.ts";
import { Lru } from "./_lru.ts";
import { BlobCache } from "./chunk_cache.ts";
import { FileReader } from "./file_reader.ts";
import { InodeTable } from "./inode_table.ts";
import {
  AT_DIR,
  buildLayout,
  entryName,
  type Group,
  LATEST_DIR,
  latestOf,
  type Layout,
  NAME_MAX,
  type NamedSnapshot,
  snapshotAsOf,
  SNAPSHOTS_DIR,
} from "./tree.ts";

/** What the file system reads (a `Repository` has it). */
export interface SnapshotReader {
  /** Every snapshot. */
  listSnapshots(): Promise<SnapshotEntry[]>;
  /** A node's metadata. */
  readMeta(key: string): Promise<NodeMeta>;
  /** The meta keys of a directory's children. */
  readDir(key: string): Promise<string[]>;
  /**
   * A file's chunks in order, with their end offsets, from its content ref
   * (`size`, the file's, is needed for a `b:<id>` ref: `Repository.readContent`).
   */
  readContent(key: string, size?: number): Promise<PlacedChunk[]>;
  /** A blob's bytes, verified against its id. */
  getBlob(id: string): Promise<Uint8Array>;
}

/** Values attached to a log line. */
export type LogFields = Record<string, string | number | bigint | boolean | undefined>;

/** Where the file system logs (the server's `Logger` is one). */
export interface FsLogger {
  /** Logs a detail. */
  debug(event: string, fields?: LogFields): void;
  /** Logs a problem: a failed read, an unreadable entry. */
  warn(event: string, fields?: LogFields): void;
}

/** Options of {@linkcode SnapshotFs}. */
export interface SnapshotFsOptions {
  /** Where problems are logged. */
  logger: FsLogger;
  /** Milliseconds from any origin, for the age of the snapshot list (default `performance.now`). */
  clock?: () => number;
  /** The snapshot list is read again when older than this, in ms (default 1000). */
  refreshMs?: number;
  /** Bytes of blobs cached (default 128 MiB). */
  cacheBytes?: number;
  /** Blob fetches at once (default 8). */
  maxFetches?: number;
  /** Chunks fetched ahead of sequential reads (default 4). */
  readAhead?: number;
  /** Inodes kept that the kernel holds no lookup of (default 16384). */
  maxIdleInodes?: number;
  /** Directory entries kept in cached listings (default 100,000). */
  maxListedEntries?: number;
  /** Chunk-list entries kept of files opened before (default 200,000). */
  maxContentChunks?: number;
}

/** Inode of `latest/`. */
export const LATEST_INODE = 2;
/** Inode of `snapshots/`. */
export const SNAPSHOTS_INODE = 3;
/** Inode of `at/`. */
export const AT_INODE = 4;

type Area = typeof LATEST_DIR | typeof SNAPSHOTS_DIR | typeof AT_DIR;

/** A node of the mount. */
type Node =
  /** The root (no `area`) or one of its three directories. */
  | { kind: "top"; attr: Attr; area?: Area }
  /** `snapshots/<name>` or `at/<name>`. */
  | { kind: "group"; attr: Attr; area: Area; group: string }
  /** A node of a snapshot; `root` is the meta key of its snapshot's root. */
  | { kind: "tree"; attr: Attr; type: NodeType; ref?: string; target?: Uint8Array; root: string };

type TreeNode = Extract<Node, { kind: "tree" }>;

/** A directory entry of a snapshot. */
interface Child {
  name: string;
  metaKey: string;
  meta: NodeMeta;
}

/** A directory's entries, in name order, and by name. */
interface Listing {
  children: Child[];
  byName: Map<string, Child>;
}

interface Handle {
  ino: number;
  ref: string;
  reader: FileReader;
}

const TYPE_BITS: Record<NodeType, number> = {
  file: FileType.REG,
  dir: FileType.DIR,
  symlink: FileType.LNK,
  fifo: FileType.FIFO,
  socket: FileType.SOCK,
  chardev: FileType.CHR,
  blockdev: FileType.BLK,
};

const TOP: readonly (readonly [Area, number])[] = [
  [LATEST_DIR, LATEST_INODE],
  [SNAPSHOTS_DIR, SNAPSHOTS_INODE],
  [AT_DIR, AT_INODE],
];

const decoder = new TextDecoder();

function msOfUs(us: bigint | undefined): number {
  return us === undefined ? 0 : Number(us / 1000n);
}

function virtualAttr(ino: number, newestUs: bigint | undefined): Attr {
  return {
    ino,
    mode: FileType.DIR | 0o555,
    size: 0,
    nlink: 2,
    uid: 0,
    gid: 0,
    mtimeMs: msOfUs(newestUs),
  };
}

/** The attributes of a snapshot's node. */
function attrOf(ino: number, meta: NodeMeta): Attr {
  // A directory's recorded size is its whole tree's: shown, `du` would count
  // every file once per directory above it.
  const size = meta.type === "file"
    ? meta.size
    : meta.type === "symlink"
    ? meta.target?.length ?? 0
    : 0;
  return {
    ino,
    mode: TYPE_BITS[meta.type] | (meta.mode & 0o7777),
    size,
    // 1 for directories: "unknown", so no tool counts subdirectories by it.
    nlink: meta.links !== undefined && meta.type !== "dir" ? 2 : 1,
    uid: meta.uid,
    gid: meta.gid,
    mtimeMs: Number(meta.mtimeNs / 1_000_000n),
  };
}

function compareChildren(a: Child, b: Child): number {
  const x = a.meta.name;
  const y = b.meta.name;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  if (x.length !== y.length) return x.length - y.length;
  return a.metaKey < b.metaKey ? -1 : a.metaKey > b.metaKey ? 1 : 0;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noEntry(name: string, where: string): FsError {
  return new FsError(Errno.ENOENT, `Cannot find "${name}" in ${where}`);
}

/** The mount's file system over a repository's snapshots. */
export class SnapshotFs implements FileSystem {
  readonly #reader: SnapshotReader;
  readonly #logger: FsLogger;
  readonly #clock: () => number;
  readonly #refreshMs: number;
  readonly #readAhead: number | undefined;
  readonly #blobs: BlobCache;
  readonly #inodes: InodeTable<Node>;

  #layout: Layout<SnapshotEntry> | undefined;
  #listedAt = 0;
  #refreshing: Promise<Layout<SnapshotEntry>> | undefined;

  /** Root metas of snapshots (few, read for every listing of the snapshot directories). */
  readonly #rootMetas = new Lru<string, NodeMeta>(4096);
  readonly #listings: Lru<string, Listing>;
  readonly #contents: Lru<string, PlacedChunk[]>;
  /** Reads in progress, so concurrent requests share them. */
  readonly #loading = new Map<string, Promise<unknown>>();

  readonly #handles = new Map<number, Handle>();
  #nextHandle = 1;

  /** Builds the file system over `reader`. */
  constructor(reader: SnapshotReader, options: SnapshotFsOptions) {
    this.#reader = reader;
    this.#logger = options.logger;
    this.#clock = options.clock ?? (() => performance.now());
    this.#refreshMs = options.refreshMs ?? 1000;
    this.#readAhead = options.readAhead;
    this.#blobs = new BlobCache((id) => reader.getBlob(id), {
      maxBytes: options.cacheBytes,
      maxFetches: options.maxFetches,
    });
    this.#inodes = new InodeTable(options.maxIdleInodes ?? 16384);
    this.#listings = new Lru(options.maxListedEntries ?? 100_000);
    this.#contents = new Lru(options.maxContentChunks ?? 200_000);
    this.#inodes.fix(ROOT_INODE, "top|", { kind: "top", attr: virtualAttr(ROOT_INODE, undefined) });
    for (const [area, ino] of TOP) {
      this.#inodes.fix(ino, `top|${area}`, {
        kind: "top",
        area,
        attr: virtualAttr(ino, undefined),
      });
    }
  }

  /** Counters of the blob cache. */
  get cacheStats(): BlobCache["stats"] {
    return this.#blobs.stats;
  }

  /** Inodes known (held by the kernel, or recently listed). */
  get inodeCount(): number {
    return this.#inodes.size;
  }

  // ---- FileSystem

  /** The attributes of `name` in directory `parent`, counting one lookup of it. */
  async lookup(parent: number, name: string): Promise<Attr> {
    const node = this.#node(parent);
    const { value } = await this.#child(parent, node, name);
    return value.attr;
  }

  /** Drops `count` lookups of `ino`. */
  forget(ino: number, count: number): void {
    this.#inodes.forget(ino, count);
  }

  /**
   * The attributes of `ino`. For the directories above the snapshots this
   * may list the snapshots again (their time is the newest snapshot's); if
   * that fails, the last attributes are kept.
   */
  async getattr(ino: number): Promise<Attr> {
    const node = this.#node(ino);
    if (node.kind === "top" || node.kind === "group") {
      // A failure was logged; the times of the last list stay.
      await this.#currentLayout().catch(() => undefined);
      this.#refreshAttr(ino, node);
    }
    return node.attr;
  }

  /** The target of symlink `ino`. */
  readlink(ino: number): Promise<string> {
    return Promise.try(() => {
      const node = this.#node(ino);
      if (node.kind !== "tree" || node.type !== "symlink") {
        throw new FsError(Errno.EINVAL, `Cannot read link ${ino}: not a symlink`);
      }
      return decoder.decode(node.target ?? new Uint8Array());
    });
  }

  /** The whole listing of directory `ino`. */
  async readdir(ino: number): Promise<DirEntry[]> {
    const node = this.#node(ino);
    if (node.kind === "tree") {
      if (node.type !== "dir") {
        throw new FsError(Errno.ENOTDIR, `Cannot list ${ino}: not a directory`);
      }
      const listing = await this.#listing(node.ref!);
      return listing.children.map((child) => {
        const { value } = this.#treeChild(ino, node.root, child, false);
        return { name: child.name, attr: value.attr };
      });
    }
    const layout = await this.#currentLayout();
    this.#refreshAttr(ino, node);
    if (node.kind === "top") {
      const { area } = node;
      if (area === undefined) {
        return TOP.map(([name, top]) => {
          const child = this.#node(top);
          this.#refreshAttr(top, child);
          return { name, attr: child.attr };
        });
      }
      if (area === LATEST_DIR) {
        return await this.#snapshotEntries(
          ino,
          [...layout.groups.values()].flatMap((group) => {
            const latest = latestOf(group);
            return latest === undefined ? [] : [{ name: group.name, snapshot: latest.snapshot }];
          }),
        );
      }
      return [...layout.groups.values()].map((group) => {
        const { value } = this.#groupNode(ino, area, group, false);
        return { name: group.name, attr: value.attr };
      });
    }
    // A group directory: `at/<name>` lists nothing, `snapshots/<name>` every snapshot.
    const group = layout.groups.get(node.group);
    if (node.area === AT_DIR || group === undefined) return [];
    return await this.#snapshotEntries(ino, group.snapshots);
  }

  /** Opens file `ino` for reading; its chunk list is read once per handle. */
  async open(ino: number): Promise<number> {
    const node = this.#node(ino);
    if (node.kind !== "tree" || node.type === "dir") {
      throw new FsError(Errno.EISDIR, `Cannot open ${ino}: a directory`);
    }
    if (node.type !== "file") {
      throw new FsError(Errno.EINVAL, `Cannot open ${ino}: not a regular file`);
    }
    const ref = node.ref!;
    const chunks = await this.#io(
      "read file contents",
      { ino, ref },
      () => this.#content(ref, node.attr.size),
    );
    const reader = new FileReader(chunks, this.#blobs, { readAhead: this.#readAhead });
    if (reader.size !== node.attr.size) {
      this.#logger.warn("mount.size_mismatch", {
        ino,
        ref,
        size: node.attr.size,
        content: reader.size,
      });
    }
    const handle = this.#nextHandle++;
    this.#handles.set(handle, { ino, ref, reader });
    return handle;
  }

  /** Up to `size` bytes of file `ino` at `offset`. */
  async read(ino: number, handle: number, offset: number, size: number): Promise<Uint8Array> {
    const open = this.#handles.get(handle);
    if (open === undefined || open.ino !== ino) {
      throw new FsError(Errno.EBADF, `Cannot read ${ino}: handle ${handle} is not open on it`);
    }
    if (!(offset >= 0) || !(size >= 0)) {
      throw new FsError(Errno.EINVAL, `Cannot read ${ino}: bad range ${offset}+${size}`);
    }
    return await this.#io(
      "read file",
      { ino, ref: open.ref, offset, size },
      () => open.reader.read(offset, size),
    );
  }

  /** Closes a handle returned by `open`. */
  release(_ino: number, handle: number): Promise<void> {
    this.#handles.delete(handle);
    return Promise.resolve();
  }

  /**
   * File-system statistics: size = bytes the snapshots added to the
   * repository (their `new_bytes`), nothing free, one file per known inode.
   */
  statfs(): Promise<StatFs> {
    let bytes = 0;
    for (const group of this.#layout?.groups.values() ?? []) {
      for (const { snapshot } of group.snapshots) bytes += snapshot.newBytes;
    }
    const blockSize = 4096;
    return Promise.resolve({
      blocks: Math.ceil(bytes / blockSize),
      bfree: 0,
      bavail: 0,
      files: this.#inodes.size,
      ffree: 0,
      blockSize,
      nameMax: NAME_MAX,
    });
  }

  // ---- nodes

  #node(ino: number): Node {
    const node = this.#inodes.get(ino);
    if (node === undefined) throw new FsError(Errno.ENOENT, `Cannot find inode ${ino}`);
    return node;
  }

  /** The child `name` of `parent`, counting a lookup of it. */
  async #child(parent: number, node: Node, name: string): Promise<{ ino: number; value: Node }> {
    if (node.kind === "tree") {
      if (node.type !== "dir") {
        throw new FsError(Errno.ENOTDIR, `Cannot look up "${name}" in ${parent}: not a directory`);
      }
      const child = (await this.#listing(node.ref!)).byName.get(name);
      if (child === undefined) throw noEntry(name, `directory ${parent}`);
      return this.#treeChild(parent, node.root, child, true);
    }
    const layout = await this.#currentLayout();
    this.#refreshAttr(parent, node);
    const area = node.area;
    if (area === undefined) {
      const top = TOP.find(([n]) => n === name);
      if (top === undefined) throw noEntry(name, "the root");
      const value = this.#node(top[1]);
      this.#inodes.lookup(top[1]);
      this.#refreshAttr(top[1], value);
      return { ino: top[1], value };
    }
    const group = layout.groups.get(node.kind === "group" ? node.group : name);
    if (group === undefined) throw noEntry(name, area);
    if (node.kind === "top") {
      if (area !== LATEST_DIR) return this.#groupNode(parent, area, group, true);
      return await this.#snapshotRoot(parent, name, latestOf(group)!.snapshot, true);
    }
    const found = area === AT_DIR ? snapshotAsOf(group, name) : group.byName.get(name);
    if (found === undefined) throw noEntry(name, `${area}/${group.name}`);
    return await this.#snapshotRoot(parent, name, found.snapshot, true);
  }

  #groupNode(
    parent: number,
    area: Area,
    group: Group<SnapshotEntry>,
    lookup: boolean,
  ): { ino: number; value: Node } {
    const found = this.#inodes.intern(
      `group|${parent}|${group.name}`,
      (ino) => ({ kind: "group", area, group: group.name, attr: this.#groupAttr(ino, group) }),
      lookup,
    );
    found.value.attr = this.#groupAttr(found.ino, group);
    return found;
  }

  #groupAttr(ino: number, group: Group<SnapshotEntry>): Attr {
    return virtualAttr(ino, group.snapshots.at(-1)?.snapshot.timeUs);
  }

  /** Brings a virtual directory's times up to date with the last snapshot list. */
  #refreshAttr(ino: number, node: Node): void {
    const layout = this.#layout;
    if (layout === undefined) return;
    if (node.kind === "top") node.attr = virtualAttr(ino, layout.newestUs);
    if (node.kind === "group") {
      const group = layout.groups.get(node.group);
      if (group !== undefined) node.attr = this.#groupAttr(ino, group);
    }
  }

  /** The root node of `snapshot`, named `name` in directory `parent`. */
  async #snapshotRoot(
    parent: number,
    name: string,
    snapshot: SnapshotEntry,
    lookup: boolean,
  ): Promise<{ ino: number; value: Node }> {
    const meta = await this.#io(
      "read snapshot root",
      { snapshot: snapshot.key, ref: snapshot.ref },
      () => this.#rootMeta(snapshot.ref),
    );
    const identity = meta.type === "dir"
      ? `root|${parent}|${name}|${snapshot.ref}`
      : `node|${snapshot.ref}`;
    return this.#inodes.intern(
      identity,
      (ino) => this.#treeNode(ino, meta, snapshot.ref),
      lookup,
    );
  }

  /** Entries for snapshot roots, leaving out (and logging) those whose root cannot be read. */
  async #snapshotEntries(
    parent: number,
    snapshots: readonly NamedSnapshot<SnapshotEntry>[],
  ): Promise<DirEntry[]> {
    const results = await Promise.allSettled(
      snapshots.map(({ name, snapshot }) => this.#snapshotRoot(parent, name, snapshot, false)),
    );
    const entries: DirEntry[] = [];
    results.forEach((result, i) => {
      if (result.status === "fulfilled") {
        entries.push({ name: snapshots[i].name, attr: result.value.value.attr });
      }
    });
    return entries;
  }

  #treeChild(
    parent: number,
    root: string,
    child: Child,
    lookup: boolean,
  ): { ino: number; value: Node } {
    const { meta } = child;
    const identity = meta.type === "dir"
      ? `dir|${parent}|${child.metaKey}`
      : meta.links !== undefined
      ? [
        "link",
        root,
        meta.links,
        meta.type,
        meta.ref,
        meta.size,
        meta.mode,
        meta.uid,
        meta.gid,
        meta.mtimeNs,
      ].join("|")
      : `node|${child.metaKey}`;
    return this.#inodes.intern(identity, (ino) => this.#treeNode(ino, meta, root), lookup);
  }

  #treeNode(ino: number, meta: NodeMeta, root: string): TreeNode {
    const node: TreeNode = { kind: "tree", attr: attrOf(ino, meta), type: meta.type, root };
    if (meta.ref !== undefined) node.ref = meta.ref;
    if (meta.target !== undefined) node.target = meta.target;
    return node;
  }

  // ---- reading the repository

  /** The layout, listing the snapshots again when the last list is too old. */
  #currentLayout(): Promise<Layout<SnapshotEntry>> {
    const now = this.#clock();
    if (this.#layout !== undefined && now - this.#listedAt < this.#refreshMs) {
      return Promise.resolve(this.#layout);
    }
    this.#refreshing ??= this.#listSnapshots(now).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #listSnapshots(now: number): Promise<Layout<SnapshotEntry>> {
    try {
      this.#layout = buildLayout(await this.#reader.listSnapshots());
    } catch (error) {
      if (this.#layout === undefined) throw this.#eio("list snapshots", {}, error);
      this.#logger.warn("mount.stale_snapshot_list", { error: messageOf(error) });
    }
    this.#listedAt = now;
    return this.#layout;
  }

  /** Runs `load` once for concurrent callers asking for the same `key`. */
  #shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    let pending = this.#loading.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
      pending = load().finally(() => this.#loading.delete(key));
      this.#loading.set(key, pending);
    }
    return pending;
  }

  #rootMeta(ref: string): Promise<NodeMeta> {
    const cached = this.#rootMetas.get(ref);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.#shared(ref, async () => {
      const meta = await this.#reader.readMeta(ref);
      this.#rootMetas.set(ref, meta);
      return meta;
    });
  }

  #content(ref: string, size: number): Promise<PlacedChunk[]> {
    const cached = this.#contents.get(ref);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.#shared(ref, async () => {
      const chunks = await this.#reader.readContent(ref, size);
      this.#contents.set(ref, chunks, chunks.length + 1);
      return chunks;
    });
  }

  /** A directory's listing; entries that cannot be read or named are left out and logged. */
  #listing(ref: string): Promise<Listing> {
    const cached = this.#listings.get(ref);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.#io("list directory", { ref }, () =>
      this.#shared(ref, async () => {
        const keys = await this.#reader.readDir(ref);
        const results = await Promise.allSettled(keys.map((key) => this.#reader.readMeta(key)));
        const children: Child[] = [];
        results.forEach((result, i) => {
          if (result.status === "rejected") {
            this.#logger.warn("mount.unreadable_entry", {
              dir: ref,
              entry: keys[i],
              error: messageOf(result.reason),
            });
            return;
          }
          const name = entryName(result.value.name);
          if (name === undefined) {
            this.#logger.warn("mount.unusable_name", { dir: ref, entry: keys[i] });
            return;
          }
          children.push({ name, metaKey: keys[i], meta: result.value });
        });
        children.sort(compareChildren);
        const byName = new Map<string, Child>();
        const unique = children.filter((child) => {
          if (byName.has(child.name)) {
            this.#logger.warn("mount.duplicate_name", { dir: ref, entry: child.metaKey });
            return false;
          }
          byName.set(child.name, child);
          return true;
        });
        const listing = { children: unique, byName };
        this.#listings.set(ref, listing, unique.length + 1);
        return listing;
      }));
  }

  /** Runs `fn`, turning any failure but an {@linkcode FsError} into a logged EIO. */
  async #io<T>(op: string, fields: LogFields, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.#eio(op, fields, error);
    }
  }

  #eio(op: string, fields: LogFields, error: unknown): FsError {
    if (error instanceof FsError) return error;
    const message = messageOf(error);
    this.#logger.warn("mount.io_error", { op, ...fields, error: message });
    return new FsError(Errno.EIO, `Cannot ${op}: ${message}`, { cause: error });
  }
}
