import assert from "node:assert/strict";
import { FifoQueue } from "./fifo_queue.ts";

Deno.test("FifoQueue keeps order across compactions and drains the rest", () => {
  const queue = new FifoQueue<number>();
  for (let i = 0; i < 5000; i++) queue.push(i);
  for (let i = 0; i < 3000; i++) assert.equal(queue.shift(), i);
  assert.equal(queue.length, 2000);
  queue.push(5000);
  assert.equal(queue.shift(), 3000);
  const rest = queue.drain();
  assert.equal(rest.length, 2000);
  assert.equal(rest[0], 3001);
  assert.equal(rest.at(-1), 5000);
  assert.equal(queue.shift(), undefined);
  assert.equal(queue.length, 0);
});
