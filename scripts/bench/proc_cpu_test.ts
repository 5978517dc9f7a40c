import assert from "node:assert/strict";
import { parseCpuSeconds, processCpuSeconds } from "./proc_cpu.ts";

Deno.test("parseCpuSeconds adds utime and stime, whatever the command name", () => {
  const rest = "S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0 100";
  assert.equal(parseCpuSeconds(`42 (deno) ${rest}`), 4);
  assert.equal(parseCpuSeconds(`42 (a b) c)) ${rest}`), 4);
  assert.equal(parseCpuSeconds("garbage"), undefined);
});

Deno.test("processCpuSeconds reads this process and nothing for a gone one", async () => {
  const mine = await processCpuSeconds(Deno.pid);
  assert.ok(mine !== undefined && mine >= 0);
  assert.equal(await processCpuSeconds(2 ** 22 + 1), undefined);
});
