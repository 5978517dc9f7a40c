/**
 * `ddb`: the single entry point. Dispatches subcommands to each layer's
 * cli.ts and is the only place that calls `Deno.exit`.
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage; commands may define more
 * (see their --help).
 *
 * @module
 */

import { UsageError } from "./cli/flags.ts";
import { ConfigError } from "./server/config.ts";
import { SERVE_HELP, serveCommand } from "./server/cli.ts";
import { BACKUP_HELP, backupCommand, SNAPSHOTS_HELP, snapshotsCommand } from "./client/cli.ts";
import { LS_HELP, lsCommand, RESTORE_HELP, restoreCommand } from "./client/browse_cli.ts";
import { MOUNT_HELP, mountCommand, UMOUNT_HELP, umountCommand } from "./fuse/cli.ts";
import { FORGET_HELP, forgetCommand } from "./client/forget/cli.ts";
import { DIFF_HELP, diffCommand } from "./client/diff/cli.ts";
import { STATS_HELP, statsCommand } from "./client/stats/cli.ts";
import { CHECK_HELP, checkCommand } from "./client/check/cli.ts";
import { GC_HELP, gcCommand } from "./client/gc/cli.ts";
import { DB_HELP, dbCommand } from "./server/dump/cli.ts";
import { VERSION } from "./version.ts";

/** A subcommand: what it does, and how to run it. */
interface Subcommand {
  summary: string;
  run(args: string[]): Promise<number>;
  help: string;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  serve: {
    summary: "Run the server (RESP protocol; SQLite metadata; blob storage)",
    run: serveCommand,
    help: SERVE_HELP,
  },
  backup: {
    summary: "Back up paths as new snapshots",
    run: backupCommand,
    help: BACKUP_HELP,
  },
  snapshots: {
    summary: "List snapshots",
    run: snapshotsCommand,
    help: SNAPSHOTS_HELP,
  },
  ls: {
    summary: "List the files of a snapshot",
    run: lsCommand,
    help: LS_HELP,
  },
  restore: {
    summary: "Restore a snapshot (or a path in it) into a directory",
    run: restoreCommand,
    help: RESTORE_HELP,
  },
  diff: {
    summary: "Show the paths added, removed and modified between two snapshots",
    run: diffCommand,
    help: DIFF_HELP,
  },
  forget: {
    summary: "Remove snapshots by a retention policy (--keep-last, --keep-daily, …)",
    run: forgetCommand,
    help: FORGET_HELP,
  },
  check: {
    summary: "Check that every snapshot is complete (and with --read-data, intact)",
    run: checkCommand,
    help: CHECK_HELP,
  },
  gc: {
    summary: "Delete blobs and metadata no snapshot references (safe beside backups)",
    run: gcCommand,
    help: GC_HELP,
  },
  db: {
    summary: "Export, import and recover a database's metadata",
    run: dbCommand,
    help: DB_HELP,
  },
  stats: {
    summary: "Snapshots, files, logical and stored size, dedup ratio",
    run: statsCommand,
    help: STATS_HELP,
  },
  mount: {
    summary: "Mount every snapshot as a read-only file system (FUSE)",
    run: mountCommand,
    help: MOUNT_HELP,
  },
  umount: {
    summary: "Unmount a ddb mount",
    run: umountCommand,
    help: UMOUNT_HELP,
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length)) + 2;
  return `ddb ${VERSION} — Data Database, a backup database

Usage: ddb <command> [options]

Commands:
${
    Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`).join(
      "\n",
    )
  }

Run 'ddb <command> --help' for a command's options.
Options: -h, --help   this help;  -V, --version   print the version
`;
}

/** Runs `ddb` with `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0] !== undefined && SUBCOMMANDS[rest[0]]) {
      console.log(SUBCOMMANDS[rest[0]].help);
      return 0;
    }
    console.log(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(`ddb ${VERSION}`);
    return 0;
  }
  const command = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (command === undefined) {
    console.error(`ddb: unknown command "${name}" (see ddb --help)`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`ddb ${name}: ${error.message} (see ddb ${name} --help)`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(`ddb ${name}: ${error.message}`);
      return 1;
    }
    console.error(`ddb ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
