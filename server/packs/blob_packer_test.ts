import assert from "node:assert/strict";
import { LocalStorage } from "../../storage/local/local_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import type { BlobStorage } from "../../storage/blob_storage.ts";
import { BlobPacker } from "./blob_packer.ts";
import { decodePack } from "./pack_format.ts";

async function withStorage(fn: (storage: LocalStorage) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb_packer_test_" });
  const storage = await LocalStorage.open(dir);
  try {
    await fn(storage);
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const blob = (seed: number, size: number) => new Uint8Array(size).fill(seed);

Deno.test("blobs added in one turn share one durable pack; later ones go into the next", async () => {
  await withStorage(async (storage) => {
    const packer = new BlobPacker(storage);
    const first = [1, 2, 3].map((seed) => blob(seed, 100 * seed));
    const locations = await Promise.all(first.map((data) => packer.add(blobIdOf(data), data)));
    assert.equal(new Set(locations.map((l) => l.pack)).size, 1);
    const pack = await storage.get(locations[0].pack);
    const entries = decodePack(pack);
    assert.equal(entries.length, 3);
    for (const [i, l] of locations.entries()) {
      assert.deepEqual(pack.subarray(l.offset, l.offset + l.length), first[i]);
    }
    const later = blob(4, 10);
    const [a, again] = await Promise.all([
      packer.add(blobIdOf(later), later),
      packer.add(blobIdOf(later), later),
    ]);
    assert.deepEqual(a, again, "the same blob waiting twice is packed once");
    assert.notEqual(a.pack, locations[0].pack);
    await packer.close();
    await assert.rejects(packer.add(blobIdOf(later), later), /closed/);
  });
});

Deno.test("a pack is written as soon as enough bytes wait", async () => {
  await withStorage(async (storage) => {
    const scheduled: (() => void)[] = [];
    const packer = new BlobPacker(storage, {
      maxPackBytes: 1000,
      schedule: (fn) => scheduled.push(fn),
    });
    const big = [blob(1, 600), blob(2, 600)];
    const location = await Promise.all(big.map((data) => packer.add(blobIdOf(data), data)));
    assert.equal(location[0].pack, location[1].pack, "written without waiting for the timer");
    await packer.close();
  });
});

Deno.test("a failed pack write rejects every blob of the pack", async () => {
  await withStorage(async (storage) => {
    const failing: BlobStorage = {
      displayUrl: storage.displayUrl,
      put: () => Promise.reject(new Error("disk full")),
      get: (id) => storage.get(id),
      has: (id) => storage.has(id),
      list: () => storage.list(),
      delete: (id) => storage.delete(id),
      close: () => Promise.resolve(),
    };
    const packer = new BlobPacker(failing);
    const results = await Promise.allSettled(
      [blob(1, 5), blob(2, 5)].map((data) => packer.add(blobIdOf(data), data)),
    );
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    await packer.close();
  });
});
