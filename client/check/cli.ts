/**
 * `ddb check`: verifies the snapshots' records, trees and blobs (see
 * check.ts for the levels) and lists each problem with the snapshots and
 * paths it affects.
 *
 * Exit codes: 0 no problem found; 1 failure (the check could not run);
 * 2 bad usage; 3 problems found.
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";
import { CONNECTION_FLAGS, reporterFor } from "../cli.ts";
import { settingsFromFlags } from "../connection.ts";
import { startHeapGovernor } from "../../memory/heap_governor.ts";
import { formatBytes } from "../progress/format.ts";
import { Repository } from "../repo/repository.ts";
import { parseSnapshot, SchemaError } from "../snapshot/schema.ts";
import {
  AmbiguousSnapshotError,
  selectSnapshot,
  SnapshotNotFoundError,
  SnapshotSpecError,
} from "../snapshot/select.ts";
import { check, type CheckResult } from "./check.ts";
import type { Problem } from "./problems.ts";
import { parseSubset, subsetFilter, SubsetSyntaxError } from "./subset.ts";

const CHECK_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  "read-data": { type: "boolean", help: "Download every blob and verify its hash" },
  "read-data-subset": {
    type: "string",
    value: "N/M|P%",
    help: "Download part N of M (by blob id), or P% of the blobs at random",
  },
  host: { type: "string", value: "NAME", help: "Only this host's snapshots for latest and paths" },
  places: { type: "string", value: "N", help: "Places shown per problem (default 10)" },
  json: { type: "boolean", help: "Machine-readable progress and summary on stdout" },
  quiet: { type: "boolean", short: "q", help: "Print nothing but problems" },
};

/** Help of `ddb check`. */
export const CHECK_HELP = formatHelp(
  "ddb check [SNAPSHOT...] [options]",
  `Checks that the snapshots (all, or those given) can be restored: every record they
reference exists and matches its key, counts agree, every chunk's blob is on the
server. --read-data also downloads the blobs and verifies their hashes.
Each problem is listed with the snapshots and paths it affects.
Exit codes: 0 no problem, 1 failure, 2 bad usage, 3 problems found.`,
  CHECK_FLAGS,
);

/** `host:path` of each snapshot named in the problems (when its record is readable). */
async function sourcesOf(repo: Repository, problems: Problem[]): Promise<Map<string, string>> {
  const keys = [...new Set(problems.flatMap((p) => p.places.map((place) => place.snapshot)))];
  const out = new Map<string, string>();
  await Promise.all(keys.map(async (key) => {
    try {
      const s = parseSnapshot(key, await repo.readFields(key));
      out.set(key, `${s.host}:${s.path}`);
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
    }
  }));
  return out;
}

function printProblems(
  result: CheckResult,
  sources: Map<string, string>,
  shown: number,
): void {
  const { problems } = result;
  console.log(`${problems.length} problem${problems.length === 1 ? "" : "s"} found:`);
  for (const p of problems) {
    console.log(`\n${p.kind}: ${p.message}`);
    for (const place of p.places.slice(0, shown)) {
      const source = sources.get(place.snapshot) ?? "(unreadable record)";
      const path = JSON.stringify(place.path).slice(1, -1);
      console.log(`  snapshot ${place.snapshot.slice(2, 10)} ${source}  ${path}`);
    }
    const more = p.placeCount - Math.min(shown, p.places.length);
    if (more > 0) console.log(`  … and ${more} more place${more === 1 ? "" : "s"}`);
    if (p.placeCount === 0) console.log("  (not referenced by the snapshots checked)");
  }
}

/** Runs `ddb check`. */
export async function checkCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, CHECK_FLAGS);
  if (flags.values.help) {
    console.log(CHECK_HELP);
    return 0;
  }
  const json = flags.values.json === true;
  const quiet = flags.values.quiet === true;
  const subsetText = stringFlag(flags, "read-data-subset");
  if (subsetText !== undefined && flags.values["read-data"] === true) {
    throw new UsageError("Give --read-data or --read-data-subset, not both");
  }
  let readData: ((id: string) => boolean) | undefined;
  if (flags.values["read-data"] === true) readData = () => true;
  if (subsetText !== undefined) {
    try {
      readData = subsetFilter(parseSubset(subsetText));
    } catch (error) {
      if (error instanceof SubsetSyntaxError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
  }
  const placesText = stringFlag(flags, "places") ?? "10";
  if (!/^\d+$/.test(placesText)) throw new UsageError(`Cannot use --places "${placesText}"`);
  const shown = Number(placesText);

  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings, readData === undefined ? 0 : 4);
  const reporter = reporterFor(json, quiet);
  // A check walks every tree: much short-lived garbage (see memory/heap_governor.ts).
  const governor = startHeapGovernor();
  try {
    let only: string[] | undefined;
    if (flags.positionals.length > 0) {
      const all = await repo.listSnapshots();
      only = [];
      for (const spec of flags.positionals) {
        try {
          const { snapshot, path } = selectSnapshot(all, spec, { host: stringFlag(flags, "host") });
          if (path.length > 0) throw new UsageError(`Cannot check "${spec}": give whole snapshots`);
          only.push(snapshot.key);
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
      only = [...new Set(only)];
    }
    const result = await check(repo, {
      snapshots: only,
      readData,
      placeCap: Math.max(shown, json ? 1000 : 0),
      onProgress: (c) =>
        reporter.update({
          phase: readData ? "check+read" : "check",
          files: c.files,
          dirs: c.dirs,
          bytesDone: c.bytesRead,
          newBytes: 0,
          errors: c.problems,
        }),
    });
    reporter.finish();
    const { counts, problems } = result;
    const sources = await sourcesOf(repo, problems);
    if (json) {
      reporter.summary({
        ...counts,
        problems: problems.map((p) => ({
          ...p,
          places: p.places.map((place) => ({
            snapshot: place.snapshot.slice(2),
            source: sources.get(place.snapshot) ?? null,
            path: place.path,
          })),
        })),
      });
    } else {
      if (!quiet) {
        console.log(
          `checked ${counts.snapshots} snapshot${
            counts.snapshots === 1 ? "" : "s"
          }: ${counts.dirs} dirs, ${counts.files} files, ${counts.contents} contents, ${counts.blobs} blobs` +
            (readData ? `; read ${counts.blobsRead} blobs, ${formatBytes(counts.bytesRead)}` : ""),
        );
      }
      if (problems.length > 0) printProblems(result, sources, shown);
      else if (!quiet) console.log("no problems found");
    }
    return problems.length > 0 ? 3 : 0;
  } finally {
    governor.stop();
    reporter.finish();
    await repo.close();
  }
}
