/**
 * `ddb ls` and `ddb restore`: pick a snapshot (`SNAPSHOT[:PATH]`, see
 * client/snapshot/select.ts), then list or restore its tree.
 *
 * @module
 */

import { resolve } from "node:path";
import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../cli/flags.ts";
import { settingsFromFlags } from "./connection.ts";
import { Repository } from "./repo/repository.ts";
import { startHeapGovernor } from "../memory/heap_governor.ts";
import { CONNECTION_FLAGS, exitCodeFor, reporterFor } from "./cli.ts";
import {
  AmbiguousSnapshotError,
  selectSnapshot,
  SnapshotNotFoundError,
  SnapshotSpecError,
} from "./snapshot/select.ts";
import { resolvePath, type TreeNode, walkTree } from "./snapshot/walk.ts";
import { restore } from "./restore/restore.ts";
import { ExcludeMatcher } from "./backup/exclude.ts";
import { formatBytes } from "./progress/format.ts";
import type { NodeMeta } from "./snapshot/schema.ts";

const decoder = new TextDecoder();

const LS_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  long: { type: "boolean", short: "l", help: "Mode, owner, size and time of each entry" },
  recursive: { type: "boolean", short: "R", help: "The whole tree below the path" },
  host: { type: "string", value: "NAME", help: "Only this host's snapshots for latest and paths" },
  json: { type: "boolean", help: "One JSON object per entry" },
};

/** Help of `ddb ls`. */
export const LS_HELP = formatHelp(
  "ddb ls SNAPSHOT[:PATH] [options]",
  `Lists a directory of a snapshot. SNAPSHOT is an id prefix (4+ hex), "latest", or a
backed-up absolute path (its latest snapshot); PATH is inside the snapshot.`,
  LS_FLAGS,
);

const RESTORE_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  include: { type: "string", multiple: true, value: "GLOB", help: "Restore only matching paths" },
  exclude: { type: "string", multiple: true, value: "GLOB", help: "Leave out matching paths" },
  overwrite: { type: "boolean", help: "Replace existing files (default: keep them, report)" },
  verify: { type: "boolean", help: "Re-read every written file and check its chunks" },
  host: { type: "string", value: "NAME", help: "Only this host's snapshots for latest and paths" },
  json: { type: "boolean", help: "Machine-readable progress and summary on stdout" },
  quiet: { type: "boolean", short: "q", help: "Print nothing but errors" },
};

/** Help of `ddb restore`. */
export const RESTORE_HELP = formatHelp(
  "ddb restore SNAPSHOT[:PATH] TARGET [options]",
  `Restores a snapshot (or a path in it) into the TARGET directory: contents (every
chunk verified), modes, times, symlinks, owners when run as root. Existing files are
kept unless --overwrite. Exit codes: 0 ok, 1 failure, 2 bad usage, 3 some entries failed.`,
  RESTORE_FLAGS,
);

async function openSelection(
  flags: ReturnType<typeof parseFlags>,
  spec: string,
): Promise<{ repo: Repository; node: TreeNode; label: string }> {
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings);
  try {
    const snapshots = await repo.listSnapshots();
    const { snapshot, path } = selectSnapshot(snapshots, spec, { host: stringFlag(flags, "host") });
    const node = await resolvePath(
      repo,
      snapshot.ref,
      path.map((p) => new TextEncoder().encode(p)),
    );
    return { repo, node, label: `${snapshot.key.slice(2, 10)}:/${path.join("/")}` };
  } catch (error) {
    await repo.close();
    if (
      error instanceof SnapshotNotFoundError || error instanceof AmbiguousSnapshotError ||
      error instanceof SnapshotSpecError
    ) {
      throw new UsageError(error.message, { cause: error });
    }
    throw error;
  }
}

function typeChar(meta: NodeMeta): string {
  return { file: "-", dir: "d", symlink: "l", fifo: "p", socket: "s", chardev: "c", blockdev: "b" }[
    meta.type
  ];
}

function modeString(meta: NodeMeta): string {
  const bits = "rwxrwxrwx";
  let out = typeChar(meta);
  for (let i = 0; i < 9; i++) out += meta.mode & (1 << (8 - i)) ? bits[i] : "-";
  return out;
}

/** Runs `ddb ls`. */
export async function lsCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, LS_FLAGS);
  if (flags.values.help) {
    console.log(LS_HELP);
    return 0;
  }
  if (flags.positionals.length !== 1) throw new UsageError("Give one SNAPSHOT[:PATH]");
  const { repo, node } = await openSelection(flags, flags.positionals[0]);
  const recursive = flags.values.recursive === true;
  let errors = 0;
  try {
    for await (
      const entry of walkTree(repo, node.metaKey, {
        descend: (e) => recursive || e.path.length === 0,
        onError: (error) => {
          errors++;
          console.error(`ddb ls: ${error.message}`);
        },
      })
    ) {
      if (entry.path.length === 0 && entry.meta.type === "dir") continue;
      const name = entry.path.length === 0
        ? decoder.decode(entry.meta.name)
        : entry.path.map((p) => decoder.decode(p)).join("/");
      const meta = entry.meta;
      if (flags.values.json === true) {
        console.log(JSON.stringify({
          path: name,
          type: meta.type,
          size: meta.size,
          mode: meta.mode,
          uid: meta.uid,
          gid: meta.gid,
          mtime: new Date(Number(meta.mtimeNs / 1_000_000n)).toISOString(),
          ...(meta.target ? { target: decoder.decode(meta.target) } : {}),
        }));
      } else if (flags.values.long === true) {
        const time = new Date(Number(meta.mtimeNs / 1_000_000n)).toISOString().slice(0, 19);
        const link = meta.target ? ` -> ${decoder.decode(meta.target)}` : "";
        console.log(
          `${modeString(meta)} ${String(meta.uid).padStart(5)} ${String(meta.gid).padStart(5)} ${
            String(meta.size).padStart(12)
          } ${time} ${JSON.stringify(name).slice(1, -1)}${link}`,
        );
      } else {
        console.log(JSON.stringify(name).slice(1, -1) + (meta.type === "dir" ? "/" : ""));
      }
    }
  } finally {
    await repo.close();
  }
  return exitCodeFor(errors);
}

function globFilter(patterns: string[]): ((path: string) => boolean) | undefined {
  if (patterns.length === 0) return undefined;
  const matcher = new ExcludeMatcher(patterns);
  return (path) => matcher.excludes("/" + path, false) || matcher.excludes("/" + path, true);
}

/** Runs `ddb restore`. */
export async function restoreCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, RESTORE_FLAGS);
  if (flags.values.help) {
    console.log(RESTORE_HELP);
    return 0;
  }
  if (flags.positionals.length !== 2) throw new UsageError("Give SNAPSHOT[:PATH] and TARGET");
  const [spec, targetArg] = flags.positionals;
  const json = flags.values.json === true;
  const quiet = flags.values.quiet === true;
  const include = globFilter((flags.values.include as string[] | undefined) ?? []);
  const exclude = globFilter((flags.values.exclude as string[] | undefined) ?? []);
  const { repo, node, label } = await openSelection(flags, spec);
  const reporter = reporterFor(json, quiet);
  // Many small files make much short-lived garbage: keep the heap near its live size.
  const governor = startHeapGovernor();
  try {
    const target = resolve(targetArg);
    const stats = await restore(repo, node, target, {
      ...(include ? { include: (p: string) => include(p) } : {}),
      ...(exclude ? { exclude: (p: string) => exclude(p) } : {}),
      overwrite: flags.values.overwrite === true,
      verify: flags.values.verify === true,
      onProgress: (s) =>
        reporter.update({
          phase: "restore",
          files: s.files,
          dirs: s.dirs,
          bytesDone: s.bytes,
          newBytes: 0,
          errors: s.errors,
        }),
      onWarning: (issue) => reporter.log(`ddb restore: ${issue.message}`),
      onError: (issue) => {
        reporter.log(`ddb restore: ${issue.message}`);
        if (json) console.error(`ddb restore: ${issue.message}`);
      },
    });
    reporter.finish();
    reporter.summary({ snapshot: label, target, ...stats });
    if (!json && !quiet) {
      console.log(
        `restored ${label} to ${target}: ${stats.files} files, ${stats.dirs} dirs, ${stats.symlinks} symlinks, ${
          formatBytes(stats.bytes)
        }` + (stats.errors > 0 ? `, ${stats.errors} errors` : ""),
      );
    }
    return exitCodeFor(stats.errors);
  } finally {
    governor.stop();
    reporter.finish();
    await repo.close();
  }
}
