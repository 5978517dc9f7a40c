/**
 * A FUSE session: reads kernel requests from a {@linkcode FuseChannel},
 * answers them from a read-only {@linkcode FileSystem}, and writes the
 * replies back.
 *
 * Concurrency: a few reader loops (default 4) each keep one read of the
 * device pending on the blocking thread pool. A request is decoded (copied
 * out of the reader's buffer) and handed to an async handler at once, and
 * the reader reads again, so many requests are in flight together; each
 * reply is written with one synchronous writev as soon as its handler is
 * done, in whatever order handlers finish (the kernel matches replies by
 * their `unique` id).
 *
 * @module
 */

import { type Attr, type FileSystem, FileType, FsError } from "../file_system.ts";
import {
  decodeRequest,
  direntSize,
  direntType,
  encodeAttrOut,
  encodeDirents,
  encodeDirentsPlus,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeReplyHeader,
  encodeStatfsOut,
  FUSE_MAJOR,
  IN_HEADER_SIZE,
  InitFlag,
  isDirectory,
  isNoReply,
  OpenFlag,
  type Request,
  type RequestHeader,
  type Validity,
} from "./wire.ts";

/** Where requests come from and replies go: the FUSE device of a mount. */
export interface FuseChannel {
  /**
   * Reads one request into `buffer`. Resolves with its length; 0 when the
   * read failed but the mount is alive (try again); null once the mount is
   * gone.
   */
  read(buffer: Uint8Array<ArrayBuffer>): Promise<number | null>;
  /** Writes one reply made of `parts`; returns 0, or a negative errno. */
  write(parts: readonly Uint8Array[]): number;
}

/** Options of {@linkcode startSession}. */
export interface SessionOptions {
  /** Concurrent reads of the device (default 4). */
  readers?: number;
  /** How long the kernel caches names and attributes, in milliseconds (default 1000). */
  cacheTimeoutMs?: number;
  /** Keep a file's page cache across opens (default true; invalidated when size or mtime change). */
  keepCache?: boolean;
  /** Receives problems: failed file-system calls, malformed requests. Default: `console.error`. */
  log?: (message: string) => void;
}

/** A running session. */
export interface FuseSession {
  /** Resolves once INIT is answered (the mount is usable); rejects if the session ends first. */
  readonly ready: Promise<void>;
  /**
   * Resolves when the device reports that the mount is gone and every reader
   * has stopped. Replies of handlers still running afterwards are dropped.
   */
  readonly closed: Promise<void>;
}

/** Bytes of one read buffer: 128 KiB of WRITE payload (the advertised max_write) plus headers. */
const MAX_WRITE = 128 * 1024;
const BUFFER_SIZE = MAX_WRITE + 4096;
/** Largest request in pages: 1 MiB reads. */
const MAX_PAGES = 256;
/** Capability bits asked for in INIT (granted as far as the kernel offers them). */
const WANTED_FLAGS = InitFlag.ASYNC_READ | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES |
  InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO | InitFlag.AUTO_INVAL_DATA |
  InitFlag.BIG_WRITES;

const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;
const EROFS = 30;
const ENOSYS = 38;
const EIO = 5;
const EBADF = 9;
const EPROTO = 71;
const ENOENT = 2;

const encoder = new TextEncoder();

/** One entry of a directory listing held by an open directory handle. */
interface ListingItem {
  name: string;
  encoded: Uint8Array;
  ino: number;
  type: number;
  /** Whether it is "." or "..", which READDIRPLUS sends without an entry. */
  dot: boolean;
}

interface DirHandle {
  ino: number;
  listing?: Promise<ListingItem[]>;
}

/** Starts serving `fs` on `channel`. */
export function startSession(
  fs: FileSystem,
  channel: FuseChannel,
  options: SessionOptions = {},
): FuseSession {
  return new Session(fs, channel, options).start(options.readers ?? 4);
}

class Session {
  readonly #fs: FileSystem;
  readonly #channel: FuseChannel;
  readonly #validity: Validity;
  readonly #openFlags: number;
  readonly #log: (message: string) => void;
  readonly #ready = Promise.withResolvers<void>();
  readonly #dirs = new Map<number, DirHandle>();
  /** The parent of each directory seen, for "..". */
  readonly #parents = new Map<number, number>();
  #nextDirHandle = 1;
  #ended = false;

  constructor(fs: FileSystem, channel: FuseChannel, options: SessionOptions) {
    this.#fs = fs;
    this.#channel = channel;
    const timeout = options.cacheTimeoutMs ?? 1000;
    this.#validity = { entryMs: timeout, attrMs: timeout };
    this.#openFlags = (options.keepCache ?? true) ? OpenFlag.KEEP_CACHE : 0;
    this.#log = options.log ?? ((message) => console.error(message));
    // Never an unhandled rejection: `closed` is the promise callers watch.
    this.#ready.promise.catch(() => {});
  }

  start(readers: number): FuseSession {
    const loops = Array.from({ length: Math.max(1, readers) }, () => this.#readLoop());
    const closed = Promise.all(loops).then(() => {
      this.#ended = true;
      this.#ready.reject(new Error("The FUSE session ended before INIT"));
    });
    return { ready: this.#ready.promise, closed };
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(BUFFER_SIZE);
    let failures = 0;
    while (!this.#ended) {
      let length: number | null;
      try {
        length = await this.#channel.read(buffer);
      } catch (error) {
        this.#log(`fuse: reading the device failed: ${describe(error)}`);
        length = null;
      }
      if (length === null) break;
      if (length === 0) {
        // A failed read on a live mount (e.g. EINTR): retry, slowly if it persists.
        if (++failures > 3) await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      failures = 0;
      let request: Request;
      try {
        request = decodeRequest(buffer.subarray(0, length));
      } catch (error) {
        this.#log(`fuse: ${(error as Error).message}`);
        if (length >= IN_HEADER_SIZE) {
          const unique = new DataView(buffer.buffer).getBigUint64(8, true);
          this.#reply(unique, EIO);
        }
        continue;
      }
      this.#handle(request);
    }
    this.#ended = true;
  }

  async #handle(request: Request): Promise<void> {
    const { header, body } = request;
    try {
      await this.#dispatch(request);
    } catch (error) {
      if (isNoReply(body)) {
        this.#log(`fuse: ${body.kind} of inode ${header.nodeid} failed: ${describe(error)}`);
        return;
      }
      let errno = EIO;
      if (error instanceof FsError && Number.isInteger(error.errno) && error.errno > 0) {
        errno = error.errno;
      } else {
        this.#log(`fuse: ${body.kind} of inode ${header.nodeid} failed: ${describe(error)}`);
      }
      this.#reply(header.unique, errno);
    }
  }

  async #dispatch({ header, body }: Request): Promise<void> {
    const fs = this.#fs;
    const ino = header.nodeid;
    switch (body.kind) {
      case "init": {
        if (body.major !== FUSE_MAJOR) {
          this.#log(`fuse: the kernel speaks protocol ${body.major}.${body.minor}, not 7.x`);
          this.#reply(header.unique, EPROTO);
          return;
        }
        this.#reply(
          header.unique,
          0,
          encodeInitOut({
            maxReadahead: body.maxReadahead,
            flags: body.flags & WANTED_FLAGS,
            maxBackground: 64,
            congestionThreshold: 48,
            maxWrite: MAX_WRITE,
            timeGran: 1,
            maxPages: MAX_PAGES,
          }),
        );
        this.#ready.resolve();
        return;
      }
      case "lookup": {
        const attr = await fs.lookup(ino, body.name);
        this.#noteParent(attr, ino);
        this.#reply(header.unique, 0, encodeEntryOut(attr, this.#validity));
        return;
      }
      case "forget":
        fs.forget(ino, body.nlookup);
        return;
      case "batchForget":
        for (const { nodeid, nlookup } of body.forgets) fs.forget(nodeid, nlookup);
        return;
      case "interrupt":
        // Requests are short; the reply (or its absence) settles the interrupted one.
        return;
      case "getattr":
        this.#reply(header.unique, 0, encodeAttrOut(await fs.getattr(ino), this.#validity.attrMs));
        return;
      case "readlink":
        this.#reply(header.unique, 0, encoder.encode(await fs.readlink(ino)));
        return;
      case "open": {
        if ((body.flags & O_ACCMODE) !== O_RDONLY || (body.flags & O_TRUNC) !== 0) {
          this.#reply(header.unique, EROFS);
          return;
        }
        const fh = await fs.open(ino);
        this.#reply(header.unique, 0, encodeOpenOut(fh, this.#openFlags));
        return;
      }
      case "read": {
        const data = await fs.read(ino, body.fh, body.offset, body.size);
        this.#reply(
          header.unique,
          0,
          data.length > body.size ? data.subarray(0, body.size) : data,
        );
        return;
      }
      case "release":
        await fs.release(ino, body.fh);
        this.#reply(header.unique, 0);
        return;
      case "opendir": {
        if ((body.flags & O_ACCMODE) !== O_RDONLY) {
          this.#reply(header.unique, EROFS);
          return;
        }
        const fh = this.#nextDirHandle++;
        this.#dirs.set(fh, { ino });
        this.#reply(header.unique, 0, encodeOpenOut(fh, 0));
        return;
      }
      case "readdir":
        await this.#readdir(header, body.fh, body.offset, body.size, body.plus);
        return;
      case "releasedir":
        this.#dirs.delete(body.fh);
        this.#reply(header.unique, 0);
        return;
      case "statfs":
        this.#reply(header.unique, 0, encodeStatfsOut(await fs.statfs()));
        return;
      case "destroy":
        this.#reply(header.unique, 0);
        return;
      case "write":
        this.#reply(header.unique, EROFS);
        return;
      case "unsupported":
        this.#reply(header.unique, ENOSYS);
        return;
    }
  }

  /**
   * Answers READDIR/READDIRPLUS at `offset` (the number of entries already
   * returned) with as many entries as fit in `size` bytes. The listing is
   * fetched at offset 0 (so a rewind sees new entries) and kept by the
   * handle for the following pages. READDIRPLUS entries count as lookups,
   * so each one sent is looked up in the file system.
   */
  async #readdir(
    header: RequestHeader,
    fh: number,
    offset: number,
    size: number,
    plus: boolean,
  ): Promise<void> {
    const handle = this.#dirs.get(fh);
    if (handle === undefined) throw new FsError(EBADF, `No open directory handle ${fh}`);
    if (offset === 0 || handle.listing === undefined) {
      const fetched = this.#listing(handle.ino);
      handle.listing = fetched;
      // A failed listing is not kept: the next READDIR tries again.
      fetched.catch(() => {
        if (handle.listing === fetched) handle.listing = undefined;
      });
    }
    const listing = await handle.listing;
    const page: ListingItem[] = [];
    let used = 0;
    for (let index = offset; index < listing.length; index++) {
      const item = listing[index];
      const bytes = direntSize(item.encoded.length, plus);
      if (used + bytes > size) break;
      used += bytes;
      page.push(item);
    }
    const records = page.map((item, i) => ({
      ino: item.ino,
      offset: offset + i + 1,
      type: item.type,
      name: item.encoded,
    }));
    if (!plus) {
      this.#reply(header.unique, 0, encodeDirents(records));
      return;
    }
    const attrs = await Promise.all(page.map(async (item): Promise<Attr | undefined> => {
      if (item.dot) return undefined;
      try {
        const attr = await this.#fs.lookup(handle.ino, item.name);
        this.#noteParent(attr, handle.ino);
        return attr;
      } catch (error) {
        if (!(error instanceof FsError && error.errno === ENOENT)) {
          this.#log(
            `fuse: lookup of "${item.name}" in inode ${handle.ino} failed: ${describe(error)}`,
          );
        }
        return undefined;
      }
    }));
    if (this.#ended) {
      // The reply cannot be sent: give back the lookups just counted.
      attrs.forEach((attr) => attr && this.#fs.forget(attr.ino, 1));
      return;
    }
    const plusRecords = records.map((record, i) => ({ ...record, attr: attrs[i] }));
    const sent = this.#reply(header.unique, 0, encodeDirentsPlus(plusRecords, this.#validity));
    if (!sent) attrs.forEach((attr) => attr && this.#fs.forget(attr.ino, 1));
  }

  async #listing(ino: number): Promise<ListingItem[]> {
    const entries = await this.#fs.readdir(ino);
    const dir = (name: string, target: number): ListingItem => ({
      name,
      encoded: encoder.encode(name),
      ino: target,
      type: direntType(FileType.DIR),
      dot: true,
    });
    const items = [dir(".", ino), dir("..", this.#parents.get(ino) ?? ino)];
    for (const entry of entries) {
      this.#noteParent(entry.attr, ino);
      items.push({
        name: entry.name,
        encoded: encoder.encode(entry.name),
        ino: entry.attr.ino,
        type: direntType(entry.attr.mode),
        dot: false,
      });
    }
    return items;
  }

  #noteParent(attr: Attr, parent: number): void {
    if (isDirectory(attr.mode) && attr.ino !== parent) this.#parents.set(attr.ino, parent);
  }

  /**
   * Writes a reply: `errno` 0 with an optional body, or an error. Returns
   * whether the kernel took it (it refuses replies to requests it gave up on).
   */
  #reply(unique: bigint, errno: number, body?: Uint8Array): boolean {
    if (this.#ended) return false;
    const length = errno === 0 ? body?.length ?? 0 : 0;
    const parts = [encodeReplyHeader(unique, length, errno)];
    if (errno === 0 && body !== undefined && body.length > 0) parts.push(body);
    const result = this.#channel.write(parts);
    if (result < 0 && result !== -ENOENT) {
      this.#log(`fuse: writing the reply to request ${unique} failed with errno ${-result}`);
    }
    return result >= 0;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
