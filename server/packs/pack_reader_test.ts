import assert from "node:assert/strict";
import { LocalStorage } from "../../storage/local/local_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import { BlobCorruptError, type BlobStorage, type GetOptions } from "../../storage/blob_storage.ts";
import { BlobPacker } from "./blob_packer.ts";
import { PackReader } from "./pack_reader.ts";

/** `storage`, calling `onGet` with the options of each get. */
function watchingGets(
  storage: BlobStorage,
  onGet: (options: GetOptions | undefined) => void,
): BlobStorage {
  return {
    displayUrl: storage.displayUrl,
    put: (id, data) => storage.put(id, data),
    get: (id, options) => (onGet(options), storage.get(id, options)),
    has: (id) => storage.has(id),
    list: () => storage.list(),
    delete: (id) => storage.delete(id),
    close: () => Promise.resolve(),
  };
}

Deno.test("PackReader reads and verifies packed blobs, reading each pack once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb_pack_reader_test_" });
  const storage = await LocalStorage.open(dir);
  try {
    const packer = new BlobPacker(storage);
    const datas = [1, 2, 3].map((seed) => new Uint8Array(1000 * seed).fill(seed));
    const ids = datas.map(blobIdOf);
    const locations = await Promise.all(datas.map((d, i) => packer.add(ids[i], d)));
    await packer.close();
    let gets = 0;
    const counting = watchingGets(storage, () => gets++);
    {
      const reader = new PackReader(counting);
      for (const [i, location] of locations.entries()) {
        assert.deepEqual(await reader.read(ids[i], location), datas[i]);
      }
      await assert.rejects(
        reader.read(ids[0], { ...locations[0], offset: locations[0].offset + 1 }),
        BlobCorruptError,
      );
    }
    assert.equal(gets, 1, "the whole pack is read once and cached");
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PackReader trusts a verified pack's trailer only for the place it lists", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb_pack_reader_test_" });
  const storage = await LocalStorage.open(dir);
  try {
    const packer = new BlobPacker(storage);
    const datas = [1, 2].map((seed) => new Uint8Array(500).fill(seed));
    const ids = datas.map(blobIdOf);
    const locations = await Promise.all(datas.map((d, i) => packer.add(ids[i], d)));
    await packer.close();
    const reader = new PackReader(storage);
    // An index entry naming blob 0 at blob 1's place (same length): the
    // trailer does not list it there, and its bytes do not hash to it.
    await assert.rejects(reader.read(ids[0], locations[1]), BlobCorruptError);
    await assert.rejects(reader.read(ids[0], { ...locations[0], length: 499 }), BlobCorruptError);
    assert.deepEqual(await reader.read(ids[1], locations[1]), datas[1]);
    // A blob that is not a pack at all, read as one: verified by hashing.
    const plain = new TextEncoder().encode("xx-hello-xx");
    const plainId = blobIdOf(plain);
    await storage.put(plainId, plain);
    const hello = new TextEncoder().encode("hello");
    const location = { pack: plainId, offset: 3, length: 5 };
    assert.deepEqual(await reader.read(blobIdOf(hello), location), hello);
    await assert.rejects(reader.read(ids[0], location), BlobCorruptError);
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PackReader reads the intact blobs of a damaged pack and refuses the damaged one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb_pack_reader_test_" });
  const storage = await LocalStorage.open(dir);
  try {
    const packer = new BlobPacker(storage);
    const datas = [1, 2, 3].map((seed) => new Uint8Array(1000).fill(seed));
    const ids = datas.map(blobIdOf);
    const locations = await Promise.all(datas.map((d, i) => packer.add(ids[i], d)));
    await packer.close();
    const path = `${dir}/${locations[0].pack.slice(0, 2)}/${locations[0].pack}`;
    const bytes = await Deno.readFile(path);
    bytes[locations[1].offset + 10] ^= 0xff;
    await Deno.chmod(path, 0o644);
    await Deno.writeFile(path, bytes);
    const reader = new PackReader(storage);
    assert.deepEqual(await reader.read(ids[0], locations[0]), datas[0]);
    assert.deepEqual(await reader.read(ids[2], locations[2]), datas[2]);
    await assert.rejects(reader.read(ids[1], locations[1]), BlobCorruptError);
    // Not verifying: each blob's bytes as stored, the damaged one too (its
    // reader's own hash must catch it).
    const unverified = new PackReader(storage);
    const noVerify = { verify: false };
    assert.deepEqual(await unverified.read(ids[0], locations[0], noVerify), datas[0]);
    const damaged = await unverified.read(ids[1], locations[1], noVerify);
    assert.equal(damaged.length, 1000);
    assert.notEqual(blobIdOf(damaged), ids[1]);
    // A verified read of the same cached pack still finds the damage.
    await assert.rejects(unverified.read(ids[1], locations[1]), BlobCorruptError);
    assert.deepEqual(await unverified.read(ids[2], locations[2]), datas[2]);
    await assert.rejects(
      unverified.read(ids[0], { ...locations[0], length: 1_000_000 }, noVerify),
      BlobCorruptError,
    );
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PackReader's unverified reads share the cached pack with verified ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb_pack_reader_test_" });
  const storage = await LocalStorage.open(dir);
  try {
    const packer = new BlobPacker(storage);
    const datas = [4, 5].map((seed) => new Uint8Array(700).fill(seed));
    const ids = datas.map(blobIdOf);
    const locations = await Promise.all(datas.map((d, i) => packer.add(ids[i], d)));
    await packer.close();
    const asked: (boolean | undefined)[] = [];
    const recording = watchingGets(storage, (options) => asked.push(options?.verify));
    const reader = new PackReader(recording);
    assert.deepEqual(await reader.read(ids[0], locations[0], { verify: false }), datas[0]);
    assert.deepEqual(await reader.read(ids[1], locations[1]), datas[1]);
    assert.deepEqual(await reader.read(ids[0], locations[0]), datas[0]);
    // One read of the pack, not verified by the storage (the reader checks it).
    assert.deepEqual(asked, [false]);
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PackReader.settled waits for the reads already started, failed ones too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb_pack_reader_test_" });
  const storage = await LocalStorage.open(dir);
  try {
    const packer = new BlobPacker(storage);
    const data = new Uint8Array(100).fill(7);
    const id = blobIdOf(data);
    const location = await packer.add(id, data);
    await packer.close();
    const gate = Promise.withResolvers<void>();
    const slow: BlobStorage = {
      displayUrl: storage.displayUrl,
      put: (id, data) => storage.put(id, data),
      get: async (id) => (await gate.promise, storage.get(id)),
      has: (id) => storage.has(id),
      list: () => storage.list(),
      delete: (id) => storage.delete(id),
      close: () => Promise.resolve(),
    };
    const reader = new PackReader(slow);
    await reader.settled();
    const reading = reader.read(id, location);
    const missing = reader.read(id, { ...location, pack: "0".repeat(64) });
    let settled = false;
    const waiting = reader.settled().then(() => settled = true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false);
    gate.resolve();
    await waiting;
    assert.deepEqual(await reading, data);
    await assert.rejects(missing);
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
});
