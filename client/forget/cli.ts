/**
 * `ddb forget`: flags → policy → plan → removal, and the table of what is
 * kept and removed, with the reasons.
 *
 * Exit codes: 0 success (also when nothing matched); 1 failure (including a
 * refused policy that would empty a group); 2 bad usage.
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";
import { CONNECTION_FLAGS } from "../cli.ts";
import { settingsFromFlags } from "../connection.ts";
import { Repository, type SnapshotEntry } from "../repo/repository.ts";
import {
  AmbiguousSnapshotError,
  SnapshotNotFoundError,
  SnapshotSpecError,
} from "../snapshot/select.ts";
import { forget, type ForgetPlan, type ForgetRequest } from "./forget.ts";
import {
  describePolicy,
  DurationSyntaxError,
  isEmptyPolicy,
  type KeepPolicy,
  parseDuration,
  type TimeZone,
} from "./policy.ts";

const FORGET_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  "keep-last": { type: "string", short: "l", value: "N", help: "Keep the N newest snapshots" },
  "keep-hourly": { type: "string", short: "H", value: "N", help: "Keep the newest of N hours" },
  "keep-daily": { type: "string", short: "d", value: "N", help: "Keep the newest of N days" },
  "keep-weekly": { type: "string", short: "w", value: "N", help: "Keep the newest of N weeks" },
  "keep-monthly": { type: "string", short: "m", value: "N", help: "Keep the newest of N months" },
  "keep-yearly": { type: "string", short: "y", value: "N", help: "Keep the newest of N years" },
  "keep-within": {
    type: "string",
    value: "DURATION",
    help: "Keep all within DURATION (e.g. 1y2m3d4h) of the latest snapshot",
  },
  "keep-tag": {
    type: "string",
    multiple: true,
    value: "TAG[,TAG…]",
    help: "Keep snapshots having all these tags ('' = untagged)",
  },
  host: { type: "string", multiple: true, value: "NAME", help: "Only snapshots of this host" },
  path: { type: "string", multiple: true, value: "PATH", help: "Only snapshots of this path" },
  tag: {
    type: "string",
    multiple: true,
    value: "TAG[,TAG…]",
    help: "Only snapshots having all these tags",
  },
  "local-time": {
    type: "boolean",
    help: "Hours, days, weeks… in this machine's time zone (default UTC)",
  },
  "dry-run": { type: "boolean", short: "n", help: "Show what would be removed; remove nothing" },
  json: { type: "boolean", help: "JSON output" },
  quiet: { type: "boolean", short: "q", help: "Print nothing but errors" },
};

/** Help of `ddb forget`. */
export const FORGET_HELP = formatHelp(
  "ddb forget [--keep-* …] [options] | ddb forget ID... [options]",
  `Removes snapshot records: those a keep policy does not keep, applied to each group
(host, path) on its own, or the snapshots given by id. A snapshot is kept when any
--keep-* rule keeps it; N may be "unlimited". Calendar buckets are in UTC unless
--local-time. Only records go: the data stays until garbage collection.
Exit codes: 0 ok, 1 failure (or a policy that would remove a whole group), 2 bad usage.`,
  FORGET_FLAGS,
);

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function countFlag(flags: ReturnType<typeof parseFlags>, name: string): number | undefined {
  const text = stringFlag(flags, name);
  if (text === undefined) return undefined;
  if (text === "unlimited" || text === "-1") return Infinity;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`Cannot use --${name} "${text}": expected a count or "unlimited"`);
  }
  return Number(text);
}

function tagLists(values: unknown): string[][] {
  return strings(values).map((v) => v.split(","));
}

/** Reads the policy flags. */
function policyOf(flags: ReturnType<typeof parseFlags>): KeepPolicy {
  const policy: KeepPolicy = {
    last: countFlag(flags, "keep-last"),
    hourly: countFlag(flags, "keep-hourly"),
    daily: countFlag(flags, "keep-daily"),
    weekly: countFlag(flags, "keep-weekly"),
    monthly: countFlag(flags, "keep-monthly"),
    yearly: countFlag(flags, "keep-yearly"),
    tags: tagLists(flags.values["keep-tag"]),
  };
  const within = stringFlag(flags, "keep-within");
  if (within !== undefined) {
    try {
      policy.within = parseDuration(within);
    } catch (error) {
      if (error instanceof DurationSyntaxError) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
  }
  return policy;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** `2024-05-01 13:02:03Z` (UTC) or `2024-05-01 15:02:03+02:00` (local). */
function formatTime(timeUs: bigint, zone: TimeZone): string {
  const date = new Date(Number(timeUs / 1000n));
  if (zone === "utc") return date.toISOString().slice(0, 19).replace("T", " ") + "Z";
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${
    pad2(date.getHours())
  }:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}${sign}${
    pad2(Math.floor(Math.abs(offset) / 60))
  }:${pad2(Math.abs(offset) % 60)}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

function printPlan(plan: ForgetPlan, zone: TimeZone, dryRun: boolean): void {
  const row = (s: SnapshotEntry, action: string, reasons: string[]) => [
    s.key.slice(2, 10),
    formatTime(s.timeUs, zone),
    s.tags.join(","),
    action,
    reasons.join(", "),
  ];
  const header = ["ID", "Time", "Tags", "Action", "Reasons"];
  for (const group of plan.groups) {
    const removed = group.decisions.filter((d) => !d.keep).length;
    console.log(
      `${group.host}:${group.path}: keep ${group.decisions.length - removed}, remove ${removed}`,
    );
    const rows = group.decisions.map((d) => row(d.snapshot, d.keep ? "keep" : "remove", d.reasons));
    for (const line of table([header, ...rows])) console.log(`  ${line}`);
    console.log("");
  }
  if (plan.groups.length === 0 && plan.remove.length > 0) {
    for (const line of table([header, ...plan.remove.map((s) => row(s, "remove", ["by id"]))])) {
      console.log(line);
    }
  }
  const n = plan.remove.length;
  const what = `${n} snapshot${n === 1 ? "" : "s"}`;
  console.log(dryRun ? `would remove ${what} (dry run)` : `removed ${what}`);
}

function planJson(plan: ForgetPlan, policy: string | undefined, dryRun: boolean): unknown {
  const snapshot = (s: SnapshotEntry) => ({
    id: s.key.slice(2),
    time: new Date(Number(s.timeUs / 1000n)).toISOString(),
    host: s.host,
    path: s.path,
    tags: s.tags,
  });
  return {
    ...(policy !== undefined ? { policy } : {}),
    dryRun,
    groups: plan.groups.map((g) => ({
      host: g.host,
      path: g.path,
      snapshots: g.decisions.map((d) => ({
        ...snapshot(d.snapshot),
        keep: d.keep,
        reasons: d.reasons,
      })),
    })),
    removed: plan.remove.map((s) => s.key.slice(2)),
  };
}

/** Runs `ddb forget`. */
export async function forgetCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, FORGET_FLAGS);
  if (flags.values.help) {
    console.log(FORGET_HELP);
    return 0;
  }
  const json = flags.values.json === true;
  const quiet = flags.values.quiet === true;
  const dryRun = flags.values["dry-run"] === true;
  const zone: TimeZone = flags.values["local-time"] === true ? "local" : "utc";
  const policy = policyOf(flags);
  const ids = flags.positionals;
  let request: ForgetRequest;
  if (ids.length > 0) {
    if (!isEmptyPolicy(policy)) throw new UsageError("Give either snapshot ids or --keep-* rules");
    request = { ids };
  } else {
    if (isEmptyPolicy(policy)) {
      throw new UsageError("No policy: give --keep-* rules or snapshot ids (nothing removed)");
    }
    request = {
      policy,
      zone,
      filter: {
        hosts: strings(flags.values.host),
        paths: strings(flags.values.path),
        tags: tagLists(flags.values.tag),
      },
    };
  }
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings, 0);
  try {
    let plan: ForgetPlan;
    try {
      plan = await forget(repo, request, { dryRun });
    } catch (error) {
      if (
        error instanceof SnapshotNotFoundError || error instanceof AmbiguousSnapshotError ||
        error instanceof SnapshotSpecError
      ) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
    const described = "policy" in request ? describePolicy(request.policy) : undefined;
    if (json) {
      console.log(JSON.stringify(planJson(plan, described, dryRun), null, 2));
    } else if (!quiet) {
      if (described !== undefined) console.log(`Applying policy: ${described}\n`);
      printPlan(plan, zone, dryRun);
    }
    return 0;
  } finally {
    await repo.close();
  }
}
