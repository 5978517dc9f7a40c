/**
 * The read-only file system that a FUSE session serves: the seam between the
 * kernel protocol (`fuse/kernel/`, the only FFI) and the file-system logic
 * (`fuse/snapshot_fs.ts`, pure and testable without a mount).
 *
 * Contract:
 * - Inode numbers are positive safe integers; {@linkcode ROOT_INODE} is the
 *   root. An inode number, once handed out by `lookup` or `readdir`, keeps
 *   meaning the same node for the life of the session (it may be forgotten
 *   after `forget` brings its lookup count to zero).
 * - Every method may be called many times concurrently.
 * - Failures are reported by rejecting with {@linkcode FsError} carrying a
 *   positive errno (ENOENT, EIO, …); any other rejection is answered with EIO
 *   by the kernel layer and logged.
 * - Nothing is ever written: the kernel layer answers every write-like
 *   operation with EROFS itself.
 *
 * @module
 */

/** The inode number of the root directory. */
export const ROOT_INODE = 1;

/** Linux errno values used by the file system. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
} as const;

/** A file-system operation failed with `errno` (a positive Linux errno). */
export class FsError extends Error {
  /** The positive errno returned to the kernel. */
  readonly errno: number;
  /** Builds the error; `message` explains it for logs. */
  constructor(errno: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FsError";
    this.errno = errno;
  }
}

/** File type bits of `mode` (as in `stat(2)`). */
export const FileType = {
  /** Regular file. */
  REG: 0o100000,
  /** Directory. */
  DIR: 0o040000,
  /** Symbolic link. */
  LNK: 0o120000,
  /** Named pipe. */
  FIFO: 0o010000,
  /** Socket. */
  SOCK: 0o140000,
  /** Character device. */
  CHR: 0o020000,
  /** Block device. */
  BLK: 0o060000,
} as const;

/** The attributes of one inode, as `stat(2)` reports them. */
export interface Attr {
  /** The inode number. */
  ino: number;
  /** Type bits and permission bits (e.g. `FileType.REG | 0o644`). */
  mode: number;
  /** Size in bytes (a symlink: the length of its target). */
  size: number;
  /** Link count. */
  nlink: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Modification time, milliseconds since the epoch (also used for atime and ctime). */
  mtimeMs: number;
  /** Device number for character and block devices, else 0. */
  rdev?: number;
}

/** One entry of a directory listing. */
export interface DirEntry {
  /** The entry's name (never "." or ".."; the kernel layer adds those). */
  name: string;
  /** Its attributes (its inode number is `attr.ino`). */
  attr: Attr;
}

/** What `statfs(2)` reports. */
export interface StatFs {
  /** Total size in blocks of `blockSize`. */
  blocks: number;
  /** Free blocks (0: the mount is read-only). */
  bfree: number;
  /** Blocks available to unprivileged users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Block size in bytes. */
  blockSize: number;
  /** Longest file name. */
  nameMax: number;
}

/** A read-only file system served over FUSE. See the module documentation for the contract. */
export interface FileSystem {
  /** The attributes of `name` in directory `parent`, counting one lookup of it. */
  lookup(parent: number, name: string): Promise<Attr>;
  /** Drops `count` lookups of `ino` (the kernel forgot it). */
  forget(ino: number, count: number): void;
  /** The attributes of `ino`. */
  getattr(ino: number): Promise<Attr>;
  /** The target of symlink `ino`. */
  readlink(ino: number): Promise<string>;
  /** The whole listing of directory `ino` (the kernel layer pages it). */
  readdir(ino: number): Promise<DirEntry[]>;
  /** Opens file `ino` for reading; resolves to a file handle passed to `read` and `release`. */
  open(ino: number): Promise<number>;
  /** Up to `size` bytes of file `ino` at `offset` (fewer only at end of file). */
  read(ino: number, handle: number, offset: number, size: number): Promise<Uint8Array>;
  /** Closes a handle returned by `open`. */
  release(ino: number, handle: number): Promise<void>;
  /** File-system statistics. */
  statfs(): Promise<StatFs>;
}
