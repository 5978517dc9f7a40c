import assert from "node:assert/strict";
import { ProgressMeter } from "./progress_meter.ts";
import type { ProgressState } from "./progress.ts";

function state(bytesDone: number, bytesTotal?: number, phase = "backup"): ProgressState {
  return { phase, files: 0, dirs: 0, bytesDone, bytesTotal, newBytes: 0, errors: 0 };
}

Deno.test("ProgressMeter paces renders by the interval", () => {
  let time = 0;
  const meter = new ProgressMeter(() => time, 100, 10_000);
  assert.equal(meter.due(), true);
  assert.equal(meter.due(true), false);
  meter.measure(state(0));
  time = 99;
  assert.equal(meter.due(), false);
  time = 100;
  assert.equal(meter.due(), true);
});

Deno.test("ProgressMeter measures the rate over the moving window", () => {
  let time = 0;
  const meter = new ProgressMeter(() => time, 0, 5000);
  // 1 byte/ms for 5 s, then 3 bytes/ms.
  let bytes = 0;
  for (; time <= 10_000; time += 500) {
    const figures = meter.measure(state(bytes));
    if (time === 5000) assert.equal(figures.bytesPerSecond, 1000);
    if (time === 10_000) assert.equal(figures.bytesPerSecond, 3000);
    bytes += time < 5000 ? 500 : 1500;
  }
});

Deno.test("ProgressMeter restarts the window when bytes go down", () => {
  let time = 0;
  const meter = new ProgressMeter(() => time, 0, 10_000);
  time = 2000;
  assert.equal(meter.measure(state(4000)).bytesPerSecond, 2000);
  time = 2500;
  assert.equal(meter.measure(state(10)).bytesPerSecond, undefined);
  time = 3500;
  assert.equal(meter.measure(state(1010)).bytesPerSecond, 1000);
});

Deno.test("ProgressMeter gives percent and ETA", () => {
  let time = 0;
  const meter = new ProgressMeter(() => time, 0, 10_000);
  assert.deepEqual(meter.measure(state(0, 100)), { elapsedMs: 0, percent: 0 });
  time = 1000;
  assert.deepEqual(meter.measure(state(25, 100)), {
    elapsedMs: 1000,
    bytesPerSecond: 25,
    percent: 25,
    etaMs: 3000,
  });
  time = 2000;
  assert.deepEqual(meter.measure(state(25, 100)), {
    elapsedMs: 2000,
    bytesPerSecond: 12.5,
    percent: 25,
    etaMs: 6000,
  });
  time = 3000;
  assert.equal(meter.measure(state(120, 100)).etaMs, 0);
  assert.equal(meter.measure(state(120, 100)).percent, 100);
  assert.equal(meter.measure(state(0, 0)).percent, 100);
});
