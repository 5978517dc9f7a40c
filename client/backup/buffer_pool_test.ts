import assert from "node:assert/strict";
import { BufferPool } from "./buffer_pool.ts";

Deno.test("BufferPool reuses buffers by size class and stays bounded", () => {
  const pool = new BufferPool(64 * 1024);
  const a = pool.take(5000);
  assert.equal(a.length, 8192);
  pool.give(a);
  assert.equal(pool.take(8000), a, "the same class comes back");
  assert.notEqual(pool.take(8000), a, "a buffer is handed out once");
  const big = pool.take(100_000);
  pool.give(big);
  assert.notEqual(pool.take(100_000), big, "over the limit: not kept");
  assert.equal(pool.take(0).length, 4096);
});
