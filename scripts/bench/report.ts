/**
 * Results of a benchmark run, the targets they are checked against, and the
 * results table. No I/O.
 *
 * Targets (from the benchmark's issue):
 *
 * - pipelined (`-P 16`) SET and GET: ddb at least 25% of redis-server's rate;
 * - BPUT of 1 MiB blobs: at least 300 MB/s (10^6 bytes) into the local storage;
 * - memory flat under sustained load: the RSS trend over the second half of
 *   the soak at most {@linkcode RSS_SLOPE_LIMIT_MIB_PER_MINUTE}.
 *
 * @module
 */

import type { BenchmarkRow } from "./benchmark_csv.ts";
import type { BlobLoadResult } from "./blob_load.ts";
import type { SoakResult } from "./memory_soak.ts";

/** Smallest ddb/redis ratio of pipelined SET and GET. */
export const PIPELINED_RATIO_TARGET = 0.25;
/** Smallest BPUT throughput of 1 MiB blobs, MB/s. */
export const BPUT_1MIB_TARGET_MB_PER_SECOND = 300;
/**
 * Largest RSS growth over the second half of the soak, MiB per minute: 20 MiB
 * over a 10-minute run. Under load the RSS saws up and down by some 20 MiB as
 * the garbage collector runs, so the trend of a soak of a minute or two is
 * mostly that noise; only the 10-minute soak gives a firm verdict.
 */
export const RSS_SLOPE_LIMIT_MIB_PER_MINUTE = 2;

const MiB = 1024 * 1024;
/** A soak this long gives a firm memory verdict (10 minutes, less some slack). */
const FIRM_SOAK_SECONDS = 9.5 * 60;

/** One redis-benchmark test run against both servers (or ddb only). */
export interface CommandResult {
  /** The test name, e.g. `SET` or `BEXISTS`. */
  test: string;
  /** Requests pipelined per connection; 1 for none. */
  pipeline: number;
  /** redis-server's row of the median repeat; absent for ddb-only commands. */
  redis?: BenchmarkRow;
  /** ddb's row of the median repeat. */
  ddb: BenchmarkRow;
  /** redis-server's requests/s in every repeat. */
  redisRepeats?: number[];
  /** ddb's requests/s in every repeat. */
  ddbRepeats: number[];
}

/** A BPUT run repeated: the median repeat, and the throughput of each. */
export interface BlobRunResult extends BlobLoadResult {
  /** MB/s of every repeat. */
  repeatsMbPerSecond: number[];
}

/** Where and how the benchmark ran. */
export interface BenchMachine {
  /** Logical CPUs. */
  cpus: number;
  /** CPU model name. */
  cpuModel: string;
  /** Operating system and architecture. */
  os: string;
  /** Deno version. */
  deno: string;
  /** redis-server version. */
  redis: string;
  /** ddb version. */
  ddb: string;
  /** The git commit of the tree measured, `+dirty` with uncommitted changes; or `unknown`. */
  revision: string;
}

/** Everything one run measured. */
export interface BenchResults {
  /** When the run started (ISO 8601). */
  date: string;
  /** The machine. */
  machine: BenchMachine;
  /** The 1-minute load average before and after: other work on the machine skews the numbers. */
  loadAverage: { start: number; end: number };
  /** The settings, as given. */
  settings: Record<string, unknown>;
  /** redis-benchmark results. */
  commands: CommandResult[];
  /** BPUT throughput runs. */
  blobs: BlobRunResult[];
  /** The memory soak. */
  soak: SoakResult;
}

/** One target and whether it was met. */
export interface TargetCheck {
  /** What is measured, e.g. `SET -P 16`. */
  name: string;
  /** The target, e.g. `>= 0.25x redis`. */
  target: string;
  /** The measured value, formatted. */
  measured: string;
  /** Whether the target is met. */
  pass: boolean;
}

/** Whether the soak's RSS stayed flat: its second-half trend is within the limit. */
export function rssIsFlat(soak: Pick<SoakResult, "rss">): boolean {
  return soak.rss.secondHalfSlopeMiBPerMinute <= RSS_SLOPE_LIMIT_MIB_PER_MINUTE;
}

/** The label of a command result, e.g. `SET -P 16`. */
export function commandLabel(result: Pick<CommandResult, "test" | "pipeline">): string {
  const test = result.test.startsWith("BEXISTS ") ? "BEXISTS" : result.test;
  return result.pipeline > 1 ? `${test} -P ${result.pipeline}` : test;
}

/** The label of a BPUT run, e.g. `BPUT 64 KiB`. */
export function blobLabel(result: Pick<BlobLoadResult, "size">): string {
  return result.size >= MiB && result.size % MiB === 0
    ? `BPUT ${result.size / MiB} MiB`
    : `BPUT ${Math.round(result.size / 1024)} KiB`;
}

/** Checks `results` against the targets; a target without a measurement is not met. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const test of ["SET", "GET"]) {
    const found = results.commands.find((c) => c.test === test && c.pipeline === 16);
    const ratio = found?.redis ? found.ddb.rps / found.redis.rps : Number.NaN;
    checks.push({
      name: `${test} -P 16`,
      target: `>= ${PIPELINED_RATIO_TARGET} x redis`,
      measured: Number.isNaN(ratio) ? "not measured" : `${ratio.toFixed(2)} x redis`,
      pass: ratio >= PIPELINED_RATIO_TARGET,
    });
  }
  const big = results.blobs.find((b) => b.size === MiB);
  checks.push({
    name: "BPUT 1 MiB",
    target: `>= ${BPUT_1MIB_TARGET_MB_PER_SECOND} MB/s`,
    measured: big ? `${big.mbPerSecond.toFixed(0)} MB/s` : "not measured",
    pass: big !== undefined && big.mbPerSecond >= BPUT_1MIB_TARGET_MB_PER_SECOND,
  });
  checks.push({
    name: "RSS trend under load",
    target: `<= ${RSS_SLOPE_LIMIT_MIB_PER_MINUTE} MiB/min`,
    measured: `${results.soak.rss.secondHalfSlopeMiBPerMinute.toFixed(2)} MiB/min` +
      (results.soak.seconds < FIRM_SOAK_SECONDS ? " (indicative only: soak under 10 min)" : ""),
    pass: rssIsFlat(results.soak),
  });
  return checks;
}

function rps(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** Formats rows as a Markdown table with aligned columns; the first row is the header. */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: readonly string[]) =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

/**
 * The results table: one row per command (redis rps, ddb rps, ratio) and per
 * BPUT size (MB/s), with the targets' verdicts.
 */
export function resultsTable(results: BenchResults): string {
  const checks = new Map(checkTargets(results).map((c) => [c.name, c]));
  const verdict = (name: string): [string, string] => {
    const check = checks.get(name);
    return check ? [check.target, check.pass ? "pass" : "FAIL"] : ["", ""];
  };
  const rows: string[][] = [["command", "redis", "ddb", "ddb/redis", "target", "result"]];
  for (const c of results.commands) {
    const label = commandLabel(c);
    const ratio = c.redis ? (c.ddb.rps / c.redis.rps).toFixed(2) : "-";
    rows.push([
      label,
      c.redis ? `${rps(c.redis.rps)} rps` : "-",
      `${rps(c.ddb.rps)} rps`,
      ratio,
      ...verdict(label),
    ]);
  }
  for (const b of results.blobs) {
    const label = blobLabel(b);
    rows.push([label, "-", `${b.mbPerSecond.toFixed(0)} MB/s`, "-", ...verdict(label)]);
  }
  return markdownTable(rows);
}

/** The soak summary table: RSS at start, peak and end, and the second-half trend. */
export function soakTable(soak: SoakResult): string {
  return markdownTable([
    ["load", "RSS start", "RSS peak", "RSS end", "trend (2nd half)", "target", "result"],
    [
      `${(soak.seconds / 60).toFixed(1)} min`,
      mib(soak.rss.startBytes),
      mib(soak.rss.peakBytes),
      mib(soak.rss.endBytes),
      `${soak.rss.secondHalfSlopeMiBPerMinute.toFixed(2)} MiB/min`,
      `<= ${RSS_SLOPE_LIMIT_MIB_PER_MINUTE} MiB/min`,
      rssIsFlat(soak) ? "pass" : "FAIL",
    ],
  ]);
}
