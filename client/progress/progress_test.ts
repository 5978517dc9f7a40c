import assert from "node:assert/strict";
import { createReporter, type ProgressState, type ReporterOptions } from "./progress.ts";

/** A fake clock and a recording writer. */
function harness(options: Omit<ReporterOptions, "write" | "now">) {
  const clock = { time: 1000 };
  const out: string[] = [];
  const reporter = createReporter({
    ...options,
    write: (text) => out.push(text),
    now: () => clock.time,
  });
  return { clock, out, reporter };
}

const MIB = 1024 * 1024;

function state(overrides: Partial<ProgressState> = {}): ProgressState {
  return {
    phase: "backup",
    files: 0,
    dirs: 0,
    bytesDone: 0,
    newBytes: 0,
    errors: 0,
    ...overrides,
  };
}

Deno.test("tty reporter renders the first update and then at most every 200 ms", () => {
  const { clock, out, reporter } = harness({ mode: "tty" });
  reporter.update(state({ files: 1 }));
  assert.deepEqual(out, ["\r[0:00] backup 1 file 0 dirs 0 B\x1b[K"]);
  for (let i = 0; i < 1000; i++) {
    clock.time += 0.15;
    reporter.update(state({ files: 2 + i }));
  }
  // 150 ms of updates: nothing more.
  assert.equal(out.length, 1);
  clock.time += 50;
  reporter.update(state({ files: 5000 }));
  assert.equal(out.length, 2);
  assert.equal(out[1], "\r[0:00] backup 5000 files 0 dirs 0 B\x1b[K");
});

Deno.test("tty reporter does not rewrite an unchanged line", () => {
  const { clock, out, reporter } = harness({ mode: "tty" });
  reporter.update(state());
  clock.time += 300;
  reporter.update(state());
  assert.equal(out.length, 1);
});

Deno.test("tty reporter shows the moving rate, the percentage and the ETA", () => {
  const { clock, out, reporter } = harness({ mode: "tty", columns: 200 });
  const total = 1000 * MIB;
  for (let t = 0; t <= 20; t++) {
    // 10 MiB/s for 10 s, then 50 MiB/s.
    const done = t <= 10 ? t * 10 * MIB : 100 * MIB + (t - 10) * 50 * MIB;
    reporter.update(state({ files: t, bytesDone: done, bytesTotal: total }));
    if (t === 10) {
      assert.equal(
        out.at(-1),
        "\r[0:10] backup 10 files 0 dirs 100.0 MiB / 1000.0 MiB 10% 10.0 MiB/s ETA 1:30\x1b[K",
      );
    }
    clock.time += 1000;
  }
  // The 10 s window now holds only the 50 MiB/s part: 400 MiB left at 50 MiB/s.
  assert.equal(
    out.at(-1),
    "\r[0:20] backup 20 files 0 dirs 600.0 MiB / 1000.0 MiB 60% 50.0 MiB/s ETA 0:08\x1b[K",
  );
});

Deno.test("tty reporter shows no rate before a second has passed", () => {
  const { clock, out, reporter } = harness({ mode: "tty" });
  reporter.update(state({ bytesDone: 0, bytesTotal: 10 * MIB }));
  clock.time += 500;
  reporter.update(state({ bytesDone: 5 * MIB, bytesTotal: 10 * MIB }));
  assert.equal(out.at(-1), "\r[0:00] backup 0 files 0 dirs 5.0 MiB / 10.0 MiB 50%\x1b[K");
});

Deno.test("tty reporter restarts the rate on a new phase", () => {
  const { clock, out, reporter } = harness({ mode: "tty" });
  reporter.update(state({ phase: "scan", bytesDone: 0 }));
  clock.time += 2000;
  reporter.update(state({ phase: "scan", bytesDone: 20 * MIB }));
  assert.match(out.at(-1)!, / 10\.0 MiB\/s/);
  clock.time += 2000;
  reporter.update(state({ phase: "backup", bytesDone: 0 }));
  assert.doesNotMatch(out.at(-1)!, /\/s/);
});

Deno.test("tty reporter fits the line in the columns, path cut from the left", () => {
  const { out, reporter } = harness({ mode: "tty", columns: 60 });
  const path = "/home/user/a/very/long/path/to/some/deeply/nested/file.txt";
  reporter.update(state({ files: 3, bytesDone: 2048, currentPath: path }));
  const line = out[0].slice(1, -"\x1b[K".length);
  assert.equal(line, "[0:00] backup 3 files 0 dirs 2.0 KiB  …eply/nested/file.txt");
  assert.equal(Array.from(line).length, 59);
});

Deno.test("tty reporter reads a columns function at each render", () => {
  let columns = 80;
  const { clock, out, reporter } = harness({ mode: "tty", columns: () => columns });
  const path = "/p".repeat(100);
  reporter.update(state({ currentPath: path }));
  assert.equal(Array.from(out[0]).length, 1 + 79 + 3);
  columns = 40;
  clock.time += 200;
  reporter.update(state({ currentPath: path, files: 1 }));
  // 39 columns leave no room for the path.
  assert.equal(out[1], "\r[0:00] backup 1 file 0 dirs 0 B\x1b[K");
});

Deno.test("tty reporter log clears the line, writes the message and redraws", () => {
  const { out, reporter } = harness({ mode: "tty" });
  reporter.log("before any progress");
  reporter.update(state({ files: 1 }));
  reporter.log("cannot read /x: permission denied");
  assert.deepEqual(out, [
    "before any progress\n",
    "\r[0:00] backup 1 file 0 dirs 0 B\x1b[K",
    "\r\x1b[K",
    "cannot read /x: permission denied\n",
    "\r[0:00] backup 1 file 0 dirs 0 B\x1b[K",
  ]);
});

Deno.test("tty reporter finish clears the line once and ignores later updates", () => {
  const { clock, out, reporter } = harness({ mode: "tty" });
  reporter.finish();
  assert.deepEqual(out, []);
  const second = harness({ mode: "tty" });
  second.reporter.update(state());
  second.reporter.summary({ files: 1 });
  second.reporter.finish();
  second.reporter.finish();
  clock.time += 1000;
  second.reporter.update(state({ files: 9 }));
  assert.deepEqual(second.out, ["\r[0:00] backup 0 files 0 dirs 0 B\x1b[K", "\r\x1b[K"]);
});

Deno.test("json reporter writes progress lines every second and a summary", () => {
  const { clock, out, reporter } = harness({ mode: "json" });
  reporter.update(state({ files: 1, bytesDone: 0, currentPath: "/a" }));
  for (let i = 1; i <= 25; i++) {
    clock.time += 100;
    reporter.update(state({ files: 1 + i, bytesDone: i * MIB / 10 }));
  }
  reporter.log("cannot read /b");
  reporter.finish();
  reporter.summary({ files: 26, snapshot: "s:abc", timeUs: 1700000000000000n, big: 2n ** 64n });
  const lines = out.map((line) => {
    assert.ok(line.endsWith("\n"));
    return JSON.parse(line);
  });
  assert.deepEqual(lines, [
    {
      type: "progress",
      phase: "backup",
      files: 1,
      dirs: 0,
      bytesDone: 0,
      newBytes: 0,
      errors: 0,
      currentPath: "/a",
      elapsedMs: 0,
    },
    {
      type: "progress",
      phase: "backup",
      files: 11,
      dirs: 0,
      bytesDone: MIB,
      newBytes: 0,
      errors: 0,
      elapsedMs: 1000,
      bytesPerSecond: MIB,
    },
    {
      type: "progress",
      phase: "backup",
      files: 21,
      dirs: 0,
      bytesDone: 2 * MIB,
      newBytes: 0,
      errors: 0,
      elapsedMs: 2000,
      bytesPerSecond: MIB,
    },
    { type: "message", message: "cannot read /b" },
    {
      type: "progress",
      phase: "backup",
      files: 26,
      dirs: 0,
      bytesDone: 2.5 * MIB,
      newBytes: 0,
      errors: 0,
      elapsedMs: 2500,
      bytesPerSecond: MIB,
    },
    {
      type: "summary",
      files: 26,
      snapshot: "s:abc",
      timeUs: 1700000000000000,
      big: "18446744073709551616",
    },
  ]);
  assert.ok(out[5].startsWith('{"type":"summary",'));
});

Deno.test("json reporter gives percent and ETA with a total, and no extra line at finish", () => {
  const { clock, out, reporter } = harness({ mode: "json" });
  reporter.update(state({ bytesDone: 0, bytesTotal: 10 * MIB }));
  clock.time += 2000;
  reporter.update(state({ bytesDone: 4 * MIB, bytesTotal: 10 * MIB }));
  reporter.finish();
  assert.equal(out.length, 2);
  const last = JSON.parse(out[1]);
  assert.equal(last.percent, 40);
  assert.equal(last.bytesPerSecond, 2 * MIB);
  assert.equal(last.etaMs, 3000);
});

Deno.test("json reporter summary keeps type first even if the fields have one", () => {
  const { out, reporter } = harness({ mode: "json" });
  reporter.summary({ type: "other", ok: true });
  assert.equal(out[0], '{"type":"summary","ok":true}\n');
});

Deno.test("plain reporter writes a line every 10 s from the start, nothing before", () => {
  const { clock, out, reporter } = harness({ mode: "plain" });
  for (let t = 0; t < 25_000; t += 250) {
    reporter.update(state({ files: t / 250, bytesDone: t * 1024, currentPath: "/x\ny" }));
    clock.time += 250;
  }
  reporter.log("warning: x");
  reporter.summary({ files: 1 });
  reporter.finish();
  clock.time += 60_000;
  reporter.update(state());
  assert.deepEqual(out, [
    "[0:10] backup 40 files 0 dirs 9.8 MiB 1000.0 KiB/s  /x?y\n",
    "[0:20] backup 80 files 0 dirs 19.5 MiB 1000.0 KiB/s  /x?y\n",
    "warning: x\n",
  ]);
});

Deno.test("plain reporter prints nothing for a short job", () => {
  const { clock, out, reporter } = harness({ mode: "plain" });
  for (let i = 0; i < 90; i++) {
    reporter.update(state({ files: i }));
    clock.time += 100;
  }
  reporter.finish();
  assert.deepEqual(out, []);
});

Deno.test("quiet reporter writes only log messages", () => {
  const { clock, out, reporter } = harness({ mode: "quiet" });
  for (let i = 0; i < 100; i++) {
    reporter.update(state({ files: i }));
    clock.time += 1000;
  }
  reporter.log("error: y");
  reporter.summary({ files: 100 });
  reporter.finish();
  assert.deepEqual(out, ["error: y\n"]);
});

Deno.test("createReporter honours intervalMs and rejects bad durations", () => {
  const { clock, out, reporter } = harness({ mode: "tty", intervalMs: 1000 });
  reporter.update(state());
  clock.time += 999;
  reporter.update(state({ files: 1 }));
  assert.equal(out.length, 1);
  clock.time += 1;
  reporter.update(state({ files: 2 }));
  assert.equal(out.length, 2);
  const write = () => {};
  const now = () => 0;
  assert.throws(
    () => createReporter({ mode: "json", write, now, intervalMs: -1 }),
    { name: "RangeError", message: "Cannot create reporter: intervalMs -1 is not a duration" },
  );
  assert.throws(
    () => createReporter({ mode: "tty", write, now, rateWindowMs: Number.NaN }),
    RangeError,
  );
});

Deno.test("update is cheap when called often", () => {
  const { out, reporter } = harness({ mode: "tty" });
  const s = state();
  const start = performance.now();
  for (let i = 0; i < 1_000_000; i++) {
    s.files = i;
    reporter.update(s);
  }
  const ms = performance.now() - start;
  assert.equal(out.length, 1);
  assert.ok(ms < 500, `1,000,000 updates took ${ms.toFixed(0)} ms`);
});
