import assert from "node:assert/strict";
import { medianBy } from "./median.ts";

Deno.test("medianBy picks the middle item, the lower one for an even count", () => {
  const rps = (r: { rps: number }) => r.rps;
  assert.deepEqual(medianBy([{ rps: 3 }, { rps: 1 }, { rps: 2 }], rps), { rps: 2 });
  assert.deepEqual(medianBy([{ rps: 4 }, { rps: 1 }, { rps: 3 }, { rps: 2 }], rps), { rps: 2 });
  assert.deepEqual(medianBy([{ rps: 7 }], rps), { rps: 7 });
});

Deno.test("medianBy does not reorder its input and needs an item", () => {
  const items = [3, 1, 2];
  assert.equal(medianBy(items, (n) => n), 2);
  assert.deepEqual(items, [3, 1, 2]);
  assert.throws(() => medianBy([], (n: number) => n), RangeError);
});
