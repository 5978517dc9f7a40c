import assert from "node:assert/strict";
import { linearSlope } from "./linear_fit.ts";

Deno.test("linearSlope fits a line exactly", () => {
  assert.equal(linearSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
  assert.equal(linearSlope([{ x: 5, y: 7 }, { x: 10, y: 7 }]), 0);
});

Deno.test("linearSlope averages noise around a trend", () => {
  const points = [0, 1, 2, 3, 4, 5].map((x) => ({ x, y: 10 - x + (x % 2 === 0 ? 1 : -1) }));
  assert.ok(Math.abs(linearSlope(points) - -41 / 35) < 1e-9);
});

Deno.test("linearSlope is 0 without two distinct x", () => {
  assert.equal(linearSlope([]), 0);
  assert.equal(linearSlope([{ x: 1, y: 2 }]), 0);
  assert.equal(linearSlope([{ x: 1, y: 2 }, { x: 1, y: 9 }]), 0);
});
