import assert from "node:assert/strict";
import { SharedFetches } from "./shared_fetches.ts";

/** A source that counts fetches; `gate` holds them until it resolves. */
function countingSource(gate?: Promise<void>) {
  const fetched: string[] = [];
  return {
    fetched,
    async getBlob(id: string): Promise<Uint8Array> {
      fetched.push(id);
      await gate;
      if (id.startsWith("bad")) throw new Error(`no ${id}`);
      return new TextEncoder().encode(id.repeat(10));
    },
  };
}

Deno.test("SharedFetches downloads a blob wanted meanwhile once", async () => {
  const { promise: gate, resolve } = Promise.withResolvers<void>();
  const source = countingSource(gate);
  const shared = new SharedFetches(source, 1000);
  const first = shared.getBlob("a");
  const second = shared.getBlob("a");
  const other = shared.getBlob("b");
  resolve();
  const [x, y, z] = await Promise.all([first, second, other]);
  assert.equal(x, y);
  assert.equal(new TextDecoder().decode(z), "b".repeat(10));
  assert.deepEqual(source.fetched, ["a", "b"]);
});

Deno.test("SharedFetches keeps recent blobs within its bound, least recently used out first", async () => {
  const source = countingSource();
  const shared = new SharedFetches(source, 25);
  await shared.getBlob("a"); // 10 bytes
  await shared.getBlob("b"); // 20 kept
  await shared.getBlob("a"); // kept: no fetch, now most recent
  await shared.getBlob("c"); // 30 > 25: "b" goes
  await shared.getBlob("a");
  await shared.getBlob("b");
  assert.deepEqual(source.fetched, ["a", "b", "c", "b"]);
  const bigSource = countingSource();
  const big = new SharedFetches(bigSource, 5);
  await big.getBlob("x"); // larger than the bound: not kept
  await big.getBlob("x");
  assert.deepEqual(bigSource.fetched, ["x", "x"]);
});

Deno.test("SharedFetches does not keep a failure", async () => {
  const source = countingSource();
  const shared = new SharedFetches(source, 1000);
  await assert.rejects(shared.getBlob("bad"), /no bad/);
  await assert.rejects(shared.getBlob("bad"), /no bad/);
  assert.deepEqual(source.fetched, ["bad", "bad"]);
});
