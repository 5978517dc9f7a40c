import assert from "node:assert/strict";
import type { BenchmarkRow } from "./benchmark_csv.ts";
import type { SoakResult } from "./memory_soak.ts";
import {
  type BenchResults,
  blobLabel,
  type BlobRunResult,
  checkTargets,
  commandLabel,
  markdownTable,
  resultsTable,
  soakTable,
} from "./report.ts";

const MiB = 1024 * 1024;

function row(test: string, rps: number): BenchmarkRow {
  return { test, rps, avgLatencyMs: 1, p50LatencyMs: 1, p99LatencyMs: 2, maxLatencyMs: 3 };
}

function blob(size: number, mbPerSecond: number): BlobRunResult {
  return {
    repeatsMbPerSecond: [mbPerSecond],
    size,
    requests: 10,
    bytes: 10 * size,
    seconds: 1,
    mbPerSecond,
    requestsPerSecond: 10,
    connections: 8,
    depth: 2,
  };
}

function soak(slope: number): SoakResult {
  return {
    seconds: 600,
    samples: [],
    rss: {
      startBytes: 100 * MiB,
      peakBytes: 150 * MiB,
      endBytes: 140 * MiB,
      secondHalfSlopeMiBPerMinute: slope,
      samples: 601,
    },
    benchmarkRuns: 10,
    setRps: { first: 1, last: 1 },
    blobs: blob(65536, 5),
  };
}

function results(setRatio: number, bputMbPerSecond: number, slope: number): BenchResults {
  return {
    date: "2026-01-01T00:00:00.000Z",
    machine: {
      cpus: 2,
      cpuModel: "x",
      os: "linux",
      deno: "2",
      redis: "7",
      ddb: "0.1.0",
      revision: "abc",
    },
    loadAverage: { start: 0, end: 0 },
    settings: {},
    commands: [
      {
        test: "PING_INLINE",
        pipeline: 1,
        redis: row("PING_INLINE", 50_000),
        ddb: row("", 25_000),
        ddbRepeats: [],
      },
      {
        test: "SET",
        pipeline: 16,
        redis: row("SET", 400_000),
        ddb: row("SET", 400_000 * setRatio),
        ddbRepeats: [],
      },
      {
        test: "GET",
        pipeline: 16,
        redis: row("GET", 400_000),
        ddb: row("GET", 200_000),
        ddbRepeats: [],
      },
      { test: "BEXISTS 00ff", pipeline: 16, ddb: row("BEXISTS 00ff", 123_456.4), ddbRepeats: [] },
    ],
    blobs: [blob(65536, 80), blob(MiB, bputMbPerSecond)],
    soak: soak(slope),
  };
}

Deno.test("labels name the command, pipelining and blob size", () => {
  assert.equal(commandLabel({ test: "SET", pipeline: 1 }), "SET");
  assert.equal(commandLabel({ test: "SET", pipeline: 16 }), "SET -P 16");
  assert.equal(commandLabel({ test: "BEXISTS 00ff", pipeline: 16 }), "BEXISTS -P 16");
  assert.equal(blobLabel({ size: 65536 }), "BPUT 64 KiB");
  assert.equal(blobLabel({ size: MiB }), "BPUT 1 MiB");
});

Deno.test("checkTargets passes and fails at the thresholds", () => {
  const pass = checkTargets(results(0.25, 300, 2));
  assert.deepEqual(pass.map((c) => [c.name, c.pass]), [
    ["SET -P 16", true],
    ["GET -P 16", true],
    ["BPUT 1 MiB", true],
    ["RSS trend under load", true],
  ]);
  const fail = checkTargets(results(0.24, 299, 2.01));
  assert.deepEqual(fail.map((c) => c.pass), [false, true, false, false]);
  assert.equal(fail[0].measured, "0.24 x redis");
  assert.equal(fail[3].measured, "2.01 MiB/min");
  const short = results(1, 1000, 0);
  short.soak.seconds = 120;
  assert.match(checkTargets(short)[3].measured, /indicative only/);
});

Deno.test("checkTargets fails a target that was not measured", () => {
  const r = results(1, 1000, 0);
  r.commands = [];
  r.blobs = [];
  const checks = checkTargets(r);
  assert.deepEqual(checks.map((c) => c.pass), [false, false, false, true]);
  assert.equal(checks[0].measured, "not measured");
});

Deno.test("resultsTable lists commands with ratios and verdicts, then BPUT", () => {
  const table = resultsTable(results(0.1, 350, 0)).split("\n");
  assert.equal(table.length, 2 + 4 + 2);
  assert.match(table[0], /^\| command +\| redis +\| ddb +\| ddb\/redis \| target +\| result \|$/);
  assert.match(table[1], /^\| -+ \| -+ \|/);
  assert.match(table[2], /^\| PING_INLINE +\| 50,000 rps +\| 25,000 rps +\| 0\.50 +\| +\| +\|$/);
  assert.match(table[3], /^\| SET -P 16 .*\| 0\.10 +\| >= 0\.25 x redis \| FAIL +\|$/);
  assert.match(table[5], /^\| BEXISTS -P 16 +\| - +\| 123,456 rps \| - /);
  assert.match(table[7], /^\| BPUT 1 MiB .*\| 350 MB\/s .*\| >= 300 MB\/s +\| pass +\|$/);
});

Deno.test("soakTable shows RSS in MiB and the trend's verdict", () => {
  const table = soakTable(soak(0.5)).split("\n");
  assert.match(
    table[2],
    /^\| 10\.0 min \| 100\.0 MiB \| 150\.0 MiB \| 140\.0 MiB \| 0\.50 MiB\/min /,
  );
  assert.match(table[2], /\| pass +\|$/);
});

Deno.test("markdownTable pads columns to the widest cell", () => {
  assert.equal(
    markdownTable([["a", "bb"], ["ccc", "d"]]),
    "| a   | bb |\n| --- | -- |\n| ccc | d  |",
  );
});
