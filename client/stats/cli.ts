/**
 * `ddb stats`: the logical and stored size of the snapshots, and the
 * database's blob totals.
 *
 * Exit codes: 0 success; 1 failure; 2 bad usage; 3 finished, but some
 * metadata could not be read (the numbers are too small; run `ddb check`).
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";
import { CONNECTION_FLAGS } from "../cli.ts";
import { settingsFromFlags } from "../connection.ts";
import { formatBytes } from "../progress/format.ts";
import { Repository, type SnapshotEntry } from "../repo/repository.ts";
import {
  AmbiguousSnapshotError,
  selectSnapshot,
  SnapshotNotFoundError,
  SnapshotSpecError,
} from "../snapshot/select.ts";
import { collectStats } from "./stats.ts";

const STATS_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  host: { type: "string", value: "NAME", help: "Only this host's snapshots" },
  json: { type: "boolean", help: "JSON output" },
};

/** Help of `ddb stats`. */
export const STATS_HELP = formatHelp(
  "ddb stats [SNAPSHOT...] [options]",
  `Counts the files and bytes of the snapshots (all, or those given: id prefix, "latest"
or a backed-up path), the distinct blobs they reference and their stored size, and
the dedup ratio (logical / stored). Exit codes: 0 ok, 1 failure, 2 bad usage,
3 some metadata could not be read.`,
  STATS_FLAGS,
);

function chooseSnapshots(
  all: SnapshotEntry[],
  specs: string[],
  host: string | undefined,
): SnapshotEntry[] {
  const ofHost = host === undefined ? all : all.filter((s) => s.host === host);
  if (specs.length === 0) return ofHost;
  const chosen = new Map<string, SnapshotEntry>();
  for (const spec of specs) {
    try {
      const { snapshot, path } = selectSnapshot(all, spec, { host });
      if (path.length > 0) throw new UsageError(`Cannot count "${spec}": give whole snapshots`);
      chosen.set(snapshot.key, snapshot);
    } catch (error) {
      if (
        error instanceof SnapshotNotFoundError || error instanceof AmbiguousSnapshotError ||
        error instanceof SnapshotSpecError
      ) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
  }
  return all.filter((s) => chosen.has(s.key));
}

/** Runs `ddb stats`. */
export async function statsCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, STATS_FLAGS);
  if (flags.values.help) {
    console.log(STATS_HELP);
    return 0;
  }
  const json = flags.values.json === true;
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings, 0);
  try {
    const all = await repo.listSnapshots();
    const snapshots = chooseSnapshots(all, flags.positionals, stringFlag(flags, "host"));
    const errors: string[] = [];
    const stats = await collectStats(repo, snapshots, {
      onError: (message) => {
        errors.push(message);
        console.error(`ddb stats: ${message}`);
      },
    });
    const database = await repo.blobTotals();
    if (json) {
      console.log(JSON.stringify({ ...stats, database, errors: errors.length }, null, 2));
    } else {
      const rows: [string, string][] = [
        ["Snapshots", String(stats.snapshots)],
        ["Files", `${stats.files} (summed over the snapshots)`],
        ["Directories", String(stats.dirs)],
        ["Logical size", formatBytes(stats.logicalBytes)],
        ["Distinct contents", String(stats.contents)],
        ["Blobs", `${stats.blobs} (distinct, referenced)`],
        ["Stored size", formatBytes(stats.storedBytes)],
        ["Dedup ratio", `${stats.dedupRatio.toFixed(2)}x`],
        ["Database", `${database.count} blobs, ${formatBytes(database.bytes)}`],
      ];
      const width = Math.max(...rows.map(([name]) => name.length)) + 2;
      for (const [name, value] of rows) console.log(`${(name + ":").padEnd(width)}${value}`);
    }
    return errors.length > 0 ? 3 : 0;
  } finally {
    await repo.close();
  }
}
