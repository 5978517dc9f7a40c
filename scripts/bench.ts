/**
 * `deno task bench`: ddb serve against redis-server on loopback, see
 * docs/benchmarks.md. Prints the results table; `--json FILE` also writes
 * every measurement.
 *
 * Exit codes: 0 the run completed (whether or not the targets were met),
 * 1 the run failed, 2 bad usage.
 *
 * @module
 */

import { UsageError } from "../cli/flags.ts";
import { BENCH_HELP, type BenchOptions, parseBenchOptions } from "./bench/options.ts";
import { checkTargets, resultsTable, soakTable } from "./bench/report.ts";
import { runBench } from "./bench/run_bench.ts";

/** Runs the benchmark with command-line `args`; resolves with the exit code. */
export async function benchMain(args: string[]): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseBenchOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message} (see deno task bench --help)`);
    return 2;
  }
  if (options === undefined) {
    console.log(BENCH_HELP);
    return 0;
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const started = performance.now();
  try {
    const results = await runBench(
      options,
      (line) => console.error(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`),
      interrupt.signal,
    );
    const m = results.machine;
    const load = results.loadAverage;
    console.log(
      `\nddb ${m.ddb} (${m.revision}) vs redis-server ${m.redis}, ${results.date}\n` +
        `${m.cpus} CPUs (${m.cpuModel}), Deno ${m.deno}, ${m.os}, ` +
        `load average ${load.start.toFixed(2)} before, ${load.end.toFixed(2)} after\n`,
    );
    console.log(resultsTable(results));
    console.log();
    console.log(soakTable(results.soak));
    console.log();
    for (const check of checkTargets(results)) {
      console.log(
        `${
          check.pass ? "pass" : "FAIL"
        }  ${check.name}: ${check.measured} (target ${check.target})`,
      );
    }
    if (options.json !== undefined) {
      await Deno.writeTextFile(options.json, JSON.stringify(results, null, 2) + "\n");
      console.error(`results written to ${options.json}`);
    }
    return 0;
  } catch (error) {
    const message = interrupt.signal.aborted
      ? "interrupted"
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`bench: ${message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await benchMain(Deno.args));
