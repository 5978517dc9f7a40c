/**
 * The FUSE kernel protocol's wire format (`<linux/fuse.h>`, protocol 7.31):
 * pure decoding of requests read from `/dev/fuse` and encoding of replies.
 * Everything is little-endian (x86-64 and arm64).
 *
 * @module
 */

import { type Attr, FileType, type StatFs } from "../file_system.ts";

/** The protocol major version spoken. */
export const FUSE_MAJOR = 7;
/** The protocol minor version offered in the INIT reply. */
export const FUSE_MINOR = 31;

/** Request opcodes (`enum fuse_opcode`). */
export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
} as const;

/** Opcodes that would change the file system: answered with EROFS. */
export const WRITE_OPCODES: ReadonlySet<number> = new Set([
  Opcode.SETATTR,
  Opcode.SYMLINK,
  Opcode.MKNOD,
  Opcode.MKDIR,
  Opcode.UNLINK,
  Opcode.RMDIR,
  Opcode.RENAME,
  Opcode.LINK,
  Opcode.WRITE,
  Opcode.SETXATTR,
  Opcode.REMOVEXATTR,
  Opcode.CREATE,
  Opcode.FALLOCATE,
  Opcode.RENAME2,
  Opcode.COPY_FILE_RANGE,
  Opcode.TMPFILE,
  Opcode.SETUPMAPPING,
  Opcode.REMOVEMAPPING,
]);

/** INIT flags (`FUSE_*` capability bits). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
} as const;

/** Flags of an OPEN/OPENDIR reply (`FOPEN_*`). */
export const OpenFlag = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  CACHE_DIR: 1 << 3,
} as const;

/** Size of `struct fuse_in_header`. */
export const IN_HEADER_SIZE = 40;
/** Size of `struct fuse_out_header`. */
export const OUT_HEADER_SIZE = 16;
/** Size of `struct fuse_attr`. */
export const ATTR_SIZE = 88;
/** Size of `struct fuse_entry_out`. */
export const ENTRY_OUT_SIZE = 128;
/** Size of `struct fuse_attr_out`. */
export const ATTR_OUT_SIZE = 104;
/** Size of `struct fuse_open_out`. */
export const OPEN_OUT_SIZE = 16;
/** Size of `struct fuse_statfs_out`. */
export const STATFS_OUT_SIZE = 80;
/** Size of `struct fuse_init_out` (protocol 7.23 and later). */
export const INIT_OUT_SIZE = 64;
/** Size of `struct fuse_dirent` without its name. */
export const DIRENT_SIZE = 24;
/** The block size reported in `st_blksize`. */
export const BLOCK_SIZE = 4096;

/** The request header (`struct fuse_in_header`). */
export interface RequestHeader {
  /** Total request length in bytes. */
  length: number;
  /** The opcode ({@linkcode Opcode}). */
  opcode: number;
  /** The request id, echoed in the reply. */
  unique: bigint;
  /** The inode the request is about. */
  nodeid: number;
  /** The caller's user id. */
  uid: number;
  /** The caller's group id. */
  gid: number;
  /** The caller's process id. */
  pid: number;
}

/** One `struct fuse_forget_one` of a BATCH_FORGET. */
export interface Forget {
  /** The inode. */
  nodeid: number;
  /** How many lookups the kernel drops. */
  nlookup: number;
}

/** The decoded arguments of a request, by kind. */
export type RequestBody =
  | { kind: "init"; major: number; minor: number; maxReadahead: number; flags: number }
  | { kind: "lookup"; name: string }
  | { kind: "forget"; nlookup: number }
  | { kind: "batchForget"; forgets: Forget[] }
  | { kind: "getattr" }
  | { kind: "readlink" }
  | { kind: "open"; flags: number }
  | { kind: "opendir"; flags: number }
  | { kind: "read"; fh: number; offset: number; size: number }
  | { kind: "readdir"; fh: number; offset: number; size: number; plus: boolean }
  | { kind: "release"; fh: number }
  | { kind: "releasedir"; fh: number }
  | { kind: "statfs" }
  | { kind: "interrupt"; unique: bigint }
  | { kind: "destroy" }
  | { kind: "write" }
  | { kind: "unsupported" };

/** A decoded request. */
export interface Request {
  /** Its header. */
  header: RequestHeader;
  /** Its arguments. */
  body: RequestBody;
}

/** A request read from the device is malformed. */
export class WireError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WireError";
  }
}

const decoder = new TextDecoder();

/**
 * Decodes one request. The result shares no memory with `bytes`, so the
 * buffer can be reused for the next read at once.
 *
 * @throws {WireError} when the request is shorter than its structures.
 */
export function decodeRequest(bytes: Uint8Array): Request {
  if (bytes.length < IN_HEADER_SIZE) {
    throw new WireError(`Cannot decode a request of ${bytes.length} bytes: shorter than a header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header: RequestHeader = {
    length: view.getUint32(0, true),
    opcode: view.getUint32(4, true),
    unique: view.getBigUint64(8, true),
    nodeid: Number(view.getBigUint64(16, true)),
    uid: view.getUint32(24, true),
    gid: view.getUint32(28, true),
    pid: view.getUint32(32, true),
  };
  const end = Math.min(header.length, bytes.length);
  const need = (size: number) => {
    if (IN_HEADER_SIZE + size > end) {
      throw new WireError(
        `Cannot decode opcode ${header.opcode}: ${
          end - IN_HEADER_SIZE
        } argument bytes, need ${size}`,
      );
    }
  };
  const u32 = (at: number) => view.getUint32(IN_HEADER_SIZE + at, true);
  const u64 = (at: number) => Number(view.getBigUint64(IN_HEADER_SIZE + at, true));
  const body = ((): RequestBody => {
    switch (header.opcode) {
      case Opcode.INIT:
        need(16);
        return { kind: "init", major: u32(0), minor: u32(4), maxReadahead: u32(8), flags: u32(12) };
      case Opcode.LOOKUP: {
        const args = bytes.subarray(IN_HEADER_SIZE, end);
        const nul = args.indexOf(0);
        return { kind: "lookup", name: decoder.decode(nul < 0 ? args : args.subarray(0, nul)) };
      }
      case Opcode.FORGET:
        need(8);
        return { kind: "forget", nlookup: u64(0) };
      case Opcode.BATCH_FORGET: {
        need(8);
        const count = u32(0);
        need(8 + 16 * count);
        const forgets: Forget[] = [];
        for (let i = 0; i < count; i++) {
          forgets.push({ nodeid: u64(8 + 16 * i), nlookup: u64(16 + 16 * i) });
        }
        return { kind: "batchForget", forgets };
      }
      case Opcode.GETATTR:
        return { kind: "getattr" };
      case Opcode.READLINK:
        return { kind: "readlink" };
      case Opcode.OPEN:
        need(8);
        return { kind: "open", flags: u32(0) };
      case Opcode.OPENDIR:
        need(8);
        return { kind: "opendir", flags: u32(0) };
      case Opcode.READ:
        need(24);
        return { kind: "read", fh: u64(0), offset: u64(8), size: u32(16) };
      case Opcode.READDIR:
      case Opcode.READDIRPLUS:
        need(24);
        return {
          kind: "readdir",
          fh: u64(0),
          offset: u64(8),
          size: u32(16),
          plus: header.opcode === Opcode.READDIRPLUS,
        };
      case Opcode.RELEASE:
        need(8);
        return { kind: "release", fh: u64(0) };
      case Opcode.RELEASEDIR:
        need(8);
        return { kind: "releasedir", fh: u64(0) };
      case Opcode.STATFS:
        return { kind: "statfs" };
      case Opcode.INTERRUPT:
        need(8);
        return { kind: "interrupt", unique: view.getBigUint64(IN_HEADER_SIZE, true) };
      case Opcode.DESTROY:
        return { kind: "destroy" };
      default:
        return { kind: WRITE_OPCODES.has(header.opcode) ? "write" : "unsupported" };
    }
  })();
  return { header, body };
}

/** Whether a request gets no reply at all. */
export function isNoReply(body: RequestBody): boolean {
  return body.kind === "forget" || body.kind === "batchForget" || body.kind === "interrupt";
}

/**
 * The reply header (`struct fuse_out_header`) for a reply of `bodyLength`
 * bytes after it, or for an error `errno` (a positive errno; no body).
 */
export function encodeReplyHeader(unique: bigint, bodyLength: number, errno = 0): Uint8Array {
  const bytes = new Uint8Array(OUT_HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, OUT_HEADER_SIZE + (errno === 0 ? bodyLength : 0), true);
  view.setInt32(4, -errno, true);
  view.setBigUint64(8, unique, true);
  return bytes;
}

/** The fields of an INIT reply. */
export interface InitReply {
  /** The largest readahead the kernel may do, in bytes. */
  maxReadahead: number;
  /** Accepted {@linkcode InitFlag} bits. */
  flags: number;
  /** Background (asynchronous) requests the kernel keeps in flight. */
  maxBackground: number;
  /** Background requests at which the kernel reports congestion. */
  congestionThreshold: number;
  /** The largest WRITE payload. */
  maxWrite: number;
  /** Time granularity in nanoseconds. */
  timeGran: number;
  /** The largest request in pages (with {@linkcode InitFlag.MAX_PAGES}). */
  maxPages: number;
}

/** `struct fuse_init_out`. */
export function encodeInitOut(reply: InitReply): Uint8Array {
  const bytes = new Uint8Array(INIT_OUT_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, FUSE_MAJOR, true);
  view.setUint32(4, FUSE_MINOR, true);
  view.setUint32(8, reply.maxReadahead, true);
  view.setUint32(12, reply.flags >>> 0, true);
  view.setUint16(16, reply.maxBackground, true);
  view.setUint16(18, reply.congestionThreshold, true);
  view.setUint32(20, reply.maxWrite, true);
  view.setUint32(24, reply.timeGran, true);
  view.setUint16(28, reply.maxPages, true);
  return bytes;
}

/** Cache validity of names and attributes handed to the kernel. */
export interface Validity {
  /** How long the kernel may trust a name → inode entry, in milliseconds. */
  entryMs: number;
  /** How long the kernel may trust attributes, in milliseconds. */
  attrMs: number;
}

/** Splits milliseconds into whole seconds (floored, so negative before 1970) and nanoseconds. */
function splitMs(ms: number): [bigint, number] {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.max(0, Math.round((ms - seconds * 1000) * 1e6)));
  return [BigInt(seconds), nanos];
}

/** The `d_type` of a directory entry (`DT_*`) for a `mode`. */
export function direntType(mode: number): number {
  return (mode >>> 12) & 0o17;
}

function writeAttr(view: DataView, at: number, attr: Attr): void {
  const [seconds, nanos] = splitMs(attr.mtimeMs);
  view.setBigUint64(at, BigInt(attr.ino), true);
  view.setBigUint64(at + 8, BigInt(attr.size), true);
  view.setBigUint64(at + 16, BigInt(Math.ceil(attr.size / 512)), true);
  for (const field of [24, 32, 40]) view.setBigInt64(at + field, seconds, true);
  for (const field of [48, 52, 56]) view.setUint32(at + field, nanos, true);
  view.setUint32(at + 60, attr.mode, true);
  view.setUint32(at + 64, attr.nlink, true);
  view.setUint32(at + 68, attr.uid, true);
  view.setUint32(at + 72, attr.gid, true);
  view.setUint32(at + 76, attr.rdev ?? 0, true);
  view.setUint32(at + 80, BLOCK_SIZE, true);
  view.setUint32(at + 84, 0, true);
}

function writeEntry(view: DataView, at: number, attr: Attr, validity: Validity): void {
  const [entrySeconds, entryNanos] = splitMs(validity.entryMs);
  const [attrSeconds, attrNanos] = splitMs(validity.attrMs);
  view.setBigUint64(at, BigInt(attr.ino), true);
  view.setBigUint64(at + 8, 0n, true); // generation
  view.setBigUint64(at + 16, entrySeconds, true);
  view.setBigUint64(at + 24, attrSeconds, true);
  view.setUint32(at + 32, entryNanos, true);
  view.setUint32(at + 36, attrNanos, true);
  writeAttr(view, at + 40, attr);
}

/** `struct fuse_entry_out` (the reply to LOOKUP). */
export function encodeEntryOut(attr: Attr, validity: Validity): Uint8Array {
  const bytes = new Uint8Array(ENTRY_OUT_SIZE);
  writeEntry(new DataView(bytes.buffer), 0, attr, validity);
  return bytes;
}

/** `struct fuse_attr_out` (the reply to GETATTR). */
export function encodeAttrOut(attr: Attr, attrMs: number): Uint8Array {
  const bytes = new Uint8Array(ATTR_OUT_SIZE);
  const view = new DataView(bytes.buffer);
  const [seconds, nanos] = splitMs(attrMs);
  view.setBigUint64(0, seconds, true);
  view.setUint32(8, nanos, true);
  writeAttr(view, 16, attr);
  return bytes;
}

/** `struct fuse_open_out` (the reply to OPEN and OPENDIR). */
export function encodeOpenOut(fh: number, openFlags: number): Uint8Array {
  const bytes = new Uint8Array(OPEN_OUT_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(fh), true);
  view.setUint32(8, openFlags, true);
  return bytes;
}

/** `struct fuse_statfs_out`. */
export function encodeStatfsOut(stat: StatFs): Uint8Array {
  const bytes = new Uint8Array(STATFS_OUT_SIZE);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(stat.blocks), true);
  view.setBigUint64(8, BigInt(stat.bfree), true);
  view.setBigUint64(16, BigInt(stat.bavail), true);
  view.setBigUint64(24, BigInt(stat.files), true);
  view.setBigUint64(32, BigInt(stat.ffree), true);
  view.setUint32(40, stat.blockSize, true);
  view.setUint32(44, stat.nameMax, true);
  view.setUint32(48, stat.blockSize, true);
  return bytes;
}

/** One entry of a READDIR reply. */
export interface DirentRecord {
  /** Its inode number. */
  ino: number;
  /** The offset of the entry after it (what the next READDIR passes). */
  offset: number;
  /** Its `d_type` ({@linkcode direntType}). */
  type: number;
  /** Its name, encoded. */
  name: Uint8Array;
}

/** One entry of a READDIRPLUS reply. */
export interface DirentPlusRecord extends DirentRecord {
  /** Its attributes, counted as one lookup; absent: the kernel gets no entry (node id 0). */
  attr?: Attr;
}

/** The bytes a READDIR (or READDIRPLUS with `plus`) entry of a name of `nameLength` bytes takes. */
export function direntSize(nameLength: number, plus: boolean): number {
  const size = (plus ? ENTRY_OUT_SIZE : 0) + DIRENT_SIZE + nameLength;
  return (size + 7) & ~7;
}

function writeDirent(view: DataView, bytes: Uint8Array, at: number, record: DirentRecord): void {
  view.setBigUint64(at, BigInt(record.ino), true);
  view.setBigUint64(at + 8, BigInt(record.offset), true);
  view.setUint32(at + 16, record.name.length, true);
  view.setUint32(at + 20, record.type, true);
  bytes.set(record.name, at + DIRENT_SIZE);
}

/** The body of a READDIR reply: `struct fuse_dirent` records, each padded to 8 bytes. */
export function encodeDirents(records: readonly DirentRecord[]): Uint8Array {
  let size = 0;
  for (const record of records) size += direntSize(record.name.length, false);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const record of records) {
    writeDirent(view, bytes, at, record);
    at += direntSize(record.name.length, false);
  }
  return bytes;
}

/** The body of a READDIRPLUS reply: `struct fuse_direntplus` records, each padded to 8 bytes. */
export function encodeDirentsPlus(
  records: readonly DirentPlusRecord[],
  validity: Validity,
): Uint8Array {
  let size = 0;
  for (const record of records) size += direntSize(record.name.length, true);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const record of records) {
    if (record.attr !== undefined) writeEntry(view, at, record.attr, validity);
    writeDirent(view, bytes, at + ENTRY_OUT_SIZE, record);
    at += direntSize(record.name.length, true);
  }
  return bytes;
}

/** Whether `mode` is a directory. */
export function isDirectory(mode: number): boolean {
  return (mode & 0o170000) === FileType.DIR;
}
