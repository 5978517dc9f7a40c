/**
 * Mounting and unmounting a FUSE file system, and recovering a stale
 * mount point.
 *
 * - As root: `/dev/fuse` is opened here and mounted with mount(2), type
 *   `fuse.ddb`. If that is refused (EPERM: no CAP_SYS_ADMIN), or when not
 *   root: `fusermount3` (setuid) mounts it and passes the device back over a
 *   Unix socket (`_FUSE_COMMFD`, SCM_RIGHTS), with `auto_unmount` so that
 *   fusermount3 unmounts when this process dies, even by SIGKILL.
 * - Unmounting is always lazy (umount2 MNT_DETACH, `fusermount3 -u -z`):
 *   the mount leaves the namespace at once and the file system keeps
 *   serving until its last user leaves.
 * - A mount whose server died (SIGKILL) stays behind answering ENOTCONN
 *   ("Transport endpoint is not connected"); {@linkcode cleanStaleMount}
 *   detaches such leftovers before mounting again.
 *
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import {
  closeFd,
  detach,
  LibcError,
  Linux,
  mount,
  openFuseDevice,
  receiveFd,
  socketPairForChild,
} from "./libc.ts";
import { type MountInfoEntry, mountsAt, parseMountInfo } from "./mount_info.ts";

/** The FUSE subtype: mounts show as type `fuse.ddb`. */
export const SUBTYPE = "ddb";

/** How a mount was made (and so how it is unmounted). */
export type MountMethod = "mount(2)" | "fusermount3";

/** Mounting, unmounting or cleaning up a mount point failed. */
export class MountError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MountError";
  }
}

/** Options of {@linkcode mountDevice}. */
export interface DeviceMountOptions {
  /** Let other users (and root) in: `allow_other` (non-root needs `user_allow_other` in /etc/fuse.conf). */
  allowOther?: boolean;
  /** The mount source shown in /proc/mounts and df (default "ddb"). */
  fsName?: string;
  /** Mount read-only (`ro`), so the kernel refuses writes itself (default true). */
  readOnly?: boolean;
}

/** A mounted FUSE device. */
export interface DeviceMount {
  /** The `/dev/fuse` descriptor to serve. */
  readonly fd: number;
  /** The absolute mount point. */
  readonly mountpoint: string;
  /** How it was mounted. */
  readonly method: MountMethod;
  /** Detaches the mount lazily; a no-op once it is gone. */
  unmount(): Promise<void>;
  /** Once the session ended: closes the device (and lets fusermount3 exit). */
  close(): Promise<void>;
}

const decoder = new TextDecoder();

/**
 * The absolute path of `path` with symlinks resolved, as /proc/self/mountinfo
 * lists it. A dead mount at the last component (lstat fails with ENOTCONN)
 * is not followed.
 */
export async function resolveMountpoint(path: string): Promise<string> {
  const absolute = resolve(path);
  if (absolute === "/") return absolute;
  const parent = await Deno.realPath(dirname(absolute));
  const joined = `${parent === "/" ? "" : parent}/${basename(absolute)}`;
  try {
    if ((await Deno.lstat(joined)).isSymlink) return await Deno.realPath(joined);
  } catch {
    // Missing, dead or unreadable: the caller reports it.
  }
  return joined;
}

/** The current mounts, from `/proc/self/mountinfo`. */
export async function readMountInfo(): Promise<MountInfoEntry[]> {
  return parseMountInfo(await Deno.readTextFile("/proc/self/mountinfo"));
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** Whether stat(2) of `path` says "Transport endpoint is not connected". */
function isNotConnected(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    (error as { code?: unknown } | null)?.code === "ENOTCONN";
}

/** What stat(2) of a mount point says about the mount there. */
async function probe(path: string, timeoutMs: number): Promise<"alive" | "stale" | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), timeoutMs);
  });
  const stat = Deno.stat(path).then(
    () => "alive" as const,
    (error) => isNotConnected(error) ? "stale" as const : "alive" as const,
  );
  try {
    return await Promise.race([stat, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fusermount3` with `args`; throws with its message on failure. */
async function fusermount(args: string[], what: string): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("fusermount3", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new MountError(`${what}: cannot run fusermount3 (install fuse3)`, { cause: error });
  }
  if (!output.success) {
    const message = decoder.decode(output.stderr).trim() || `exit code ${output.code}`;
    throw new MountError(`${what}: ${message}`);
  }
}

/** Detaches the mount at absolute `mountpoint` lazily, as root directly, else with fusermount3. */
async function detachPath(mountpoint: string, method?: MountMethod): Promise<void> {
  const what = `Cannot unmount "${mountpoint}"`;
  if ((method ?? (isRoot() ? "mount(2)" : "fusermount3")) === "mount(2)") {
    try {
      detach(mountpoint);
      return;
    } catch (error) {
      if (!(error instanceof LibcError && error.errno === 1)) {
        const reason = error instanceof LibcError && error.errno === 22
          ? "it is not a mount point"
          : (error as Error).message;
        throw new MountError(`${what}: ${reason}`, { cause: error });
      }
      // EPERM: no CAP_SYS_ADMIN; fusermount3 may still do it.
    }
  }
  await fusermount(["-u", "-z", "--", mountpoint], what);
}

/**
 * Lazily unmounts the FUSE file system at `mountpoint` (`ddb umount`).
 *
 * @throws {MountError} when nothing is mounted there or unmounting fails.
 */
export async function unmountPath(mountpoint: string): Promise<void> {
  const absolute = await resolveMountpoint(mountpoint);
  if (mountsAt(await readMountInfo(), absolute).length === 0) {
    throw new MountError(`Cannot unmount "${absolute}": it is not a mount point`);
  }
  await detachPath(absolute);
}

/**
 * Makes absolute `mountpoint` ready for a new mount: detaches mounts left
 * there by dead servers (stat fails with ENOTCONN), and refuses a live one.
 *
 * @returns how many stale mounts were detached.
 * @throws {MountError} when a live (or hung) file system is mounted there.
 */
export async function cleanStaleMount(mountpoint: string, timeoutMs = 5000): Promise<number> {
  let cleaned = 0;
  for (let round = 0; round < 16; round++) {
    const mounts = mountsAt(await readMountInfo(), mountpoint);
    if (mounts.length === 0) return cleaned;
    const state = await probe(mountpoint, timeoutMs);
    if (state !== "stale") {
      const top = mounts[mounts.length - 1];
      throw new MountError(
        `Cannot mount "${mountpoint}": ${top.source} (${top.type}) is mounted there` +
          (state === "hung" ? " and does not answer" : "") +
          `; unmount it first (ddb umount ${mountpoint})`,
      );
    }
    await detachPath(mountpoint);
    cleaned++;
  }
  throw new MountError(`Cannot mount "${mountpoint}": stale mounts keep coming back`);
}

function mountOptionList(options: DeviceMountOptions, fsName: string): string {
  return [
    options.readOnly ?? true ? "ro" : "rw",
    "nosuid",
    "nodev",
    "default_permissions",
    `fsname=${fsName}`,
    `subtype=${SUBTYPE}`,
    "auto_unmount",
    ...(options.allowOther ? ["allow_other"] : []),
  ].join(",");
}

/** Mounts with mount(2); null when not permitted (EPERM). */
function mountDirectly(
  mountpoint: string,
  options: DeviceMountOptions,
  fsName: string,
): DeviceMount | null {
  const fd = openFuseDevice();
  const data = [
    `fd=${fd}`,
    "rootmode=40000",
    `user_id=${Deno.uid()}`,
    `group_id=${Deno.gid()}`,
    "default_permissions",
    ...(options.allowOther ? ["allow_other"] : []),
  ].join(",");
  const flags = Linux.MS_NOSUID | Linux.MS_NODEV |
    (options.readOnly ?? true ? Linux.MS_RDONLY : 0);
  try {
    mount(fsName, mountpoint, `fuse.${SUBTYPE}`, flags, data);
  } catch (error) {
    closeFd(fd);
    if (error instanceof LibcError && error.errno === 1) return null;
    throw new MountError(`Cannot mount "${mountpoint}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  let mounted = true;
  return {
    fd,
    mountpoint,
    method: "mount(2)",
    async unmount() {
      if (!mounted) return;
      mounted = false;
      await detachPath(mountpoint, "mount(2)");
    },
    close() {
      mounted = false;
      closeFd(fd);
      return Promise.resolve();
    },
  };
}

/** Mounts through fusermount3, which passes the device back over a socket. */
async function mountWithFusermount(
  mountpoint: string,
  options: DeviceMountOptions,
  fsName: string,
): Promise<DeviceMount> {
  const what = `Cannot mount "${mountpoint}" with fusermount3`;
  const socket = socketPairForChild();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("fusermount3", {
      args: ["-o", mountOptionList(options, fsName), "--", mountpoint],
      env: { _FUSE_COMMFD: String(socket.child) },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    closeFd(socket.own);
    throw new MountError(`${what}: cannot run it (install fuse3)`, { cause: error });
  } finally {
    closeFd(socket.child);
  }
  const stderr = new Response(child.stderr).text();
  let fd: number;
  try {
    fd = await receiveFd(socket.own);
  } catch (error) {
    closeFd(socket.own);
    const status = await child.status;
    const message = (await stderr).trim() || `exit code ${status.code}`;
    throw new MountError(`${what}: ${message}`, { cause: error });
  }
  let mounted = true;
  return {
    fd,
    mountpoint,
    method: "fusermount3",
    async unmount() {
      if (!mounted) return;
      mounted = false;
      await detachPath(mountpoint, "fusermount3");
    },
    async close() {
      mounted = false;
      closeFd(fd);
      // fusermount3 (auto_unmount) waits for this socket to close, then
      // unmounts if still mounted and exits.
      closeFd(socket.own);
      await child.status;
      await stderr;
    },
  };
}

/**
 * Mounts a FUSE device at absolute `mountpoint` (see the module
 * documentation for the two ways).
 *
 * @throws {MountError} when mounting fails.
 */
export async function mountDevice(
  mountpoint: string,
  options: DeviceMountOptions = {},
): Promise<DeviceMount> {
  const fsName = options.fsName ?? "ddb";
  if (!/^[^\s,\\]+$/.test(fsName)) {
    throw new MountError(`Cannot mount "${mountpoint}": bad file-system name "${fsName}"`);
  }
  if (isRoot()) {
    let direct: DeviceMount | null;
    try {
      direct = mountDirectly(mountpoint, options, fsName);
    } catch (error) {
      if (error instanceof MountError) throw error;
      throw new MountError(`Cannot mount "${mountpoint}": ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (direct !== null) return direct;
  }
  return await mountWithFusermount(mountpoint, options, fsName);
}
