import assert from "node:assert/strict";
import { progressLine, progressStats, sanitize, truncatePath } from "./progress_line.ts";
import type { ProgressState } from "./progress.ts";

const STATE: ProgressState = {
  phase: "backup",
  files: 1204,
  dirs: 31,
  bytesDone: 1.2 * 1024 ** 3,
  bytesTotal: 3.4 * 1024 ** 3,
  newBytes: 12 * 1024 ** 2,
  errors: 2,
  currentPath: "/home/user/src/project/main.ts",
};
const FIGURES = {
  elapsedMs: 83_000,
  bytesPerSecond: 45.6 * 1024 ** 2,
  etaMs: 58_000,
  percent: 35.3,
};

Deno.test("progressStats shows every known figure", () => {
  assert.equal(
    progressStats(STATE, FIGURES),
    "[1:23] backup 1204 files 31 dirs 1.2 GiB / 3.4 GiB 35% 45.6 MiB/s ETA 0:58 new 12.0 MiB 2 errors",
  );
});

Deno.test("progressStats leaves out unknown and zero figures", () => {
  const state = { phase: "scan", files: 1, dirs: 1, bytesDone: 10, newBytes: 0, errors: 1 };
  assert.equal(progressStats(state, { elapsedMs: 0 }), "[0:00] scan 1 file 1 dir 10 B 1 error");
});

Deno.test("progressLine without a width appends the whole path", () => {
  assert.equal(
    progressLine(STATE, FIGURES),
    `${progressStats(STATE, FIGURES)}  /home/user/src/project/main.ts`,
  );
});

Deno.test("progressLine fits the path in the width, keeping its end", () => {
  const stats = progressStats(STATE, FIGURES);
  const width = stats.length + 2 + 12;
  const line = progressLine(STATE, FIGURES, width);
  assert.equal(line, `${stats}  …ect/main.ts`);
  assert.equal(Array.from(line).length, width);
  assert.equal(progressLine(STATE, FIGURES, 1000), progressLine(STATE, FIGURES));
});

Deno.test("progressLine drops the path when less than 10 columns are left", () => {
  const stats = progressStats(STATE, FIGURES);
  assert.equal(progressLine(STATE, FIGURES, stats.length + 2 + 9), stats);
  assert.equal(progressLine(STATE, FIGURES, stats.length + 2 + 10), `${stats}  …t/main.ts`);
  assert.equal(progressLine({ ...STATE, currentPath: "" }, FIGURES, 200), stats);
});

Deno.test("progressLine cuts figures wider than the width", () => {
  const line = progressLine(STATE, FIGURES, 20);
  assert.equal(line, "[1:23] backup 1204 f");
  assert.equal(progressLine(STATE, FIGURES, 0), "");
});

Deno.test("progressLine replaces control characters in the path and phase", () => {
  const state = { ...STATE, phase: "a\x1b[2Jb", currentPath: "/x\ny\rz\x1b[31m" };
  const line = progressLine(state, { elapsedMs: 0 });
  assert.ok(!/\p{Cc}/u.test(line), JSON.stringify(line));
  assert.ok(line.endsWith("  /x?y?z?[31m"));
  assert.ok(line.includes(" a?[2Jb "));
});

Deno.test("truncatePath counts code points", () => {
  assert.equal(truncatePath("/a/b", 4), "/a/b");
  assert.equal(truncatePath("/a/b", 3), "…/b");
  assert.equal(truncatePath("/a/b", 1), "…");
  assert.equal(truncatePath("/a/b", 0), "");
  assert.equal(truncatePath("/😀/😀😀", 3), "…😀😀");
  assert.equal(truncatePath("/😀", 2), "/😀");
});

Deno.test("sanitize replaces C0 and C1 controls only", () => {
  assert.equal(sanitize("a\tb\u0085c\u007fdé😀"), "a?b?c?dé😀");
});
