/**
 * A tiny in-memory read-only {@linkcode FileSystem} for tests of the FUSE
 * layer: directories, files, symlinks, and large files whose bytes are
 * generated on the fly from a repeating pseudo-random pattern.
 *
 * @module
 */

import {
  type Attr,
  type DirEntry,
  Errno,
  type FileSystem,
  FileType,
  FsError,
  ROOT_INODE,
  type StatFs,
} from "../file_system.ts";

/** Period of the generated content: a prime, so that offsets matter at every alignment. */
const PATTERN_SIZE = 1_048_573;

let pattern: Uint8Array | undefined;

/** The repeating pattern of generated files (xorshift32 bytes). */
function generatedPattern(): Uint8Array {
  if (pattern === undefined) {
    pattern = new Uint8Array(PATTERN_SIZE);
    let state = 0x9e3779b9;
    for (let i = 0; i < PATTERN_SIZE; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      pattern[i] = state & 0xff;
    }
  }
  return pattern;
}

/** `size` bytes of generated content starting at `offset` (the content of every generated file). */
export function generatedBytes(offset: number, size: number): Uint8Array {
  const source = generatedPattern();
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const start = (offset + at) % PATTERN_SIZE;
    const take = Math.min(size - at, PATTERN_SIZE - start);
    out.set(source.subarray(start, start + take), at);
    at += take;
  }
  return out;
}

type Node =
  | { kind: "dir"; attr: Attr; children: Map<string, number> }
  | { kind: "file"; attr: Attr; content: Uint8Array | "generated" }
  | { kind: "symlink"; attr: Attr; target: string };

/** An in-memory tree served read-only; build it with the `add*` methods, then mount it. */
export class MemoryFileSystem implements FileSystem {
  readonly #nodes = new Map<number, Node>();
  readonly #lookups = new Map<number, number>();
  readonly #handles = new Map<number, number>();
  readonly #mtimeMs: number;
  #nextIno = ROOT_INODE + 1;
  #nextHandle = 1;

  /** An empty root directory; every node gets modification time `mtimeMs`. */
  constructor(mtimeMs = Date.UTC(2024, 0, 2, 3, 4, 5, 678)) {
    this.#mtimeMs = mtimeMs;
    this.#nodes.set(ROOT_INODE, {
      kind: "dir",
      attr: this.#attr(ROOT_INODE, FileType.DIR | 0o755, 0),
      children: new Map(),
    });
  }

  #attr(ino: number, mode: number, size: number): Attr {
    const nlink = (mode & 0o170000) === FileType.DIR ? 2 : 1;
    return { ino, mode, size, nlink, uid: 0, gid: 0, mtimeMs: this.#mtimeMs };
  }

  /** Adds node `make(ino)` at `path`, creating parent directories. */
  #add(path: string, make: (ino: number) => Node): number {
    const parts = path.split("/").filter((part) => part !== "");
    if (parts.length === 0) throw new Error(`Cannot add "${path}": it is the root`);
    let dir = ROOT_INODE;
    for (const part of parts.slice(0, -1)) {
      const parent = this.#dir(dir);
      dir = parent.children.get(part) ?? this.#addChild(parent, part, (ino) => ({
        kind: "dir",
        attr: this.#attr(ino, FileType.DIR | 0o755, 0),
        children: new Map(),
      }));
    }
    const parent = this.#dir(dir);
    const name = parts[parts.length - 1];
    if (parent.children.has(name)) throw new Error(`Cannot add "${path}": it exists`);
    return this.#addChild(parent, name, make);
  }

  #addChild(parent: Node & { kind: "dir" }, name: string, make: (ino: number) => Node): number {
    const ino = this.#nextIno++;
    const node = make(ino);
    this.#nodes.set(ino, node);
    parent.children.set(name, ino);
    if (node.kind === "dir") parent.attr.nlink++;
    return ino;
  }

  #dir(ino: number): Node & { kind: "dir" } {
    const node = this.#node(ino);
    if (node.kind !== "dir") throw new FsError(Errno.ENOTDIR, `Inode ${ino} is not a directory`);
    return node;
  }

  #node(ino: number): Node {
    const node = this.#nodes.get(ino);
    if (node === undefined) throw new FsError(Errno.ENOENT, `No inode ${ino}`);
    return node;
  }

  /** Adds a directory (mode 0755). */
  addDir(path: string): number {
    return this.#add(path, (ino) => ({
      kind: "dir",
      attr: this.#attr(ino, FileType.DIR | 0o755, 0),
      children: new Map(),
    }));
  }

  /** Adds a file with `content` (mode 0444 unless given). */
  addFile(path: string, content: Uint8Array | string, mode = 0o444): number {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    return this.#add(path, (ino) => ({
      kind: "file",
      attr: this.#attr(ino, FileType.REG | mode, bytes.length),
      content: bytes,
    }));
  }

  /** Adds a file of `size` bytes of {@linkcode generatedBytes} content. */
  addGeneratedFile(path: string, size: number): number {
    return this.#add(path, (ino) => ({
      kind: "file",
      attr: this.#attr(ino, FileType.REG | 0o444, size),
      content: "generated",
    }));
  }

  /** Adds a symbolic link to `target`. */
  addSymlink(path: string, target: string): number {
    return this.#add(path, (ino) => ({
      kind: "symlink",
      attr: this.#attr(ino, FileType.LNK | 0o777, new TextEncoder().encode(target).length),
      target,
    }));
  }

  /** Lookups not yet forgotten, by inode (what the kernel still holds). */
  lookupCounts(): Map<number, number> {
    return new Map(this.#lookups);
  }

  /** Handles open now. */
  openHandles(): number {
    return this.#handles.size;
  }

  lookup(parent: number, name: string): Promise<Attr> {
    const ino = this.#dir(parent).children.get(name);
    if (ino === undefined) {
      return Promise.reject(new FsError(Errno.ENOENT, `No "${name}" in inode ${parent}`));
    }
    this.#lookups.set(ino, (this.#lookups.get(ino) ?? 0) + 1);
    return Promise.resolve({ ...this.#node(ino).attr });
  }

  forget(ino: number, count: number): void {
    const left = (this.#lookups.get(ino) ?? 0) - count;
    if (left > 0) this.#lookups.set(ino, left);
    else this.#lookups.delete(ino);
  }

  getattr(ino: number): Promise<Attr> {
    return Promise.resolve().then(() => ({ ...this.#node(ino).attr }));
  }

  readlink(ino: number): Promise<string> {
    return Promise.resolve().then(() => {
      const node = this.#node(ino);
      if (node.kind !== "symlink") throw new FsError(Errno.EINVAL, `Inode ${ino} is no symlink`);
      return node.target;
    });
  }

  readdir(ino: number): Promise<DirEntry[]> {
    return Promise.resolve().then(() =>
      [...this.#dir(ino).children].map(([name, child]) => ({
        name,
        attr: { ...this.#node(child).attr },
      }))
    );
  }

  open(ino: number): Promise<number> {
    return Promise.resolve().then(() => {
      const node = this.#node(ino);
      if (node.kind === "dir") throw new FsError(Errno.EISDIR, `Inode ${ino} is a directory`);
      const handle = this.#nextHandle++;
      this.#handles.set(handle, ino);
      return handle;
    });
  }

  read(ino: number, handle: number, offset: number, size: number): Promise<Uint8Array> {
    return Promise.resolve().then(() => {
      if (this.#handles.get(handle) !== ino) {
        throw new FsError(Errno.EBADF, `Handle ${handle} is not open on inode ${ino}`);
      }
      const node = this.#node(ino);
      if (node.kind !== "file") throw new FsError(Errno.EINVAL, `Inode ${ino} is no file`);
      const end = Math.min(node.attr.size, offset + size);
      if (offset >= end) return new Uint8Array(0);
      return node.content === "generated"
        ? generatedBytes(offset, end - offset)
        : node.content.subarray(offset, end);
    });
  }

  release(_ino: number, handle: number): Promise<void> {
    this.#handles.delete(handle);
    return Promise.resolve();
  }

  statfs(): Promise<StatFs> {
    let bytes = 0;
    for (const node of this.#nodes.values()) bytes += node.attr.size;
    return Promise.resolve({
      blocks: Math.ceil(bytes / 4096),
      bfree: 0,
      bavail: 0,
      files: this.#nodes.size,
      ffree: 0,
      blockSize: 4096,
      nameMax: 255,
    });
  }
}
