/**
 * `ddb gc`: asks the server to delete the blobs and metadata no snapshot
 * references any more (server `GC`, docs/gc.md) and prints what it did.
 *
 * Exit codes: 0 done; 1 failure (also when backups are running: the gc
 * refuses to start, try again later); 2 bad usage.
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";
import { CONNECTION_FLAGS } from "../cli.ts";
import { settingsFromFlags } from "../connection.ts";
import { asArray, asInteger, asText, RespClient, ServerReplyError } from "../remote/resp_client.ts";
import type { RespValue } from "../remote/reply_decoder.ts";
import { formatBytes } from "../progress/format.ts";
import { DurationSyntaxError, formatDuration, parseDuration } from "../../cli/duration.ts";

const GC_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  "dry-run": { type: "boolean", short: "n", help: "Count what would be deleted; delete nothing" },
  grace: {
    type: "string",
    value: "DURATION",
    help: "Keep unreferenced blobs younger than this (default 1h; e.g. 0, 30m, 2d)",
  },
  json: { type: "boolean", help: "JSON output" },
};

/** Help of `ddb gc`. */
export const GC_HELP = formatHelp(
  "ddb gc [--dry-run] [--grace DURATION] [options]",
  `Deletes the blobs and metadata that no snapshot references any more (after
ddb forget). The server does the work; it refuses to start while backups run,
and backups wait while it runs. Blobs stored less than DURATION ago stay even
when unreferenced (an interrupted backup may be about to reference them).
Exit codes: 0 ok, 1 failure (also: backups are running, try later), 2 bad usage.`,
  GC_FLAGS,
);

/** The server's GC summary, by field name (dry_run, blobs_deleted, …). */
export type GcReport = Record<string, number>;

/** Reads the GC reply (a map, flattened to pairs in RESP2). */
function reportOf(reply: RespValue): GcReport {
  const flat = asArray(reply);
  const report: GcReport = {};
  for (let i = 0; i + 1 < flat.length; i += 2) report[asText(flat[i])] = asInteger(flat[i + 1]);
  return report;
}

function table(report: GcReport): string {
  const n = (name: string) => report[name] ?? 0;
  const dry = n("dry_run") === 1;
  const rows: [string, string, string][] = [
    ["", "kept", dry ? "to delete" : "deleted"],
    ["snapshot records (s:)", `${n("snapshot_records_kept")}`, `${n("snapshot_records_deleted")}`],
    ["directories (d:)", `${n("dirs_kept")}`, `${n("dirs_deleted")}`],
    ["nodes (m:)", `${n("metas_kept")}`, `${n("metas_deleted")}`],
    ["file contents (c:)", `${n("contents_kept")}`, `${n("contents_deleted")}`],
    [
      "blobs",
      `${n("blobs_reachable") + n("blobs_young")}`,
      `${n("blobs_deleted")} (${formatBytes(n("blob_bytes_deleted"))})`,
    ],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    `  ${r[0].padEnd(widths[0])}  ${r[1].padStart(widths[1])}  ${r[2].padStart(widths[2])}`
      .trimEnd()
  );
  const young = n("blobs_young");
  lines.push(
    `  ${n("snapshots")} snapshots, ${n("reachable_dirs")} reachable directories` +
      (young > 0
        ? `; ${young} unreferenced blobs kept, younger than ${formatDuration(n("grace_ms"))}`
        : ""),
  );
  lines.push(
    `  storage objects ${dry ? "to delete" : "deleted"}: ${n("objects_deleted")} ` +
      `(${n("packs_deleted")} packs)`,
  );
  if (n("packs_repacked") > 0) {
    lines.push(
      `  packs ${dry ? "to rewrite" : "rewritten"}: ${n("packs_repacked")} ` +
        `(${n("repack_blobs")} live blobs into ${n("repack_packs_written")} new packs, ` +
        `${formatBytes(n("repack_bytes_reclaimed"))} ${dry ? "to free" : "freed"})`,
    );
  }
  if (n("packs_partly_dead") > 0) {
    lines.push(
      `  ${n("packs_partly_dead")} packs keep ${
        formatBytes(n("partly_dead_bytes"))
      } of deleted blobs next to live ones (below the threshold for rewriting)`,
    );
  }
  if (n("orphans") > 0) {
    lines.push(
      `  ${n("orphans")} storage objects (${formatBytes(n("orphan_bytes"))}) named by no record: ` +
        `${n("orphans_deleted")} ${dry ? "to delete" : "deleted"} (${
          formatBytes(n("orphan_bytes_deleted"))
        })` +
        (n("orphan_blobs_adopted") > 0
          ? `, ${n("orphan_blobs_adopted")} blobs snapshots need recorded again`
          : "") +
        (n("orphans_held") === 1
          ? "; left alone this time (see the server log)"
          : n("orphans_deleted") < n("orphans")
          ? "; the others go when a gc an hour (or the grace period) later finds them unnamed too"
          : ""),
    );
  }
  if (n("repack_damaged") > 0) {
    lines.push(`  ${n("repack_damaged")} damaged blobs found while rewriting packs: run ddb check`);
  }
  if (n("dangling") > 0) {
    lines.push(`  ${n("dangling")} references to missing records: run ddb check`);
  }
  return lines.join("\n");
}

/** Runs `ddb gc`; resolves with the exit code. */
export async function gcCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, GC_FLAGS);
  if (flags.values.help) {
    console.log(GC_HELP);
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new UsageError(`Unexpected argument "${flags.positionals[0]}"`);
  }
  const graceText = stringFlag(flags, "grace");
  let graceMs: number | undefined;
  if (graceText !== undefined) {
    try {
      graceMs = parseDuration(graceText);
    } catch (error) {
      if (error instanceof DurationSyntaxError) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
  }
  const dryRun = flags.values["dry-run"] === true;
  const settings = await settingsFromFlags(flags);
  const client = await RespClient.connect(settings);
  try {
    const command = ["GC"];
    if (dryRun) command.push("DRYRUN");
    if (graceMs !== undefined) command.push("GRACE", String(graceMs));
    let report: GcReport;
    try {
      report = reportOf(await client.call(...command));
    } catch (error) {
      if (error instanceof ServerReplyError && error.message.includes("ERR LEASE")) {
        console.error(
          `ddb gc: ${error.message.replace(/^.*?ERR LEASE /, "")}; nothing was deleted, ` +
            "try again when they are done",
        );
        return 1;
      }
      throw error;
    }
    if (flags.values.json === true) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      const how = report.dry_run === 1 ? " (dry run: nothing deleted)" : "";
      console.log(
        `Garbage collection of database "${settings.db}" took ${
          (report.duration_ms / 1000).toFixed(1)
        } s${how}:`,
      );
      console.log(table(report));
    }
    return 0;
  } finally {
    await client.closed();
  }
}
