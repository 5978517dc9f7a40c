import assert from "node:assert/strict";
import { BlobCache } from "./chunk_cache.ts";

/** A blob source whose fetches are recorded and wait until released. */
class Source {
  readonly order: string[] = [];
  readonly waiting = new Map<string, PromiseWithResolvers<void>>();
  readonly failing = new Set<string>();
  hold = false;

  fetch = async (id: string): Promise<Uint8Array> => {
    this.order.push(id);
    if (this.hold) {
      const gate = Promise.withResolvers<void>();
      this.waiting.set(id, gate);
      await gate.promise;
    }
    if (this.failing.has(id)) throw new Error(`Cannot read blob ${id}: injected`);
    return new Uint8Array(Number(id.split(":")[1] ?? 100)).fill(id.charCodeAt(0));
  };

  release(id: string): void {
    const gate = this.waiting.get(id);
    assert.ok(gate, `${id} is not being fetched`);
    this.waiting.delete(id);
    gate.resolve();
  }
}

/** Lets pending promise callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("BlobCache keeps blobs within its byte bound, least recently used dropped first", async () => {
  const source = new Source();
  const cache = new BlobCache(source.fetch, { maxBytes: 250 });
  await cache.get("a");
  await cache.get("b");
  await cache.get("a"); // a is now the most recent
  await cache.get("c");
  assert.deepEqual(source.order, ["a", "b", "c"]);
  assert.ok(cache.has("a") && !cache.has("b") && cache.has("c"));
  assert.deepEqual(cache.stats, {
    bytes: 200,
    blobs: 2,
    hits: 1,
    joined: 0,
    fetches: 3,
    failures: 0,
    evictions: 1,
  });
  // A blob over the bound is handed out but not kept.
  assert.equal((await cache.get("z:300")).length, 300);
  assert.equal(cache.has("z:300"), false);
  assert.equal(cache.stats.bytes, 200);
});

Deno.test("BlobCache fetches a blob once for concurrent requests", async () => {
  const source = new Source();
  source.hold = true;
  const cache = new BlobCache(source.fetch);
  cache.prefetch("a");
  const requests = [cache.get("a"), cache.get("a"), cache.get("a")];
  await settle();
  source.release("a");
  const blobs = await Promise.all(requests);
  assert.deepEqual(source.order, ["a"]);
  assert.ok(blobs.every((b) => b === blobs[0]));
  assert.equal(cache.stats.joined, 3);
});

Deno.test("BlobCache hands a failure to every waiter and does not remember it", async () => {
  const source = new Source();
  source.hold = true;
  source.failing.add("a");
  const cache = new BlobCache(source.fetch);
  const requests = [cache.get("a"), cache.get("a")].map((p) => p.then(() => "ok", (e) => e));
  await settle();
  source.release("a");
  for (const outcome of await Promise.all(requests)) {
    assert.ok(outcome instanceof Error && /injected/.test(outcome.message));
  }
  assert.equal(cache.has("a"), false);
  source.failing.delete("a");
  source.hold = false;
  assert.equal((await cache.get("a")).length, 100);
  assert.deepEqual(source.order, ["a", "a"]);
  assert.equal(cache.stats.failures, 1);
  // A failed prefetch is only counted.
  source.failing.add("p");
  cache.prefetch("p");
  await settle();
  assert.equal(cache.stats.failures, 2);
});

Deno.test("BlobCache runs at most maxFetches at once, reads before prefetches", async () => {
  const source = new Source();
  source.hold = true;
  const cache = new BlobCache(source.fetch, { maxFetches: 1 });
  const first = cache.get("first");
  cache.prefetch("p1");
  cache.prefetch("p2");
  cache.prefetch("p3");
  const read = cache.get("read");
  const promoted = cache.get("p3");
  await settle();
  assert.deepEqual(source.order, ["first"]);
  const finish = async (id: string) => {
    await settle();
    source.release(id);
  };
  await finish("first");
  await first;
  await finish("read");
  await read;
  await finish("p3");
  await promoted;
  await finish("p1");
  await finish("p2");
  await settle();
  assert.deepEqual(source.order, ["first", "read", "p3", "p1", "p2"]);
  cache.prefetch("p1"); // kept: nothing to do
  await settle();
  assert.equal(source.order.length, 5);
});
