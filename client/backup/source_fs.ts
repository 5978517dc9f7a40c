/**
 * The file system a backup reads, as a port: the backup engine takes it as a
 * parameter, so it can be pointed at any tree.
 *
 * @module
 */

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
  /**
   * The whole content of a (small) file, read into `buffer` when it fits
   * (the result is then a view of `buffer`), else into a new array.
   */
  readFile(path: string, buffer: Uint8Array): Promise<Uint8Array>;
  /** The content of a file as a stream of pieces the consumer may keep. */
  open(path: string): Promise<ReadableStream<Uint8Array>>;
}

function typeOf(info: Deno.FileInfo): SourceStat["type"] {
  if (info.isFile) return "file";
  if (info.isDirectory) return "dir";
  if (info.isSymlink) return "symlink";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "chardev";
  if (info.isBlockDevice) return "blockdev";
  throw new Error("unknown file type");
}

function ns(date: Date | null): bigint {
  return BigInt(date?.getTime() ?? 0) * 1_000_000n;
}

/**
 * The real file system, through Deno. Deno reports times to the millisecond
 * (rounded), so times are stored as whole milliseconds in ns.
 */
export const denoSourceFs: SourceFs = {
  async lstat(path) {
    const info = await Deno.lstat(path);
    return {
      type: typeOf(info),
      size: info.size,
      mode: info.mode ?? 0,
      uid: info.uid ?? 0,
      gid: info.gid ?? 0,
      mtimeNs: ns(info.mtime),
      ctimeNs: ns(info.ctime),
      ino: info.ino ?? 0,
      dev: info.dev,
      nlink: info.nlink ?? 1,
    };
  },
  async readDir(path) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    return names;
  },
  readLink: (path) => Deno.readLink(path),
  async readFile(path, buffer) {
    using file = await Deno.open(path, { read: true });
    let data = buffer;
    let length = 0;
    for (;;) {
      if (length === data.length) {
        // Larger than expected (it grew since lstat): continue in a new array.
        const grown = new Uint8Array(data.length * 2 + 65536);
        grown.set(data);
        data = grown;
      }
      const n = await file.read(data.subarray(length));
      if (n === null) return data.subarray(0, length);
      length += n;
    }
  },
  async open(path) {
    const file = await Deno.open(path, { read: true });
    return file.readable;
  },
};
