import assert from "node:assert/strict";
import { BenchmarkCsvError, parseBenchmarkCsv, splitCsvLine } from "./benchmark_csv.ts";

const HEADER =
  '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"';

Deno.test("parseBenchmarkCsv reads the rows redis-benchmark 7 prints", () => {
  const text = `${HEADER}\n"SET","12210.01","3.973","0.272","2.991","10.135","14.583","37.887"\n` +
    `"BEXISTS 00ff","15151.51","3.198","0.296","2.423","9.039","13.919","16.719"\n\n`;
  assert.deepEqual(parseBenchmarkCsv(text), [
    {
      test: "SET",
      rps: 12210.01,
      avgLatencyMs: 3.973,
      p50LatencyMs: 2.991,
      p99LatencyMs: 14.583,
      maxLatencyMs: 37.887,
    },
    {
      test: "BEXISTS 00ff",
      rps: 15151.51,
      avgLatencyMs: 3.198,
      p50LatencyMs: 2.423,
      p99LatencyMs: 13.919,
      maxLatencyMs: 16.719,
    },
  ]);
  assert.deepEqual(parseBenchmarkCsv(HEADER + "\n"), []);
});

Deno.test("parseBenchmarkCsv rejects output that is not the benchmark's CSV", () => {
  assert.throws(() => parseBenchmarkCsv(""), BenchmarkCsvError);
  assert.throws(() => parseBenchmarkCsv('"test","x"\n'), /no column "rps"/);
  assert.throws(() => parseBenchmarkCsv(`${HEADER}\n"SET","1"\n`), /2 fields, expected 8/);
  assert.throws(
    () => parseBenchmarkCsv(`${HEADER}\n"SET","fast","1","1","1","1","1","1"\n`),
    /"fast" is not a number/,
  );
});

Deno.test("splitCsvLine handles quoted, unquoted, empty and escaped fields", () => {
  assert.deepEqual(splitCsvLine('"a",b,,"c""d",""'), ["a", "b", "", 'c"d', ""]);
  assert.deepEqual(splitCsvLine(""), [""]);
  assert.deepEqual(splitCsvLine('"a,b"'), ["a,b"]);
  assert.throws(() => splitCsvLine('"open'), /open quote/);
  assert.throws(() => splitCsvLine('"a"b'), /text after a quoted field/);
});
