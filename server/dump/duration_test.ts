import assert from "node:assert/strict";
import { parseDuration } from "./duration.ts";

Deno.test("parseDuration reads units and sums parts", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("15m"), 900_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration refuses anything else", () => {
  for (const bad of ["", "1", "h", "1x", "1h ", " 1h", "-1h", "1.5h", "1H", "1h30"]) {
    assert.throws(() => parseDuration(bad), RangeError, bad);
  }
});
