/**
 * `ddb mount MOUNTPOINT` and `ddb umount MOUNTPOINT`: every snapshot as a
 * read-only file system (layout: docs/mount.md; FUSE: docs/fuse.md).
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../cli/flags.ts";
import { CONNECTION_FLAGS } from "../client/cli.ts";
import { settingsFromFlags } from "../client/connection.ts";
import { Repository } from "../client/repo/repository.ts";
import { type FsLogger, type LogFields, SnapshotFs } from "./snapshot_fs.ts";
import { DEFAULT_READ_AHEAD_KB, mountFileSystem, unmountPath } from "./kernel/mod.ts";

const MOUNT_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  "allow-other": {
    type: "boolean",
    help: "Let other users see the mount (needs user_allow_other for non-root)",
  },
  "read-ahead-kb": {
    type: "string",
    value: "KIB",
    help: `Kernel read-ahead of the mount (${DEFAULT_READ_AHEAD_KB}; needs root)`,
  },
  "cache-mib": { type: "string", value: "MIB", help: "Memory for cached blobs (128)" },
  verbose: { type: "boolean", short: "v", help: "Log every failed read and lookup in detail" },
};

/** Help of `ddb mount`. */
export const MOUNT_HELP = formatHelp(
  "ddb mount MOUNTPOINT [options]",
  `Mounts every snapshot of the database read-only at MOUNTPOINT until SIGINT or SIGTERM
(or 'ddb umount MOUNTPOINT'):
  latest/<name>/…              the newest snapshot of each backed-up path
  snapshots/<name>/<time>/…    every snapshot
  at/<name>/<time>/…           the snapshot as of a time (2024, 2024-05, … 2024-05-04T15:04:05)
A mountpoint left stale by a killed mount is cleaned up first. Runs as root (mount(2)) or
as a user through fusermount3.`,
  MOUNT_FLAGS,
);

/** Help of `ddb umount`. */
export const UMOUNT_HELP = formatHelp(
  "ddb umount MOUNTPOINT",
  "Detaches a ddb mount lazily: programs using it finish, then it is gone.",
  {},
);

function positiveInt(flags: ReturnType<typeof parseFlags>, name: string): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`--${name} takes a positive integer, not "${text}"`);
  }
  return value;
}

/** Log lines of the mount on stderr: `event key=value …`. */
function stderrLogger(verbose: boolean): FsLogger {
  const line = (level: string, event: string, fields?: LogFields) => {
    const parts = Object.entries(fields ?? {}).filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${JSON.stringify(typeof v === "bigint" ? String(v) : v)}`);
    console.error(`${new Date().toISOString()} ${level} ${event} ${parts.join(" ")}`.trimEnd());
  };
  return {
    debug: (event, fields) => verbose && line("DEBUG", event, fields),
    warn: (event, fields) => line("WARN", event, fields),
  };
}

/** Runs `ddb mount`; resolves when the mount is gone. */
export async function mountCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, MOUNT_FLAGS);
  if (flags.values.help) {
    console.log(MOUNT_HELP);
    return 0;
  }
  if (flags.positionals.length !== 1) throw new UsageError("Give one MOUNTPOINT");
  const mountpoint = flags.positionals[0];
  const readAheadKb = positiveInt(flags, "read-ahead-kb");
  const cacheMiB = positiveInt(flags, "cache-mib");
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings);
  try {
    // Fail early, with the server's own words, when it cannot be read.
    await repo.listSnapshots();
    const fs = new SnapshotFs(repo, {
      logger: stderrLogger(flags.values.verbose === true),
      ...(cacheMiB === undefined ? {} : { cacheBytes: cacheMiB * 1024 * 1024 }),
    });
    const handle = await mountFileSystem(fs, mountpoint, {
      allowOther: flags.values["allow-other"] === true,
      readAheadKb,
      fsName: `ddb:${settings.db}`,
      log: (message) => console.error(message),
    });
    console.error(
      `ddb mount: serving database "${settings.db}" at ${handle.mountpoint} ` +
        `(${handle.method}); SIGINT or 'ddb umount ${mountpoint}' to stop`,
    );
    const stop = () => {
      handle.unmount().catch((error) =>
        console.error(
          `ddb mount: cannot unmount: ${error instanceof Error ? error.message : error}`,
        )
      );
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    try {
      await handle.closed;
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    }
    return 0;
  } finally {
    await repo.close();
  }
}

/** Runs `ddb umount`. */
export async function umountCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, {});
  if (flags.values.help) {
    console.log(UMOUNT_HELP);
    return 0;
  }
  if (flags.positionals.length !== 1) throw new UsageError("Give one MOUNTPOINT");
  await unmountPath(flags.positionals[0]);
  return 0;
}
