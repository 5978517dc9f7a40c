import assert from "node:assert/strict";
import { startHeapGovernor } from "./heap_governor.ts";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("the heap governor collects past its threshold, and not in a loop when the heap is live", async () => {
  const governor = startHeapGovernor({ minThresholdBytes: 16 * 1024 * 1024, intervalMs: 10 });
  try {
    const live: { n: number; s: string }[] = [];
    for (let i = 0; i < 400_000; i++) live.push({ n: i, s: `item ${i}` });
    for (let i = 0; i < 50 && governor.collections === 0; i++) await pause(10);
    assert.ok(governor.collections > 0, "no collection ran past the threshold");
    const after = governor.collections;
    await pause(200);
    assert.ok(
      governor.collections <= after + 1,
      `${governor.collections - after} more collections of a live heap`,
    );
    assert.equal(live.length, 400_000);
  } finally {
    governor.stop();
  }
});
