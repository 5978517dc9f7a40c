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
  /** The whole content of a (small) file, in a new array. */
  readFile(path: string): Promise<Uint8Array>;
  /** The content of a file as a stream of pieces the consumer may keep. */
  open(path: string): Promise<AsyncIterable<Uint8Array>>;
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
 * A sync `lstat` slower than this means the metadata is not in memory (a
 * cold or remote disk): waiting on it would stall the event loop.
 */
const SLOW_SYNC_STAT_MS = 2;
/** Pieces of a streamed file. */
const STREAM_PIECE_BYTES = 1024 * 1024;
/** After this many slow sync stats, a run stats asynchronously. */
const SLOW_SYNC_STATS_ALLOWED = 16;

function sourceStat(info: Deno.FileInfo): SourceStat {
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
}

/**
 * The real file system through Deno's APIs.
 *
 * `lstat` is the hot call of an unchanged re-backup (one per entry, and
 * nothing else for an unchanged file). It starts synchronous, which costs a
 * few microseconds when the inode is cached, against tens for a trip through
 * the async thread pool; once {@linkcode SLOW_SYNC_STATS_ALLOWED} sync calls
 * have each taken more than {@linkcode SLOW_SYNC_STAT_MS} ms (the metadata
 * comes from a cold or remote disk, where many requests in flight win), it
 * switches to async calls for the rest of the run.
 */
export class DenoSourceFs implements SourceFs {
  #slowSyncStats = 0;

  /** Whether lstat still runs synchronously (see the class documentation). */
  get syncStats(): boolean {
    return this.#slowSyncStats < SLOW_SYNC_STATS_ALLOWED;
  }

  /** See {@linkcode SourceFs.lstat}. */
  async lstat(path: string): Promise<SourceStat> {
    if (this.syncStats) {
      const start = performance.now();
      const info = Deno.lstatSync(path);
      if (performance.now() - start > SLOW_SYNC_STAT_MS) this.#slowSyncStats++;
      return sourceStat(info);
    }
    return sourceStat(await Deno.lstat(path));
  }

  /** See {@linkcode SourceFs.readDir}. */
  async readDir(path: string): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    return names;
  }

  /** See {@linkcode SourceFs.readLink}. */
  readLink(path: string): Promise<string> {
    return Deno.readLink(path);
  }

  /** See {@linkcode SourceFs.readFile}. */
  readFile(path: string): Promise<Uint8Array> {
    // One call (open, read, close on the thread pool) rather than four.
    return Deno.readFile(path);
  }

  /** See {@linkcode SourceFs.open}. The pieces are 1 MiB (fewer, larger reads than a stream's). */
  async open(path: string): Promise<AsyncIterable<Uint8Array>> {
    const file = await Deno.open(path, { read: true });
    return (async function* () {
      try {
        for (;;) {
          const piece = new Uint8Array(STREAM_PIECE_BYTES);
          let filled = 0;
          while (filled < piece.length) {
            const n = await file.read(piece.subarray(filled));
            if (n === null) break;
            filled += n;
          }
          if (filled > 0) yield filled === piece.length ? piece : piece.subarray(0, filled);
          if (filled < piece.length) return;
        }
      } finally {
        file.close();
      }
    })();
  }
}

/** A {@linkcode DenoSourceFs} for one process: its sync/async choice is shared by its runs. */
export const denoSourceFs: SourceFs = new DenoSourceFs();
