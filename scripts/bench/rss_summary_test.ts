import assert from "node:assert/strict";
import { summarizeRss } from "./rss_summary.ts";

const MiB = 1024 * 1024;

Deno.test("summarizeRss reports start, peak, end and the second-half trend", () => {
  // Grows fast while warming up, then flat at 200 MiB with one spike.
  const samples = [100, 150, 190, 200, 250, 200, 200, 200, 200].map((m, i) => ({
    seconds: i * 15,
    bytes: m * MiB,
  }));
  const summary = summarizeRss(samples);
  assert.equal(summary.startBytes, 100 * MiB);
  assert.equal(summary.peakBytes, 250 * MiB);
  assert.equal(summary.endBytes, 200 * MiB);
  assert.equal(summary.samples, 9);
  // Second half: t >= 60 s, i.e. 200, 250, 200, 200, 200, 200: a slight downtrend.
  assert.ok(summary.secondHalfSlopeMiBPerMinute < 0);
});

Deno.test("summarizeRss measures a steady leak in MiB per minute", () => {
  const samples = Array.from(
    { length: 61 },
    (_, i) => ({ seconds: i, bytes: (100 + i / 10) * MiB }),
  );
  assert.ok(Math.abs(summarizeRss(samples).secondHalfSlopeMiBPerMinute - 6) < 1e-9);
});

Deno.test("summarizeRss needs a sample", () => {
  assert.throws(() => summarizeRss([]), RangeError);
  assert.equal(summarizeRss([{ seconds: 0, bytes: 5 }]).secondHalfSlopeMiBPerMinute, 0);
});
