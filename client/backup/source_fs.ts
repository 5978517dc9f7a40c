/**
 * The file system a backup reads, as a port: the backup engine takes it as a
 * parameter, so it can be pointed at any tree.
 *
 * @module
 */

import { DirScanner, type ScannedEntry, type ScanOptions } from "./dir_scanner.ts";

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
  /**
   * Optional, for speed: the entries of directory `path` sorted by name,
   * each with its lstat or the message of its failure (as `readDir` and
   * `lstat` of each entry would give), and with `options.readUpTo` the
   * contents of small files read along. Rejects when the directory cannot be
   * listed.
   */
  scanDir?(path: string, options?: ScanOptions): Promise<ScannedEntry[]>;
  /** The target of symlink `path`. */
  readLink(path: string): Promise<string>;
  /** The whole content of a (small) file, in a new array. */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * The content of a file as a stream of pieces. A piece is valid until the
   * next one is asked for (the reader may refill one buffer).
   */
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
 * Sync calls are judged over windows of this many calls (see
 * {@linkcode DenoSourceFs}).
 */
const SYNC_WINDOW = 256;
/**
 * A window of sync `lstat`s averaging more than this (µs per call) means the
 * metadata comes from a slow disk (a cold spinning or remote one), where
 * waiting on each call in turn stalls the event loop and many requests in
 * flight would be served faster.
 */
const SLOW_SYNC_MEAN_US = 150;
/** Pieces of a streamed file. */
const STREAM_PIECE_BYTES = 1024 * 1024;

/** A {@linkcode SourceStat} from Deno's file info. */
export function sourceStat(info: Deno.FileInfo): SourceStat {
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
 * nothing else for an unchanged file), and `readDir` the next. Both start
 * synchronous (only `lstat`s are timed), which costs a few microseconds of the event loop when the
 * inode is cached and tens on a cold SSD, against ~30 µs of main-thread work
 * for a trip through the async thread pool. Cold metadata on a fast disk
 * still comes at ~27 µs per sync call with a few calls of milliseconds (an
 * inode table read): measured on 20,000 cold files, 0.54 s sync against
 * 0.60 s async with 64 in flight. So the choice is made on the mean: once
 * two windows in a row of {@linkcode SYNC_WINDOW} sync calls each average
 * more than {@linkcode SLOW_SYNC_MEAN_US} µs (a cold spinning or remote
 * disk, where many requests in flight win), the run switches to async calls
 * for good. One slow window is not enough: the first one, of a cold tree's
 * top directories scattered over the disk, measured 203 µs where the next
 * 200 averaged 20.
 */
export class DenoSourceFs implements SourceFs {
  readonly #scanner: DirScanner | undefined;
  #async = false;
  #windowCalls = 0;
  #windowMs = 0;
  #lastWindowSlow = false;

  /**
   * A file system; with `scanWorkers` > 0 it also offers `scanDir` on that
   * many worker threads (./dir_scanner.ts) — then {@linkcode close} it.
   */
  constructor(options: { scanWorkers?: number } = {}) {
    const workers = options.scanWorkers ?? 0;
    const scanner = workers > 0 ? new DirScanner(workers) : undefined;
    this.#scanner = scanner;
    if (scanner !== undefined) this.scanDir = (path, options) => scanner.scan(path, options);
  }

  /** See {@linkcode SourceFs.scanDir}: on the worker threads. */
  scanDir?: (path: string, options?: ScanOptions) => Promise<ScannedEntry[]>;

  /** Stops the scan workers, if any. */
  close(): void {
    this.#scanner?.close();
  }

  /** Whether lstat and readDir still run synchronously (see the class documentation). */
  get syncStats(): boolean {
    return !this.#async;
  }

  #timed<T>(call: () => T): T {
    const start = performance.now();
    try {
      return call();
    } finally {
      this.#windowMs += performance.now() - start;
      if (++this.#windowCalls >= SYNC_WINDOW) {
        const slow = (this.#windowMs * 1000) / this.#windowCalls > SLOW_SYNC_MEAN_US;
        if (slow && this.#lastWindowSlow) this.#async = true;
        this.#lastWindowSlow = slow;
        this.#windowCalls = 0;
        this.#windowMs = 0;
      }
    }
  }

  /** See {@linkcode SourceFs.lstat}. */
  async lstat(path: string): Promise<SourceStat> {
    if (this.#async) return sourceStat(await Deno.lstat(path));
    return sourceStat(this.#timed(() => Deno.lstatSync(path)));
  }

  /** See {@linkcode SourceFs.readDir}. */
  async readDir(path: string): Promise<string[]> {
    const names: string[] = [];
    if (this.#async) {
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
    } else {
      // Not timed: one call for a whole directory would weigh like one stat.
      for (const entry of Deno.readDirSync(path)) names.push(entry.name);
    }
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

  /**
   * See {@linkcode SourceFs.open}. The pieces are 1 MiB (fewer, larger reads
   * than a stream's), all in one buffer refilled for each piece.
   */
  async open(path: string): Promise<AsyncIterable<Uint8Array>> {
    const file = await Deno.open(path, { read: true });
    return (async function* () {
      try {
        const piece = new Uint8Array(STREAM_PIECE_BYTES);
        for (;;) {
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
