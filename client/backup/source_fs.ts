/**
 * The file system a backup reads, as a port: the backup engine takes it as a
 * parameter, so it can be pointed at any tree.
 *
 * @module
 */

import { lstat as nodeLstat } from "node:fs/promises";

/** What the backup needs to know of an entry. Times in ns since the epoch. */
export interface SourceStat {
  /** Entry type. */
  type: "file" | "dir" | "symlink" | "fifo" | "socket" | "chardev" | "blockdev";
  /** Size in bytes. */
  size: number;
  /** Full st_mode. */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Modification time. */
  mtimeNs: bigint;
  /** Status change time. */
  ctimeNs: bigint;
  /** Inode number. */
  ino: number;
  /** Device. */
  dev: number;
  /** Number of hard links. */
  nlink: number;
}

/** Read access to a tree of files. */
export interface SourceFs {
  /** Stats `path` without following a final symlink. */
  lstat(path: string): Promise<SourceStat>;
  /** The names in directory `path`. */
  readDir(path: string): Promise<string[]>;
  /** The target of symlink `path`. */
  readLink(path: string): Promise<string>;
  /** The whole content of a (small) file. */
  readFile(path: string): Promise<Uint8Array>;
  /** The content of a file as a stream of pieces the consumer may keep. */
  open(path: string): Promise<ReadableStream<Uint8Array>>;
}

const S_IFMT = 0o170000;
const TYPES: Record<number, SourceStat["type"]> = {
  0o100000: "file",
  0o040000: "dir",
  0o120000: "symlink",
  0o010000: "fifo",
  0o140000: "socket",
  0o020000: "chardev",
  0o060000: "blockdev",
};

/** The real file system, through Deno and node:fs (which gives ns times and ctime). */
export const denoSourceFs: SourceFs = {
  async lstat(path) {
    const s = await nodeLstat(path, { bigint: true });
    const type = TYPES[Number(s.mode) & S_IFMT];
    if (type === undefined) throw new Error(`Cannot back up "${path}": unknown file type`);
    return {
      type,
      size: Number(s.size),
      mode: Number(s.mode),
      uid: Number(s.uid),
      gid: Number(s.gid),
      mtimeNs: s.mtimeNs,
      ctimeNs: s.ctimeNs,
      ino: Number(s.ino),
      dev: Number(s.dev),
      nlink: Number(s.nlink),
    };
  },
  async readDir(path) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    return names;
  },
  readLink: (path) => Deno.readLink(path),
  readFile: (path) => Deno.readFile(path),
  async open(path) {
    const file = await Deno.open(path, { read: true });
    return file.readable;
  },
};
