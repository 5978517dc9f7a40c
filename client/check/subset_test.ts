import assert from "node:assert/strict";
import { parseSubset, subsetFilter, SubsetSyntaxError } from "./subset.ts";

Deno.test("parseSubset() reads N/M and P%", () => {
  assert.deepEqual(parseSubset("1/5"), { kind: "part", n: 1, m: 5 });
  assert.deepEqual(parseSubset("5/5"), { kind: "part", n: 5, m: 5 });
  assert.deepEqual(parseSubset("10%"), { kind: "fraction", fraction: 0.1 });
  assert.deepEqual(parseSubset("2.5%"), { kind: "fraction", fraction: 0.025 });
  for (const bad of ["0/5", "6/5", "1/0", "0%", "101%", "5", "a/b", "-1/2", "1/2/3", ""]) {
    assert.throws(() => parseSubset(bad), SubsetSyntaxError, bad);
  }
});

Deno.test("subsetFilter() parts split the ids into M disjoint parts covering all", () => {
  const ids = Array.from(
    { length: 1000 },
    (_, i) => (i * 2654435761 >>> 0).toString(16).padStart(8, "0") + "0".repeat(56),
  );
  const m = 7;
  const parts = Array.from({ length: m }, (_, n) => subsetFilter({ kind: "part", n: n + 1, m }));
  for (const id of ids) assert.equal(parts.filter((p) => p(id)).length, 1, id);
  for (const p of parts) assert.ok(ids.filter(p).length > 100);
});

Deno.test("subsetFilter() fractions draw from the random source", () => {
  const draws = [0.05, 0.5, 0.09, 0.1];
  const pick = subsetFilter({ kind: "fraction", fraction: 0.1 }, () => draws.shift()!);
  assert.deepEqual(["a", "b", "c", "d"].map(pick), [true, false, true, false]);
});
