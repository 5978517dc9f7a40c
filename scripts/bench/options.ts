/**
 * The settings of `deno task bench` and how its flags map onto them. No I/O.
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** One BPUT throughput run. */
export interface BlobRun {
  /** Bytes per blob. */
  size: number;
  /** Blobs to store, all distinct. */
  count: number;
}

/** Everything a benchmark run is configured by. */
export interface BenchOptions {
  /** A short sanity run with small counts. */
  quick: boolean;
  /** How many times each redis-benchmark test and BPUT run is repeated; the median counts. */
  repeats: number;
  /** redis-benchmark `-n` without pipelining. */
  requests: number;
  /** redis-benchmark `-n` with pipelining. */
  pipelinedRequests: number;
  /** redis-benchmark `-c`. */
  clients: number;
  /** redis-benchmark `-P` of the pipelined runs. */
  pipeline: number;
  /** BPUT throughput runs. */
  blobRuns: BlobRun[];
  /** BPUT connections. */
  blobConnections: number;
  /** BPUT requests in flight per connection. */
  blobDepth: number;
  /** Length of the memory soak, minutes. */
  soakMinutes: number;
  /** BPUT requests per second during the soak. */
  soakBlobRate: number;
  /** Where to write the results as JSON, if anywhere. */
  json?: string;
}

/** The flags of `deno task bench`. */
export const BENCH_FLAGS: FlagSpecs = {
  quick: { type: "boolean", help: "Small counts and a 10-second soak: a fast sanity run" },
  "soak-minutes": {
    type: "string",
    value: "MINUTES",
    help: "Length of the memory soak (2; 10 for the full check; 1/6 with --quick)",
  },
  repeats: {
    type: "string",
    value: "N",
    help: "Run each measurement N times and report the median (3; 1 with --quick)",
  },
  json: { type: "string", value: "FILE", help: "Also write the results to FILE as JSON" },
};

/** The help text of `deno task bench`. */
export const BENCH_HELP = formatHelp(
  "deno task bench [options]",
  `Benchmarks ddb serve against redis-server, both started here on loopback ports:
redis-benchmark for PING, SET/GET, HSET (plain and -P 16) and BEXISTS (ddb only),
a built-in client for BPUT of 64 KiB and 1 MiB blobs, then a memory soak of ddb
under sustained load. See docs/benchmarks.md.`,
  BENCH_FLAGS,
);

/** The settings of a default run (about 4 minutes on 2 cores). */
export const DEFAULT_OPTIONS: Readonly<BenchOptions> = Object.freeze({
  quick: false,
  repeats: 3,
  requests: 100_000,
  pipelinedRequests: 500_000,
  clients: 50,
  pipeline: 16,
  blobRuns: [{ size: 64 * KiB, count: 2000 }, { size: MiB, count: 500 }],
  blobConnections: 8,
  blobDepth: 2,
  soakMinutes: 2,
  soakBlobRate: 100,
});

/** The settings of a `--quick` run (well under a minute). */
export const QUICK_OPTIONS: Readonly<BenchOptions> = Object.freeze({
  ...DEFAULT_OPTIONS,
  quick: true,
  repeats: 1,
  requests: 10_000,
  pipelinedRequests: 50_000,
  blobRuns: [{ size: 64 * KiB, count: 200 }, { size: MiB, count: 50 }],
  soakMinutes: 1 / 6,
});

/** Most repeats accepted. */
const MAX_REPEATS = 99;
/** Longest soak accepted, minutes. */
const MAX_SOAK_MINUTES = 24 * 60;

/**
 * Parses the command line; resolves to undefined when help was asked for.
 * Throws {@linkcode UsageError} on bad flags.
 *
 * @example
 * ```ts
 * parseBenchOptions(["--quick", "--soak-minutes", "2"])?.soakMinutes; // 2
 * ```
 */
export function parseBenchOptions(args: string[]): BenchOptions | undefined {
  const flags = parseFlags(args, BENCH_FLAGS);
  if (flags.values.help) return undefined;
  if (flags.positionals.length > 0) {
    throw new UsageError(`Unexpected argument "${flags.positionals[0]}"`);
  }
  const base = flags.values.quick ? QUICK_OPTIONS : DEFAULT_OPTIONS;
  const options: BenchOptions = { ...base, blobRuns: base.blobRuns.map((r) => ({ ...r })) };
  const soak = stringFlag(flags, "soak-minutes");
  if (soak !== undefined) {
    const minutes = Number(soak);
    if (soak.trim() === "" || !(minutes > 0 && minutes <= MAX_SOAK_MINUTES)) {
      throw new UsageError(
        `Cannot use --soak-minutes "${soak}": expected a number over 0 and at most ${MAX_SOAK_MINUTES}`,
      );
    }
    options.soakMinutes = minutes;
  }
  const repeats = stringFlag(flags, "repeats");
  if (repeats !== undefined) {
    const n = Number(repeats);
    if (!/^\d+$/.test(repeats) || n < 1 || n > MAX_REPEATS) {
      throw new UsageError(
        `Cannot use --repeats "${repeats}": expected a whole number from 1 to ${MAX_REPEATS}`,
      );
    }
    options.repeats = n;
  }
  const json = stringFlag(flags, "json");
  if (json !== undefined) {
    if (json === "") throw new UsageError(`Cannot use --json "": expected a file name`);
    options.json = json;
  }
  return options;
}
