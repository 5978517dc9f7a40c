/**
 * Directory scans (list + lstat of every entry) on worker threads.
 *
 * An unchanged re-backup does little else than stat every entry, and on a
 * cold cache each directory listing and each inode-table block is a disk
 * read. Done synchronously on the main thread those reads come one after
 * the other (50,000 files in 2,000 directories: 2.5 s of waiting measured);
 * done with async calls they overlap but cost ~30 µs of main-thread work per
 * call. Here a few workers each scan whole directories with synchronous
 * calls: the reads of several directories overlap, the main thread does
 * none of it, and one message per directory carries the result.
 *
 * @module
 */

import type { SourceStat } from "./source_fs.ts";
import { SharedSlabs } from "../concurrency/shared_slabs.ts";

/** One entry of a scanned directory: its stat, or why it could not be stat'ed. */
export interface ScannedEntry {
  /** The entry's name. */
  name: string;
  /** Its lstat. */
  stat?: SourceStat;
  /** The error message of a failed lstat. */
  error?: string;
  /**
   * The content of a small regular file, read right after its lstat, when
   * the scan was asked to read along and it read as `stat.size` bytes.
   */
  content?: Uint8Array;
}

/** Files larger than this are never read along with a scan. */
export const READ_ALONG_MAX_FILE = 64 * 1024;

/**
 * Bytes read along with one scan, at most (a larger `readUpTo` is cut to
 * it). The worker reads into a buffer of this size that the main thread
 * made and shares with it, and the main thread copies each file out: a
 * buffer allocated on the worker's thread and freed on the main one would
 * grow the process's malloc arenas (~25 MiB of peak RSS on a first backup).
 */
export const READ_ALONG_SLAB_BYTES = 256 * 1024;

/** Options of one scan. */
export interface ScanOptions {
  /**
   * Read regular files of at most {@linkcode READ_ALONG_MAX_FILE} bytes
   * along, in name order, up to this many bytes in all (default 0: none;
   * at most {@linkcode READ_ALONG_SLAB_BYTES}).
   * For a run that will read every file anyway (a first backup): the read
   * happens on the worker, in the same pass, instead of in a call of its own
   * from the main thread.
   */
  readUpTo?: number;
}

/** Internal: a request to a worker. */
export interface ScanRequest {
  kind: "scan";
  /** Request id. */
  id: number;
  /** Directory to scan. */
  path: string;
  /** See {@linkcode ScanOptions.readUpTo}; needs `slab`. */
  readUpTo: number;
  /** The shared buffer (by number) to read files along into. */
  slab?: number;
}

/** Internal: an entry as a worker answers it: a file read along is at `at` in the slab. */
export interface WireEntry extends Omit<ScannedEntry, "content"> {
  /** Where the file's `stat.size` bytes start in the request's slab. */
  at?: number;
}

/** Internal: a worker's answer. */
export type ScanReply =
  | { id: number; entries: WireEntry[] }
  | { id: number; error: string };

/** A directory could not be listed. */
export class DirScanError extends Error {
  /** Builds the error for `path`. */
  constructor(path: string, reason: string) {
    super(`Cannot read directory "${path}": ${reason}`);
    this.name = "DirScanError";
  }
}

interface Pending {
  path: string;
  resolve(entries: WireEntry[]): void;
  reject(error: Error): void;
}

class ScanWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  /** The slabs this worker was given. */
  readonly slabs = new Set<number>();

  constructor(onFailure: (error: Error) => void) {
    this.worker = new Worker(new URL("./dir_scan_worker.ts", import.meta.url), {
      type: "module",
    });
    this.worker.onmessage = (event: MessageEvent<ScanReply>) => {
      const reply = event.data;
      const request = this.pending.get(reply.id);
      if (request === undefined) return;
      this.pending.delete(reply.id);
      if ("error" in reply) request.reject(new DirScanError(request.path, reply.error));
      else request.resolve(reply.entries);
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      onFailure(new Error(`Directory scan worker failed: ${event.message}`));
    };
  }
}

/** Scans directories on a few worker threads; {@linkcode close} it when done. */
export class DirScanner {
  readonly #workers: ScanWorker[] = [];
  readonly #slabs = new SharedSlabs(READ_ALONG_SLAB_BYTES);
  readonly #size: number;
  #next = 0;
  #closed = false;

  /** A scanner of up to `workers` threads, started on first use. */
  constructor(workers = 3) {
    if (!(Number.isSafeInteger(workers) && workers > 0)) {
      throw new RangeError(`Cannot scan with ${workers} workers: not a positive integer`);
    }
    this.#size = workers;
  }

  /**
   * The entries of directory `path`, sorted by name, each with its lstat or
   * error, and small files' contents when asked (see {@linkcode ScanOptions}).
   */
  scan(path: string, options: ScanOptions = {}): Promise<ScannedEntry[]> {
    if (this.#closed) return Promise.reject(new Error("Cannot scan: the scanner is closed"));
    const readUpTo = options.readUpTo ?? 0;
    if (!(Number.isSafeInteger(readUpTo) && readUpTo >= 0)) {
      return Promise.reject(new RangeError(`Cannot read ${readUpTo} bytes along: not a count`));
    }
    const worker = this.#pick();
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<ScannedEntry[]>();
    const slab = readUpTo > 0 ? this.#slabs.lend(worker.worker, worker.slabs) : undefined;
    worker.pending.set(id, {
      path,
      resolve: (wire) => {
        resolve(slab === undefined ? wire : this.#copyOut(wire, slab));
        if (slab !== undefined) this.#slabs.release(slab);
      },
      reject: (error) => {
        // The worker answered (the directory cannot be listed): it is done
        // with the slab. A failed or closed worker may still write to it:
        // then the slab is never lent again.
        if (slab !== undefined && error instanceof DirScanError) this.#slabs.release(slab);
        reject(error);
      },
    });
    const request: ScanRequest = {
      kind: "scan",
      id,
      path,
      readUpTo: Math.min(readUpTo, READ_ALONG_SLAB_BYTES),
      slab,
    };
    worker.worker.postMessage(request);
    return promise;
  }

  /** The entries with the files read along copied out of `slab`. */
  #copyOut(wire: WireEntry[], slab: number): ScannedEntry[] {
    const bytes = this.#slabs.bytes(slab);
    return wire.map(({ at, ...entry }) => {
      if (at === undefined || entry.stat === undefined) return entry;
      return { ...entry, content: bytes.slice(at, at + entry.stat.size) };
    });
  }

  /** The least busy worker, starting another while there are fewer than allowed. */
  #pick(): ScanWorker {
    let best: ScanWorker | undefined;
    for (const w of this.#workers) {
      if (best === undefined || w.pending.size < best.pending.size) best = w;
    }
    if (best !== undefined && (best.pending.size === 0 || this.#workers.length >= this.#size)) {
      return best;
    }
    const started = new ScanWorker((error) => this.#fail(started, error));
    this.#workers.push(started);
    return started;
  }

  #fail(worker: ScanWorker, error: Error): void {
    for (const request of worker.pending.values()) request.reject(error);
    worker.pending.clear();
    worker.worker.terminate();
    this.#workers.splice(this.#workers.indexOf(worker), 1);
  }

  /** Stops the workers; scans still pending are rejected. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers.splice(0)) {
      w.worker.terminate();
      for (const request of w.pending.values()) {
        request.reject(new Error("Cannot scan: the scanner was closed"));
      }
    }
  }
}
