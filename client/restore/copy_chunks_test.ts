import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { IntegrityError } from "../repo/repository.ts";
import type { ChunkRef } from "../snapshot/schema.ts";
import { type BlobSource, copyChunks } from "./copy_chunks.ts";
import { Semaphore } from "../concurrency/semaphore.ts";

/** Blobs in memory, served after a delay; records requests and concurrency. */
class FakeSource implements BlobSource {
  readonly blobs = new Map<string, Uint8Array>();
  readonly requests: string[] = [];
  active = 0;
  maxActive = 0;
  fail = new Set<string>();

  add(text: string): ChunkRef {
    const data = new TextEncoder().encode(text);
    const id = createHash("sha256").update(data).digest("hex");
    this.blobs.set(id, data);
    return { id, size: data.length };
  }

  async getBlob(id: string): Promise<Uint8Array> {
    this.requests.push(id);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    await new Promise((r) => setTimeout(r, 1));
    this.active--;
    if (this.fail.has(id)) throw new Error(`lost ${id.slice(0, 8)}`);
    return this.blobs.get(id)!;
  }
}

async function copy(source: BlobSource, chunks: ChunkRef[], options = {}) {
  const parts: string[] = [];
  const n = await copyChunks(source, chunks, async (data) => {
    await Promise.resolve();
    parts.push(new TextDecoder().decode(data));
  }, options);
  return { n, text: parts.join("") };
}

Deno.test("copyChunks() writes chunks in order with a bounded window", async () => {
  const source = new FakeSource();
  const chunks = Array.from({ length: 20 }, (_, i) => source.add(`<${i}>`));
  const { n, text } = await copy(source, chunks, { window: 4 });
  assert.equal(text, Array.from({ length: 20 }, (_, i) => `<${i}>`).join(""));
  assert.equal(n, text.length);
  assert.equal(source.maxActive, 4);
});

Deno.test("copyChunks() fetches a chunk repeated within the window once", async () => {
  const source = new FakeSource();
  const a = source.add("aaaa");
  const b = source.add("bb");
  const { text } = await copy(source, [a, a, b, a, b, b, a], { window: 8 });
  assert.equal(text, "aaaaaaaabbaaaabbbbaaaa");
  assert.equal(source.requests.length, 2);
  // With a window of 1 every use is fetched.
  const again = new FakeSource();
  again.add("aaaa");
  again.add("bb");
  assert.equal((await copy(again, [a, a, b], { window: 1 })).text, "aaaaaaaabb");
  assert.equal(again.requests.length, 3);
});

Deno.test("copyChunks() keeps within a shared byte budget without deadlock", async () => {
  const source = new FakeSource();
  const chunks = Array.from({ length: 30 }, (_, i) => source.add(`${i}`.padStart(10, "x")));
  const budget = new Semaphore(25);
  let maxHeld = 0;
  const watch = setInterval(() => maxHeld = Math.max(maxHeld, budget.held), 0);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => copy(source, chunks, { window: 8, budget })),
  );
  clearInterval(watch);
  for (const r of results) assert.equal(r.n, 300);
  assert.ok(maxHeld <= 25, `held ${maxHeld}`);
  assert.equal(budget.held, 0);
});

Deno.test("copyChunks() stops at a failed or wrong-sized chunk and releases its budget", async () => {
  const source = new FakeSource();
  const a = source.add("aaaa");
  const b = source.add("bb");
  source.fail.add(b.id);
  const budget = new Semaphore(100);
  const written: string[] = [];
  await assert.rejects(
    () =>
      copyChunks(source, [a, b, a, a], (d) => {
        written.push(new TextDecoder().decode(d));
        return Promise.resolve();
      }, { budget }),
    /lost/,
  );
  assert.deepEqual(written, ["aaaa"]);
  assert.equal(budget.held, 0);
  await assert.rejects(
    () => copyChunks(source, [{ id: a.id, size: 5 }], () => Promise.resolve(), { budget }),
    (e: Error) =>
      e instanceof IntegrityError && /has 4 bytes, the content list says 5/.test(e.message),
  );
  assert.equal(budget.held, 0);
});
