/**
 * Serving a read-only {@linkcode FileSystem} as a FUSE mount by speaking the
 * FUSE kernel protocol over `/dev/fuse` (no libfuse). See docs/fuse.md.
 *
 * The serving process must never touch its own mount point synchronously:
 * its JavaScript thread answers the kernel.
 *
 * @example Mount until SIGINT or SIGTERM
 * ```ts ignore
 * import { mountFileSystem } from "./mod.ts";
 *
 * const handle = await mountFileSystem(fs, "/mnt/ddb", { allowOther: true });
 * for (const signal of ["SIGINT", "SIGTERM"] as const) {
 *   Deno.addSignalListener(signal, () => handle.unmount());
 * }
 * await handle.closed; // after the last user of the mount left
 * ```
 *
 * @module
 */

import type { FileSystem } from "../file_system.ts";
import { FuseDevice } from "./device.ts";
import {
  cleanStaleMount,
  mountDevice,
  MountError,
  type MountMethod,
  readMountInfo,
  resolveMountpoint,
  SUBTYPE,
} from "./mount.ts";
import { mountsAt } from "./mount_info.ts";
import { startSession } from "./session.ts";

export { MountError, type MountMethod, unmountPath } from "./mount.ts";

/** The read_ahead_kb set on a new mount unless told otherwise (the kernel's default is 128). */
export const DEFAULT_READ_AHEAD_KB = 4096;

/** Options of {@linkcode mountFileSystem}. */
export interface MountOptions {
  /** Let other users (and root, when mounted by a user) see the mount: `allow_other`. */
  allowOther?: boolean;
  /**
   * The kernel readahead of the mount in KiB (`/sys/class/bdi/<dev>/read_ahead_kb`;
   * default {@linkcode DEFAULT_READ_AHEAD_KB}). Sequential reads are
   * latency-bound, so a larger readahead keeps more reads in flight. Setting it
   * needs root; otherwise it is logged and left alone.
   */
  readAheadKb?: number;
  /** Receives problems and notices. Default: `console.error`. */
  log?: (message: string) => void;
  /** The mount source shown in /proc/mounts and df (default "ddb"). */
  fsName?: string;
  /** How long the kernel caches names and attributes, in milliseconds (default 1000). */
  cacheTimeoutMs?: number;
  /** Concurrent reads of the device (default 4). */
  readers?: number;
  /**
   * Mount read-only (`ro`), so the kernel refuses writes before they reach
   * the session (default true). With false, the session answers them EROFS.
   */
  readOnlyMount?: boolean;
}

/** A mounted file system. */
export interface MountHandle {
  /** The absolute mount point. */
  readonly mountpoint: string;
  /** How it was mounted. */
  readonly method: MountMethod;
  /**
   * Detaches the mount lazily: it leaves the namespace at once, and the
   * file system keeps serving until its last user leaves ({@linkcode closed}).
   * A no-op once unmounted.
   */
  unmount(): Promise<void>;
  /** Resolves when the mount is gone and the session has ended. */
  readonly closed: Promise<void>;
}

/**
 * Mounts `fs` at `mountpoint`, first cleaning a stale mount left there by a
 * killed server. Resolves once the kernel finished INIT (the mount is usable).
 *
 * @throws {MountError} when the mount point is busy or mounting fails.
 */
export async function mountFileSystem(
  fs: FileSystem,
  mountpoint: string,
  options: MountOptions = {},
): Promise<MountHandle> {
  const log = options.log ?? ((message: string) => console.error(message));
  const absolute = await resolveMountpoint(mountpoint);
  const stale = await cleanStaleMount(absolute);
  if (stale > 0) log(`fuse: detached ${stale} stale mount(s) at ${absolute}`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(absolute);
  } catch (error) {
    throw new MountError(`Cannot mount "${absolute}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!info.isDirectory) throw new MountError(`Cannot mount "${absolute}": not a directory`);

  const device = await mountDevice(absolute, {
    allowOther: options.allowOther,
    fsName: options.fsName,
    readOnly: options.readOnlyMount,
  });
  const session = startSession(fs, new FuseDevice(device.fd), {
    readers: options.readers,
    cacheTimeoutMs: options.cacheTimeoutMs,
    log,
  });
  const closed = session.closed.then(() => device.close());
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      session.ready,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no INIT from the kernel in 10 s")), 10_000);
      }),
    ]);
  } catch (error) {
    await device.unmount().catch(() => {});
    await closed;
    throw new MountError(`Cannot mount "${absolute}": ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
  await setReadAhead(absolute, options.readAheadKb ?? DEFAULT_READ_AHEAD_KB, log);
  return {
    mountpoint: absolute,
    method: device.method,
    unmount: () => device.unmount(),
    closed,
  };
}

/** Sets read_ahead_kb of the FUSE mount at `mountpoint` (its bdi is named by its device number). */
async function setReadAhead(
  mountpoint: string,
  kilobytes: number,
  log: (message: string) => void,
): Promise<void> {
  const mounts = mountsAt(await readMountInfo(), mountpoint);
  const top = mounts[mounts.length - 1];
  if (top === undefined || top.type !== `fuse.${SUBTYPE}`) return;
  const path = `/sys/class/bdi/${top.device}/read_ahead_kb`;
  try {
    await Deno.writeTextFile(path, `${Math.max(0, Math.floor(kilobytes))}\n`);
  } catch (error) {
    log(`fuse: cannot set ${path} to ${kilobytes}: ${(error as Error).message}`);
  }
}
