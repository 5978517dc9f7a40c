import assert from "node:assert/strict";
import type { PlacedChunk } from "../client/repo/repository.ts";
import { sha256 } from "../client/snapshot/_testing/write_tree.ts";
import { BlobCache } from "./chunk_cache.ts";
import { chunkIndexAt, ChunkSizeError, FileReader } from "./file_reader.ts";

/** A file made of `parts`, its blobs in a map, fetches recorded. */
function file(parts: Uint8Array[]) {
  const blobs = new Map(parts.map((p) => [sha256(p), p]));
  const fetched: string[] = [];
  let end = 0;
  const chunks: PlacedChunk[] = parts.map((p) => ({
    id: sha256(p),
    size: p.length,
    end: end += p.length,
  }));
  const content = new Uint8Array(end);
  parts.forEach((p, i) => content.set(p, chunks[i].end - p.length));
  const fetch = (id: string) => {
    fetched.push(id);
    const blob = blobs.get(id);
    return blob ? Promise.resolve(blob) : Promise.reject(new Error(`no blob ${id}`));
  };
  return { chunks, content, blobs, fetched, fetch };
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17) & 0xff);
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("chunkIndexAt() finds the chunk holding an offset by binary search", () => {
  const { chunks } = file([bytes(5, 1), bytes(1, 2), bytes(7, 3)]);
  const expected = [0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3];
  expected.forEach((index, offset) =>
    assert.equal(chunkIndexAt(chunks, offset), index, `${offset}`)
  );
  assert.equal(chunkIndexAt([], 0), 0);
});

Deno.test("FileReader reads any range, across chunk boundaries, short only at the end", async () => {
  const parts = [bytes(5, 1), bytes(1, 2), bytes(7, 3), bytes(3, 4), bytes(5, 1), bytes(10, 5)];
  const { chunks, content, fetch } = file(parts);
  const reader = new FileReader(chunks, new BlobCache(fetch), { readAhead: 0 });
  assert.equal(reader.size, 31);
  for (let offset = 0; offset <= 33; offset++) {
    for (let size = 0; size <= 33; size++) {
      const got = await reader.read(offset, size);
      assert.deepEqual(
        got,
        content.subarray(offset, Math.min(offset + size, 31)),
        `${offset}+${size}`,
      );
    }
  }
  const empty = new FileReader([], new BlobCache(fetch));
  assert.deepEqual(await empty.read(0, 100), new Uint8Array());
});

Deno.test("FileReader refuses a blob that does not have the chunk's size", async () => {
  const { chunks, fetch } = file([bytes(5, 1), bytes(5, 2)]);
  const lying = chunks.map((c, i) => i === 1 ? { ...c, size: 4, end: 9 } : c);
  const reader = new FileReader(lying, new BlobCache(fetch));
  assert.equal((await reader.read(0, 5)).length, 5);
  await assert.rejects(reader.read(3, 4), ChunkSizeError);
});

Deno.test("FileReader passes on a fetch failure", async () => {
  const { chunks, fetch, blobs } = file([bytes(5, 1), bytes(5, 2)]);
  blobs.delete(chunks[1].id);
  const reader = new FileReader(chunks, new BlobCache(fetch));
  await assert.rejects(reader.read(4, 2), /no blob/);
});

Deno.test("FileReader reads ahead of sequential reads only, widening up to its limit", async () => {
  const parts = Array.from({ length: 12 }, (_, i) => bytes(10, i));
  const { chunks, fetched, fetch } = file(parts);
  const id = (i: number) => chunks[i].id;
  const reader = new FileReader(chunks, new BlobCache(fetch), { readAhead: 3 });

  await reader.read(0, 5); // start of the file: one ahead
  await settle();
  assert.deepEqual(fetched, [id(0), id(1)]);
  assert.equal(reader.readAhead, 1);
  await reader.read(5, 5); // each sequential read widens the window by one
  await settle();
  assert.deepEqual(fetched, [id(0), id(1), id(2)]);
  await reader.read(10, 10); // chunk 1, three ahead (the limit)
  await settle();
  assert.deepEqual(fetched, [id(0), id(1), id(2), id(3), id(4)]);
  await reader.read(20, 10);
  await reader.read(30, 10);
  await settle();
  assert.equal(reader.readAhead, 3);
  assert.deepEqual(fetched.slice(5), [id(5), id(6)]);
  // Reads a little out of order (as parallel kernel reads arrive) stay sequential.
  await reader.read(50, 10);
  await reader.read(40, 10);
  await settle();
  assert.equal(reader.readAhead, 3);
  assert.deepEqual(fetched.slice(7), [id(7), id(8)]);

  // A jump is random access: no read-ahead until reads are sequential again.
  const mib = 1024 * 1024;
  const big = file(Array.from({ length: 8 }, (_, i) => new Uint8Array(mib).fill(i)));
  const reader2 = new FileReader(big.chunks, new BlobCache(big.fetch), { readAhead: 3 });
  await reader2.read(100 * mib, 1); // past the end: nothing
  await reader2.read(5 * mib, 10);
  await settle();
  assert.deepEqual(big.fetched, [big.chunks[5].id]);
  assert.equal(reader2.readAhead, 0);
  await reader2.read(5 * mib + 10, 10);
  await settle();
  assert.deepEqual(big.fetched, [big.chunks[5].id, big.chunks[6].id]);
  assert.equal(reader2.readAhead, 1);
  await reader2.read(mib, 10);
  await settle();
  assert.equal(reader2.readAhead, 0);
  assert.deepEqual(big.fetched.slice(2), [big.chunks[1].id]);
  await reader2.read(0, 10); // the start again: a new sequential run
  assert.equal(reader2.readAhead, 1);
});
