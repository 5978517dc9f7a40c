/**
 * A sustained mixed load against one server while its resident set size is
 * sampled every second.
 *
 * The load, all at once until the time is up:
 *
 * - `redis-benchmark -P 16 -r 100000`, alternating SET/GET/HSET/PING with a
 *   `BEXISTS <hash>` command, over and over;
 * - BPUT of 64 KiB blobs at a capped rate, one in four a new blob and the
 *   rest repeats of 64 known ones, so the write path is exercised without
 *   filling the disk.
 *
 * @module
 */

import { type BlobLoadResult, runBlobLoad } from "./blob_load.ts";
import { runRedisBenchmark } from "./redis_benchmark.ts";
import { readRss } from "./rss.ts";
import { type RssSample, type RssSummary, summarizeRss } from "./rss_summary.ts";

/** What load to run, against which process. */
export interface SoakOptions {
  /** Port on 127.0.0.1. */
  port: number;
  /** The server's process id, to sample. */
  pid: number;
  /** How long the load runs. */
  durationMs: number;
  /** A 64-hex hash to ask BEXISTS about. */
  bexistsHash: string;
  /** redis-benchmark connections. */
  clients: number;
  /** redis-benchmark pipeline depth. */
  pipeline: number;
  /** BPUT requests per second (all connections). */
  blobRate: number;
}

/** The outcome of a soak. */
export interface SoakResult {
  /** Seconds the load ran. */
  seconds: number;
  /** RSS samples, one a second, the first before any load. */
  samples: RssSample[];
  /** Their summary. */
  rss: RssSummary;
  /** redis-benchmark runs completed. */
  benchmarkRuns: number;
  /** SET requests/s of the first and the last completed SET/GET/HSET/PING run. */
  setRps: { first: number; last: number };
  /** The BPUT part. */
  blobs: BlobLoadResult;
}

const KEYSPACE = 100_000;
/** Requests per redis-benchmark run: a few seconds each. */
const RUN_REQUESTS = 50_000;
const BLOB_SIZE = 64 * 1024;
const BLOB_POOL = 64;

/** Runs the soak; resolves after `durationMs` plus the time to wind down. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const start = performance.now();
  const samples: RssSample[] = [];
  const sample = () =>
    samples.push({ seconds: (performance.now() - start) / 1000, bytes: readRss(options.pid) });
  sample();
  const sampler = setInterval(sample, 1000);
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(), options.durationMs);
  const setRps: number[] = [];
  let benchmarkRuns = 0;
  try {
    const benchmarking = (async () => {
      for (let run = 0; !stop.signal.aborted; run++) {
        const common = {
          port: options.port,
          requests: RUN_REQUESTS,
          clients: options.clients,
          pipeline: options.pipeline,
          keyspace: KEYSPACE,
          timeoutMs: 120_000,
          signal: stop.signal,
        };
        try {
          const rows = await runRedisBenchmark(
            run % 2 === 0
              ? { ...common, tests: ["set", "get", "hset", "ping"] }
              : { ...common, command: ["BEXISTS", options.bexistsHash] },
          );
          benchmarkRuns++;
          const set = rows.find((row) => row.test === "SET");
          if (set !== undefined) setRps.push(set.rps);
        } catch (error) {
          if (!stop.signal.aborted) throw error;
        }
      }
    })();
    const blobs = runBlobLoad({
      port: options.port,
      size: BLOB_SIZE,
      durationMs: options.durationMs,
      connections: 2,
      depth: 2,
      ratePerSecond: options.blobRate,
      blobNumber: (i) => (i % 4 === 0 ? BLOB_POOL + i : i % BLOB_POOL),
      timeoutMs: options.durationMs + 60_000,
      signal: stop.signal,
    });
    const stopOnError = (error: unknown): never => {
      stop.abort();
      throw error;
    };
    const [benchmarked, blobbed] = await Promise.allSettled([
      benchmarking.catch(stopOnError),
      blobs.catch(stopOnError),
    ]);
    if (benchmarked.status === "rejected") throw benchmarked.reason;
    if (blobbed.status === "rejected") throw blobbed.reason;
    const blobResult = blobbed.value;
    const seconds = (performance.now() - start) / 1000;
    sample();
    return {
      seconds,
      samples,
      rss: summarizeRss(samples),
      benchmarkRuns,
      setRps: { first: setRps[0] ?? 0, last: setRps[setRps.length - 1] ?? 0 },
      blobs: blobResult,
    };
  } finally {
    stop.abort();
    clearTimeout(deadline);
    clearInterval(sampler);
  }
}
