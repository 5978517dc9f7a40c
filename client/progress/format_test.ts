import assert from "node:assert/strict";
import { formatBytes, formatDuration } from "./format.ts";

Deno.test("formatBytes uses binary units with one decimal", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [1024 * 1024 - 1, "1.0 MiB"],
    [1024 * 1024 - 60, "1023.9 KiB"],
    [12.34 * 1024 ** 2, "12.3 MiB"],
    [1.2 * 1024 ** 3, "1.2 GiB"],
    [512 * 1024 ** 2, "512.0 MiB"],
    [5 * 1024 ** 4, "5.0 TiB"],
    [3 * 1024 ** 5, "3.0 PiB"],
    [2 * 1024 ** 6, "2.0 EiB"],
    [4096 * 1024 ** 6, "4096.0 EiB"],
    [-1536, "-1.5 KiB"],
    [10.6, "11 B"],
    [Number.NaN, "NaN B"],
    [Number.POSITIVE_INFINITY, "Infinity B"],
  ];
  for (const [n, expected] of cases) assert.equal(formatBytes(n), expected, String(n));
});

Deno.test("formatDuration writes a clock rounded down to the second", () => {
  const cases: [number, string][] = [
    [0, "0:00"],
    [999, "0:00"],
    [5_000, "0:05"],
    [83_000, "1:23"],
    [599_999, "9:59"],
    [3_600_000, "1:00:00"],
    [12 * 3_600_000 + 3 * 60_000 + 9_000, "12:03:09"],
    [2 * 86_400_000 + 3 * 3_600_000 + 4 * 60_000 + 5_000, "2d 03:04:05"],
    [-5_000, "-0:05"],
    [Number.NaN, "--:--"],
    [Number.POSITIVE_INFINITY, "--:--"],
  ];
  for (const [ms, expected] of cases) assert.equal(formatDuration(ms), expected, String(ms));
});
