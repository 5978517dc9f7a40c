/**
 * The C library calls of a FUSE mount, through the only `Deno.dlopen` of
 * `ddb mount`: opening `/dev/fuse`, mount(2)/umount2(2), reading requests
 * off the device without blocking the JavaScript thread, writing replies,
 * and receiving the device from `fusermount3` over a Unix socket.
 *
 * The library is opened on first use, so importing this module needs no
 * permission; calling it needs `--allow-ffi`.
 *
 * errno is only meaningful after a synchronous call (it is read on the same
 * thread right after it); a `nonblocking` call runs on another thread and
 * its errno is lost.
 *
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  dup: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  writev: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  mount: {
    parameters: ["buffer", "buffer", "buffer", "u64", "buffer"],
    result: "i32",
  },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Libc | undefined;

function libc(): Libc {
  library ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return library;
}

/** Linux constants used here (the same on x86-64 and arm64). */
export const Linux = {
  O_RDWR: 0o2,
  O_CLOEXEC: 0o2000000,
  MS_RDONLY: 1,
  MS_NOSUID: 2,
  MS_NODEV: 4,
  MNT_DETACH: 2,
  AF_UNIX: 1,
  SOCK_STREAM: 1,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SCM_RIGHTS: 1,
  POLLIN: 0x1,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  MSG_CMSG_CLOEXEC: 0x40000000,
} as const;

/** errno names of the values this layer reports. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  13: "EACCES",
  16: "EBUSY",
  19: "ENODEV",
  20: "ENOTDIR",
  22: "EINVAL",
  107: "ENOTCONN",
};

/** A C library call failed; `errno` says why (0 when unknown). */
export class LibcError extends Error {
  /** The positive errno of the failed call, or 0 when it was lost. */
  readonly errno: number;
  /** Builds the error for `call` failing with `errno`. */
  constructor(call: string, errno: number, options?: ErrorOptions) {
    const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
    super(`${call} failed: ${errno === 0 ? "unknown error" : name}`, options);
    this.name = "LibcError";
    this.errno = errno;
  }
}

/** The errno of the last synchronous call on this thread. */
function lastErrno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

const encoder = new TextEncoder();

/** `text` as a NUL-terminated C string. */
function cString(text: string): Uint8Array {
  const bytes = encoder.encode(`${text}\0`);
  if (bytes.indexOf(0) !== bytes.length - 1) {
    throw new TypeError(`Cannot pass "${text}" to C: it contains a NUL character`);
  }
  return bytes;
}

/**
 * Opens `/dev/fuse` read-write and close-on-exec.
 *
 * @throws {LibcError} when it cannot be opened.
 */
export function openFuseDevice(): number {
  const fd = libc().open(cString("/dev/fuse"), Linux.O_RDWR | Linux.O_CLOEXEC, 0);
  if (fd < 0) throw new LibcError('open("/dev/fuse")', lastErrno());
  return fd;
}

/** Closes `fd`, ignoring errors. */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/**
 * Reads once from `fd` into `buffer` on a thread of the blocking pool: the
 * JavaScript thread stays free. Resolves with the byte count, or -1 on an
 * error (errno is lost; see {@linkcode hasPollError}). `buffer` must not be
 * touched until the promise settles.
 */
export async function readAsync(fd: number, buffer: Uint8Array<ArrayBuffer>): Promise<number> {
  return Number(await libc().read(fd, buffer, BigInt(buffer.length)));
}

/**
 * Writes `parts` to `fd` with one writev(2), synchronously.
 *
 * @returns the byte count written, or minus the errno.
 */
export function writeVector(fd: number, parts: readonly Uint8Array[]): number {
  const iov = new BigUint64Array(parts.length * 2);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    iov[2 * i] = part.length === 0
      ? 0n
      : BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(part as Uint8Array<ArrayBuffer>)));
    iov[2 * i + 1] = BigInt(part.length);
  }
  const written = Number(libc().writev(fd, iov, parts.length));
  return written < 0 ? -lastErrno() : written;
}

/** Whether poll(2) reports an error or hang-up on `fd` right now (a FUSE device whose mount is gone). */
export function hasPollError(fd: number): boolean {
  const pollfd = new Int32Array([fd, Linux.POLLIN]);
  const ready = libc().poll(pollfd, 1n, 0);
  if (ready < 0) return false;
  const revents = pollfd[1] >>> 16;
  return (revents & (Linux.POLLERR | Linux.POLLHUP | Linux.POLLNVAL)) !== 0;
}

/**
 * mount(2).
 *
 * @throws {LibcError} on failure.
 */
export function mount(
  source: string,
  target: string,
  type: string,
  flags: number,
  data: string,
): void {
  const result = libc().mount(
    cString(source),
    cString(target),
    cString(type),
    BigInt(flags),
    cString(data),
  );
  if (result !== 0) throw new LibcError(`mount("${target}")`, lastErrno());
}

/**
 * umount2(2) with `MNT_DETACH`: detaches the mount now; the file system goes
 * away when its last user leaves.
 *
 * @throws {LibcError} on failure.
 */
export function detach(target: string): void {
  if (libc().umount2(cString(target), Linux.MNT_DETACH) !== 0) {
    throw new LibcError(`umount2("${target}", MNT_DETACH)`, lastErrno());
  }
}

/**
 * A connected pair of Unix stream sockets for passing a file descriptor from
 * a child: `own` is close-on-exec (kept by this process), `child` is not
 * (inherited by the next spawned process).
 *
 * @throws {LibcError} on failure.
 */
export function socketPairForChild(): { own: number; child: number } {
  const fds = new Int32Array(2);
  const type = Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC;
  if (libc().socketpair(Linux.AF_UNIX, type, 0, fds) !== 0) {
    throw new LibcError("socketpair", lastErrno());
  }
  const child = libc().dup(fds[1]);
  const error = child < 0 ? lastErrno() : 0;
  libc().close(fds[1]);
  if (child < 0) {
    libc().close(fds[0]);
    throw new LibcError("dup", error);
  }
  return { own: fds[0], child };
}

/**
 * Waits (on the blocking pool) for one message on Unix socket `socket`
 * carrying a file descriptor (SCM_RIGHTS) and returns that descriptor,
 * close-on-exec.
 *
 * @throws {LibcError} when the peer closed without sending one.
 */
export async function receiveFd(socket: number): Promise<number> {
  // struct msghdr (56 bytes), struct iovec (16 bytes), 1 data byte and a
  // control buffer of CMSG_SPACE(sizeof(int)) = 24 bytes, in one buffer.
  const memory = new Uint8Array(56 + 16 + 8 + 24);
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(memory)));
  const view = new DataView(memory.buffer);
  const iovAt = 56, dataAt = 72, controlAt = 80;
  view.setBigUint64(16, base + BigInt(iovAt), true); // msg_iov
  view.setBigUint64(24, 1n, true); // msg_iovlen
  view.setBigUint64(32, base + BigInt(controlAt), true); // msg_control
  view.setBigUint64(40, 24n, true); // msg_controllen
  view.setBigUint64(iovAt, base + BigInt(dataAt), true); // iov_base
  view.setBigUint64(iovAt + 8, 1n, true); // iov_len
  const received = Number(await libc().recvmsg(socket, memory, Linux.MSG_CMSG_CLOEXEC));
  const controlLength = Number(view.getBigUint64(40, true));
  if (received <= 0 || controlLength < 20) {
    throw new LibcError("recvmsg (SCM_RIGHTS)", 0);
  }
  const level = view.getInt32(controlAt + 8, true);
  const type = view.getInt32(controlAt + 12, true);
  if (level !== Linux.SOL_SOCKET || type !== Linux.SCM_RIGHTS) {
    throw new LibcError("recvmsg (SCM_RIGHTS): no descriptor", 0);
  }
  return view.getInt32(controlAt + 16, true);
}
