/**
 * Runs the `redis-benchmark` program against a loopback port and parses its
 * `--csv` output.
 *
 * @module
 */

import { type BenchmarkRow, parseBenchmarkCsv } from "./benchmark_csv.ts";

/** What to run; maps onto `redis-benchmark` flags. */
export interface RedisBenchmarkOptions {
  /** Port on 127.0.0.1 (`-p`). */
  port: number;
  /** Total requests per test (`-n`). */
  requests: number;
  /** Parallel connections (`-c`). */
  clients: number;
  /** Requests pipelined per connection (`-P`); 1 means no pipelining. */
  pipeline: number;
  /** Built-in tests (`-t`), e.g. `["set", "get"]`; omit when `command` is given. */
  tests?: readonly string[];
  /** A custom command line run instead of the built-in tests. */
  command?: readonly string[];
  /** Random keys from this many (`-r`); without it every request uses one key. */
  keyspace?: number;
  /** Kill the program and fail after this long. */
  timeoutMs: number;
  /** Stop early: kills the program; the run then fails with an `AbortError`. */
  signal?: AbortSignal;
}

/** `redis-benchmark` failed or printed no results. */
export class RedisBenchmarkError extends Error {
  /** Builds the error with a message such as `Cannot run redis-benchmark "-t set": reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisBenchmarkError";
  }
}

/** The `redis-benchmark` arguments for `options`. Pure. */
export function redisBenchmarkArgs(options: RedisBenchmarkOptions): string[] {
  const args = ["-h", "127.0.0.1", "-p", String(options.port), "-n", String(options.requests)];
  args.push("-c", String(options.clients));
  if (options.pipeline > 1) args.push("-P", String(options.pipeline));
  if (options.keyspace !== undefined) args.push("-r", String(options.keyspace));
  args.push("--csv");
  if (options.tests !== undefined) args.push("-t", options.tests.join(","));
  if (options.command !== undefined) args.push(...options.command);
  return args;
}

/** Runs `redis-benchmark` with `options`; resolves with one row per test. */
export async function runRedisBenchmark(options: RedisBenchmarkOptions): Promise<BenchmarkRow[]> {
  const args = redisBenchmarkArgs(options);
  const signals = [AbortSignal.timeout(options.timeoutMs)];
  if (options.signal !== undefined) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  const what = `Cannot run redis-benchmark "${args.join(" ")}"`;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("redis-benchmark", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
  } catch (cause) {
    throw new RedisBenchmarkError(`${what}: ${(cause as Error).message}`, { cause });
  }
  options.signal?.throwIfAborted();
  if (signal.aborted) {
    throw new RedisBenchmarkError(`${what}: still running after ${options.timeoutMs} ms`);
  }
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr).replace(
    /^WARNING: Could not fetch server CONFIG\n?/gm,
    "",
  );
  if (!output.success) {
    throw new RedisBenchmarkError(`${what}: exit code ${output.code}: ${stderr.trim()}`);
  }
  if (stderr.trim() !== "") throw new RedisBenchmarkError(`${what}: ${stderr.trim()}`);
  let rows: BenchmarkRow[];
  try {
    rows = parseBenchmarkCsv(stdout);
  } catch (cause) {
    throw new RedisBenchmarkError(`${what}: ${(cause as Error).message}`, { cause });
  }
  if (rows.length === 0) throw new RedisBenchmarkError(`${what}: no results`);
  return rows;
}
