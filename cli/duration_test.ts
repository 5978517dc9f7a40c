import assert from "node:assert/strict";
import { DurationSyntaxError, formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration: units largest first, 0 alone", () => {
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("1d12h"), 129_600_000);
  assert.equal(parseDuration("2m"), 120_000);
  assert.equal(parseDuration("1500ms"), 1500);
  assert.equal(parseDuration("1h30m15s"), 5_415_000);
  for (const bad of ["", "1", "h", "1x", "30m1h", "-1h", "1.5h", "1 h"]) {
    assert.throws(() => parseDuration(bad), DurationSyntaxError, bad);
  }
});

Deno.test("formatDuration: reads back", () => {
  for (const ms of [0, 1, 1000, 90_000, 3_600_000, 5_415_000, 129_600_001]) {
    assert.equal(parseDuration(formatDuration(ms)), ms);
  }
  assert.equal(formatDuration(5_400_000), "1h30m");
});
