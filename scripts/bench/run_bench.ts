/**
 * One benchmark run: starts redis-server and ddb serve, measures both with
 * redis-benchmark, measures ddb's BPUT throughput and memory under a soak,
 * and stops both servers whatever happens.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { VERSION } from "../../version.ts";
import type { BenchmarkRow } from "./benchmark_csv.ts";
import { type BlobLoadResult, runBlobLoad } from "./blob_load.ts";
import { type ChildServer, startDdb, startRedis } from "./child_server.ts";
import { runSoak } from "./memory_soak.ts";
import type { BenchOptions } from "./options.ts";
import { runRedisBenchmark } from "./redis_benchmark.ts";
import { medianBy } from "./median.ts";
import {
  type BenchMachine,
  type BenchResults,
  blobLabel,
  type BlobRunResult,
  type CommandResult,
} from "./report.ts";
import { respCall } from "./resp_call.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** A 1-minute load average above this means the machine is busy with other work. */
const BUSY_LOAD = 0.5;

/** Content of the blob whose hash the BEXISTS test asks about. */
const BEXISTS_BLOB = "ddb benchmark: the blob BEXISTS looks up";

/** A redis-benchmark case: built-in tests or one custom command. */
interface Case {
  tests?: string[];
  command?: string[];
  ddbOnly?: boolean;
}

async function machine(): Promise<BenchMachine> {
  let cpuModel = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? cpuModel;
  } catch {
    // Not Linux; keep "unknown".
  }
  let redis = "unknown";
  try {
    const out = await new Deno.Command("redis-server", { args: ["--version"] }).output();
    redis = /v=(\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? redis;
  } catch {
    // Reported as unknown; starting it will fail with the reason.
  }
  let revision = "unknown";
  try {
    const git = (args: string[]) =>
      new Deno.Command("git", { args: ["-C", REPO, ...args], stderr: "null" }).output();
    const [head, status] = await Promise.all([
      git(["rev-parse", "--short", "HEAD"]),
      git(["status", "--porcelain"]),
    ]);
    if (head.success) {
      const dirty = status.success && status.stdout.length > 0 ? "+dirty" : "";
      revision = new TextDecoder().decode(head.stdout).trim() + dirty;
    }
  } catch {
    // No git: keep "unknown".
  }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    redis,
    ddb: VERSION,
    revision,
  };
}

/** Timeout of one redis-benchmark run: generous for a slow server, never unbounded. */
function benchTimeoutMs(requests: number): number {
  return 60_000 + requests; // 1 ms per request on top of a minute
}

/**
 * Runs the whole benchmark; `progress` gets one line per step. Aborting
 * `signal` stops the servers, which makes the step in progress fail.
 */
export async function runBench(
  options: BenchOptions,
  progress: (line: string) => void,
  signal?: AbortSignal,
): Promise<BenchResults> {
  const date = new Date().toISOString();
  const loadAtStart = Deno.loadavg()[0];
  if (loadAtStart > BUSY_LOAD) {
    progress(`warning: load average ${loadAtStart.toFixed(2)}: other work will skew the numbers`);
  }
  const servers: ChildServer[] = [];
  const stopAll = () => Promise.all(servers.map((s) => s.stop()));
  const onAbort = () => void stopAll();
  signal?.addEventListener("abort", onAbort);
  try {
    const started = await Promise.allSettled([startRedis(), startDdb()]);
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [redis, ddb] = servers;
    progress(`redis-server on port ${redis.port}, ddb serve on port ${ddb.port} (pid ${ddb.pid})`);
    signal?.throwIfAborted();

    const content = new TextEncoder().encode(BEXISTS_BLOB);
    const hash = createHash("sha256").update(content).digest("hex");
    const put = await respCall(ddb.port, ["BPUT", content]);
    if (put.kind !== "bulk" || new TextDecoder().decode(put.value ?? undefined) !== hash) {
      throw new Error(`Cannot store the BEXISTS blob: BPUT replied ${JSON.stringify(put)}`);
    }

    const cases: Case[] = [
      { tests: ["ping"] },
      { tests: ["set", "get"] },
      { tests: ["hset"] },
      { command: ["BEXISTS", hash], ddbOnly: true },
    ];
    const bench = (server: ChildServer, c: Case, requests: number, pipeline: number) =>
      runRedisBenchmark({
        port: server.port,
        requests,
        clients: options.clients,
        pipeline,
        tests: c.tests,
        command: c.command,
        timeoutMs: benchTimeoutMs(requests),
        signal,
      });

    progress("warm-up: SET/GET/HSET -P 16 on both");
    const warmUp = { tests: ["set", "get", "hset"] };
    const warmUpRequests = Math.min(50_000, options.pipelinedRequests);
    await bench(redis, warmUp, warmUpRequests, options.pipeline);
    await bench(ddb, warmUp, warmUpRequests, options.pipeline);

    const commands: CommandResult[] = [];
    for (const pipeline of [1, options.pipeline]) {
      const requests = pipeline > 1 ? options.pipelinedRequests : options.requests;
      for (const c of cases) {
        const what = (c.tests ?? c.command?.slice(0, 1) ?? []).join(",");
        const flags = `-n ${requests} -c ${options.clients}` +
          (pipeline > 1 ? ` -P ${pipeline}` : "");
        const redisRuns: BenchmarkRow[][] = [];
        const ddbRuns: BenchmarkRow[][] = [];
        for (let repeat = 1; repeat <= options.repeats; repeat++) {
          const of = options.repeats > 1 ? ` (${repeat}/${options.repeats})` : "";
          if (!c.ddbOnly) {
            progress(`redis-benchmark ${what} ${flags} on redis${of}`);
            redisRuns.push(await bench(redis, c, requests, pipeline));
          }
          progress(`redis-benchmark ${what} ${flags} on ddb${of}`);
          ddbRuns.push(await bench(ddb, c, requests, pipeline));
        }
        for (const { test } of ddbRuns[0]) {
          const pick = (runs: BenchmarkRow[][]) =>
            runs.map((rows) => rows.find((row) => row.test === test)).filter((row) =>
              row !== undefined
            );
          const ddbRows = pick(ddbRuns);
          const redisRows = pick(redisRuns);
          const rps = (row: BenchmarkRow) => row.rps;
          commands.push({
            test,
            pipeline,
            ddb: medianBy(ddbRows, rps),
            ddbRepeats: ddbRows.map(rps),
            ...(redisRows.length > 0
              ? { redis: medianBy(redisRows, rps), redisRepeats: redisRows.map(rps) }
              : {}),
          });
        }
      }
    }

    const blobs: BlobRunResult[] = [];
    for (const run of options.blobRuns) {
      const label = blobLabel(run);
      const repeats: BlobLoadResult[] = [];
      for (let repeat = 1; repeat <= options.repeats; repeat++) {
        const of = options.repeats > 1 ? ` (${repeat}/${options.repeats})` : "";
        progress(
          `${label} x ${run.count} on ddb, ${options.blobConnections} connections x ` +
            `${options.blobDepth} in flight${of}`,
        );
        repeats.push(
          await runBlobLoad({
            port: ddb.port,
            size: run.size,
            count: run.count,
            connections: options.blobConnections,
            depth: options.blobDepth,
            timeoutMs: 60_000 + (run.size * run.count) / 1e5, // 10 MB/s at worst
            signal,
          }),
        );
      }
      const mbPerSecond = (r: BlobLoadResult) => r.mbPerSecond;
      blobs.push({
        ...medianBy(repeats, mbPerSecond),
        repeatsMbPerSecond: repeats.map(mbPerSecond),
      });
    }

    const soakMs = Math.round(options.soakMinutes * 60_000);
    progress(`memory soak of ddb: ${(soakMs / 1000).toFixed(0)} s of mixed load, RSS every second`);
    const soak = await runSoak({
      port: ddb.port,
      pid: ddb.pid,
      durationMs: soakMs,
      bexistsHash: hash,
      clients: options.clients,
      pipeline: options.pipeline,
      blobRate: options.soakBlobRate,
    });
    signal?.throwIfAborted();

    return {
      date,
      machine: await machine(),
      loadAverage: { start: loadAtStart, end: Deno.loadavg()[0] },
      settings: { ...options },
      commands,
      blobs,
      soak,
    };
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await stopAll();
  }
}
