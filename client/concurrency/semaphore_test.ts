import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

Deno.test("Semaphore serves waiters in order as weight is released", async () => {
  const s = new Semaphore(10);
  await s.acquire(6);
  const order: string[] = [];
  const big = s.acquire(5).then(() => order.push("big"));
  const small = s.acquire(1).then(() => order.push("small"));
  assert.equal(s.tryAcquire(1), false, "nobody jumps the queue");
  await Promise.resolve();
  assert.deepEqual(order, []);
  s.release(6);
  await Promise.all([big, small]);
  assert.deepEqual(order, ["big", "small"]);
  assert.equal(s.held, 6);
  assert.equal(s.tryAcquire(4), true);
  assert.equal(s.tryAcquire(1), false);
});

Deno.test("Semaphore grants an oversized request when nothing is held", async () => {
  const s = new Semaphore(4);
  await s.acquire(100);
  assert.equal(s.held, 100);
  let granted = false;
  const next = s.acquire(1).then(() => granted = true);
  await Promise.resolve();
  assert.equal(granted, false);
  s.release(100);
  await next;
  assert.equal(s.held, 1);
  assert.throws(() => new Semaphore(0), RangeError);
});
