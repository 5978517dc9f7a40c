/**
 * The conformance suite every {@linkcode BlobStorage} backend must pass: it
 * checks the contract written in `storage/blob_storage.ts`.
 *
 * A backend's test file calls {@linkcode runConformanceSuite} once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  BlobCorruptError,
  BlobNotFoundError,
  type BlobStorage,
  InvalidBlobIdError,
} from "../blob_storage.ts";
import { blobIdOf } from "../blob_id.ts";

/** A fresh, empty storage and how to dispose of it. */
export interface ConformanceFixture {
  /** The storage under test, empty. */
  storage: BlobStorage;
  /** Closes the storage and removes whatever it stored. */
  cleanup: () => Promise<void>;
}

/** Options of {@linkcode runConformanceSuite}. */
export interface ConformanceOptions {
  /**
   * Damages the stored blob `id` behind the back of `storage` (the one the
   * factory returned for this step) so that `get` must fail with
   * {@linkcode BlobCorruptError}. The corruption test is skipped without it.
   */
  corrupt?: (id: string, storage: BlobStorage) => Promise<void>;
}

/**
 * Registers one `Deno.test` named `${name} conformance` with one step per
 * behaviour of the contract. `factory` is called for every step and must
 * return an empty storage.
 *
 * @example
 * ```ts
 * runConformanceSuite("LocalStorage", async () => {
 *   const dir = await Deno.makeTempDir();
 *   const storage = await LocalStorage.open(dir);
 *   return {
 *     storage,
 *     cleanup: async () => {
 *       await storage.close();
 *       await Deno.remove(dir, { recursive: true });
 *     },
 *   };
 * });
 * ```
 */
export function runConformanceSuite(
  name: string,
  factory: () => Promise<ConformanceFixture>,
  options: ConformanceOptions = {},
): void {
  const behaviours: [string, (storage: BlobStorage) => Promise<void>][] = [
    ["put/get round trip", roundTrip],
    ["get with verify false returns the stored bytes", unverifiedGet],
    ["put is idempotent", idempotentPut],
    ["put rejects data that does not hash to the id", wrongHashPut],
    ["invalid ids are rejected by every method", invalidIds],
    ["get of a missing blob rejects with BlobNotFoundError", getMissing],
    ["has", has],
    ["delete, and delete of a missing blob", deleteBlob],
    ["list of an empty storage yields nothing", listEmpty],
    ["list sees exactly the stored blobs with their sizes", listMany],
    ["64 concurrent puts and gets", concurrent],
    ["read-after-write", readAfterWrite],
    ["getRange reads parts, rejects missing blobs and ranges past the end", getRange],
  ];
  const { corrupt } = options;
  if (corrupt) {
    behaviours.push([
      "get of a damaged blob rejects with BlobCorruptError, unless not verifying",
      (storage) => corruptGet(storage, corrupt),
    ]);
  }

  Deno.test(`${name} conformance`, async (t) => {
    for (const [behaviour, check] of behaviours) {
      await t.step(`${name} conformance: ${behaviour}`, async () => {
        const { storage, cleanup } = await factory();
        try {
          await check(storage);
        } finally {
          await cleanup();
        }
      });
    }
  });
}

const encoder = new TextEncoder();

/** Distinct deterministic content of `size` bytes for seed `seed`. */
function content(seed: number, size: number): Uint8Array {
  const data = new Uint8Array(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  if (size >= 4) new DataView(data.buffer).setUint32(0, seed);
  return data;
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: not a Uint8Array`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: bytes differ`);
}

async function putBlob(storage: BlobStorage, data: Uint8Array): Promise<string> {
  const id = blobIdOf(data);
  await storage.put(id, data);
  return id;
}

async function listAll(storage: BlobStorage): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for await (const { id, size } of storage.list()) {
    assert.ok(!seen.has(id), `list yielded ${id} twice`);
    seen.set(id, size);
  }
  return seen;
}

async function roundTrip(storage: BlobStorage): Promise<void> {
  const cases: [string, Uint8Array][] = [
    ["empty blob", new Uint8Array(0)],
    ["1 byte", new Uint8Array([0x61])],
    ["binary with CR LF NUL", Uint8Array.from([0x0d, 0x0a, 0x00, 0xff, 0x0d, 0x00, 0x0a, 0x80])],
    ["text", encoder.encode("hello, blob\r\n")],
    ["5 MiB", content(5, 5 * 1024 * 1024)],
  ];
  for (const [what, data] of cases) {
    const id = await putBlob(storage, data);
    assertBytes(await storage.get(id), data, what);
  }
}

async function idempotentPut(storage: BlobStorage): Promise<void> {
  const data = encoder.encode("same bytes twice");
  const id = await putBlob(storage, data);
  await storage.put(id, data);
  await Promise.all([storage.put(id, data), storage.put(id, data)]);
  assertBytes(await storage.get(id), data, "after repeated puts");
  assert.deepEqual([...(await listAll(storage))], [[id, data.length]]);
}

async function wrongHashPut(storage: BlobStorage): Promise<void> {
  const claimed = encoder.encode("what the id says");
  const actual = encoder.encode("what was sent");
  const id = blobIdOf(claimed);
  await assert.rejects(storage.put(id, actual), BlobCorruptError);
  assert.equal(await storage.has(id), false, "a rejected put must store nothing");
  await assert.rejects(storage.get(id), BlobNotFoundError);
  assert.equal((await listAll(storage)).size, 0);
}

async function invalidIds(storage: BlobStorage): Promise<void> {
  const data = encoder.encode("x");
  const valid = blobIdOf(data);
  const invalid = [
    "",
    valid.toUpperCase(),
    valid.slice(0, 63),
    valid + "0",
    "../../etc/passwd",
    `ab/${valid.slice(3)}`,
    `../${valid.slice(3)}`,
    `${valid.slice(0, 63)}g`,
    ` ${valid.slice(1)}`,
  ];
  for (const id of invalid) {
    await assert.rejects(storage.put(id, data), InvalidBlobIdError, `put(${JSON.stringify(id)})`);
    await assert.rejects(storage.get(id), InvalidBlobIdError, `get(${JSON.stringify(id)})`);
    await assert.rejects(storage.has(id), InvalidBlobIdError, `has(${JSON.stringify(id)})`);
    await assert.rejects(storage.delete(id), InvalidBlobIdError, `delete(${JSON.stringify(id)})`);
  }
  assert.equal((await listAll(storage)).size, 0);
}

async function getMissing(storage: BlobStorage): Promise<void> {
  const id = blobIdOf(encoder.encode("never stored"));
  const error = await storage.get(id).then(
    () => assert.fail("get of a missing blob resolved"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof BlobNotFoundError, `expected BlobNotFoundError, got ${error}`);
  assert.equal(error.id, id);
}

async function has(storage: BlobStorage): Promise<void> {
  const data = encoder.encode("present");
  const id = blobIdOf(data);
  assert.equal(await storage.has(id), false);
  await storage.put(id, data);
  assert.equal(await storage.has(id), true);
  assert.equal(await storage.has(blobIdOf(encoder.encode("absent"))), false);
}

async function deleteBlob(storage: BlobStorage): Promise<void> {
  const kept = await putBlob(storage, encoder.encode("kept"));
  const gone = await putBlob(storage, encoder.encode("gone"));
  await storage.delete(gone);
  assert.equal(await storage.has(gone), false);
  await assert.rejects(storage.get(gone), BlobNotFoundError);
  await storage.delete(gone);
  await storage.delete(blobIdOf(encoder.encode("never stored")));
  assert.equal(await storage.has(kept), true);
  assert.deepEqual([...(await listAll(storage)).keys()], [kept]);
  // A deleted blob can be stored again.
  await storage.put(gone, encoder.encode("gone"));
  assert.equal(await storage.has(gone), true);
}

async function listEmpty(storage: BlobStorage): Promise<void> {
  assert.equal((await listAll(storage)).size, 0);
}

async function listMany(storage: BlobStorage): Promise<void> {
  const expected = new Map<string, number>();
  const blobs = Array.from({ length: 300 }, (_, i) => content(1000 + i, i * 7));
  for (let i = 0; i < blobs.length; i += 30) {
    const ids = await Promise.all(blobs.slice(i, i + 30).map((data) => putBlob(storage, data)));
    ids.forEach((id, j) => expected.set(id, blobs[i + j].length));
  }
  const seen = await listAll(storage);
  assert.equal(seen.size, expected.size);
  for (const [id, size] of expected) {
    assert.equal(seen.get(id), size, `list entry of ${id}`);
  }
}

async function concurrent(storage: BlobStorage): Promise<void> {
  const blobs = Array.from({ length: 64 }, (_, i) => content(2000 + i, 1024 + i * 513));
  const ids = await Promise.all(blobs.map((data) => putBlob(storage, data)));
  const got = await Promise.all(ids.map((id) => storage.get(id)));
  got.forEach((data, i) => assertBytes(data, blobs[i], `blob ${i}`));
  // Puts and gets of the same blobs mixed together.
  await Promise.all(
    ids.flatMap((id, i) => [
      storage.put(id, blobs[i]),
      storage.get(id).then((data) => assertBytes(data, blobs[i], `blob ${i} again`)),
    ]),
  );
  assert.equal((await listAll(storage)).size, 64);
}

async function readAfterWrite(storage: BlobStorage): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const data = content(3000 + i, 100 + i);
    const id = blobIdOf(data);
    await storage.put(id, data);
    assert.equal(await storage.has(id), true, `has right after put ${i}`);
    assertBytes(await storage.get(id), data, `get right after put ${i}`);
    assert.equal((await listAll(storage)).get(id), data.length, `list right after put ${i}`);
  }
}

async function corruptGet(
  storage: BlobStorage,
  corrupt: (id: string, storage: BlobStorage) => Promise<void>,
): Promise<void> {
  const data = content(4000, 4096);
  const id = await putBlob(storage, data);
  await corrupt(id, storage);
  const error = await storage.get(id).then(
    () => assert.fail("get of a damaged blob resolved"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof BlobCorruptError, `expected BlobCorruptError, got ${error}`);
  assert.equal(error.id, id);
  // Not verifying: the damaged bytes as stored, which the caller's own check must catch.
  const stored = await storage.get(id, { verify: false });
  assert.ok(stored instanceof Uint8Array, "get with verify false: not a Uint8Array");
  assert.notEqual(blobIdOf(stored), id, "get with verify false: the damage is gone");
  // The default verifies again.
  await assert.rejects(storage.get(id, { verify: true }), BlobCorruptError);
}

async function unverifiedGet(storage: BlobStorage): Promise<void> {
  for (const size of [0, 1, 70_000]) {
    const data = content(5000 + size, size);
    const id = await putBlob(storage, data);
    assertBytes(await storage.get(id, { verify: false }), data, `unverified get of ${size} bytes`);
  }
  const missing = blobIdOf(encoder.encode("never stored, not verified"));
  await assert.rejects(storage.get(missing, { verify: false }), BlobNotFoundError);
}

async function getRange(storage: BlobStorage): Promise<void> {
  if (storage.getRange === undefined) return; // Optional: callers fall back to get.
  const data = content(7, 300_000);
  const id = await putBlob(storage, data);
  for (const [offset, length] of [[0, 0], [0, 10], [1, 99], [123_456, 70_000], [299_990, 10]]) {
    assertBytes(
      await storage.getRange(id, offset, length),
      data.subarray(offset, offset + length),
      `range ${offset}+${length}`,
    );
  }
  await assert.rejects(storage.getRange(id, 299_995, 10), BlobCorruptError);
  await assert.rejects(storage.getRange("ab".repeat(32), 0, 1), BlobNotFoundError);
  await assert.rejects(storage.getRange(id, -1, 1), RangeError);
  await assert.rejects(storage.getRange("nope", 0, 1), InvalidBlobIdError);
}
