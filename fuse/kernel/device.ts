/**
 * An open `/dev/fuse` descriptor as a {@linkcode FuseChannel}.
 *
 * @module
 */

import { hasPollError, readAsync, writeVector } from "./libc.ts";
import type { FuseChannel } from "./session.ts";

/** The FUSE device of one mount, read on the blocking pool and written synchronously. */
export class FuseDevice implements FuseChannel {
  /** The descriptor. */
  readonly fd: number;

  /** Wraps `fd` (not owned: the caller closes it after the session ends). */
  constructor(fd: number) {
    this.fd = fd;
  }

  /**
   * Reads one request. A failed read's errno is lost (it ran on another
   * thread), so poll(2) tells a gone mount (POLLERR: null) from a passing
   * failure such as EINTR (0).
   */
  async read(buffer: Uint8Array<ArrayBuffer>): Promise<number | null> {
    const length = await readAsync(this.fd, buffer);
    if (length > 0) return length;
    return hasPollError(this.fd) ? null : 0;
  }

  /** Writes one reply with writev(2); 0 or a negative errno. */
  write(parts: readonly Uint8Array[]): number {
    const written = writeVector(this.fd, parts);
    return written < 0 ? written : 0;
  }
}
