import assert from "node:assert/strict";
import { join } from "node:path";
import { BlobCorruptError, BlobNotFoundError } from "../blob_storage.ts";
import { blobIdOf } from "../blob_id.ts";
import { runConformanceSuite } from "../_testing/conformance.ts";
import {
  LocalStorage,
  LocalStorageError,
  MARKER_FILE,
  STALE_TEMP_AGE_MS,
} from "./local_storage.ts";

const encoder = new TextEncoder();

/** Runs `fn` with a fresh temp directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-local-storage-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a storage in `<dir>/blobs`, runs `fn`, closes it. */
async function withStorage(
  fn: (storage: LocalStorage, dir: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (parent) => {
    const dir = join(parent, "blobs");
    const storage = await LocalStorage.open(dir);
    try {
      await fn(storage, dir);
    } finally {
      await storage.close();
    }
  });
}

async function listIds(storage: LocalStorage): Promise<string[]> {
  const ids: string[] = [];
  for await (const { id } of storage.list()) ids.push(id);
  return ids.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

runConformanceSuite(
  "LocalStorage",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ddb-local-storage-conformance-" });
    const storage = await LocalStorage.open(dir);
    return {
      storage,
      cleanup: async () => {
        await storage.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
  {
    corrupt: async (id, storage) => {
      const path = join((storage as LocalStorage).directory, id.slice(0, 2), id);
      const data = await Deno.readFile(path);
      data[data.length >> 1] ^= 0x01;
      await Deno.chmod(path, 0o644);
      await Deno.writeFile(path, data);
    },
  },
);

Deno.test("LocalStorage lays out blobs in shard directories under a marker", async () => {
  await withStorage(async (storage, dir) => {
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(dir, MARKER_FILE))), {
      format: "ddb-local-blobs",
      version: 1,
    });
    assert.equal(storage.displayUrl, `file://${dir}`);
    assert.equal(storage.directory, dir);

    const names = async () => {
      const found: string[] = [];
      for await (const entry of Deno.readDir(dir)) found.push(entry.name);
      return found.sort();
    };
    assert.deepEqual(await names(), [MARKER_FILE, "tmp"], "shards are created lazily");

    const data = encoder.encode("layout");
    const id = blobIdOf(data);
    await storage.put(id, data);
    assert.deepEqual(await names(), [id.slice(0, 2), MARKER_FILE, "tmp"]);
    const path = join(dir, id.slice(0, 2), id);
    assert.deepEqual(await Deno.readFile(path), data);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o444, "blob files are read-only");
    }
    const tmpEntries = [];
    for await (const entry of Deno.readDir(join(dir, "tmp"))) tmpEntries.push(entry.name);
    assert.deepEqual(tmpEntries, [], "a finished put leaves no temp file");
  });
});

Deno.test("LocalStorage never shows temp files or stray names as blobs", async () => {
  await withStorage(async (storage, dir) => {
    const data = encoder.encode("real");
    const id = blobIdOf(data);
    await storage.put(id, data);

    const pending = blobIdOf(encoder.encode("pending"));
    await Deno.writeFile(join(dir, "tmp", pending), encoder.encode("pending"));
    await Deno.writeFile(join(dir, "tmp", `${pending}.1234`), encoder.encode("pend"));
    // A blob-named file in the wrong shard, a non-blob name, a blob name at the root.
    const misplaced = blobIdOf(encoder.encode("misplaced"));
    const wrongShard = misplaced.startsWith("00") ? "01" : "00";
    await Deno.mkdir(join(dir, wrongShard), { recursive: true });
    await Deno.writeFile(join(dir, wrongShard, misplaced), encoder.encode("misplaced"));
    await Deno.writeFile(join(dir, id.slice(0, 2), "notes.txt"), encoder.encode("hi"));
    await Deno.writeFile(join(dir, pending), encoder.encode("pending"));

    assert.deepEqual(await listIds(storage), [id]);
    assert.equal(await storage.has(pending), false);
    await assert.rejects(storage.get(pending), BlobNotFoundError);
  });
});

Deno.test("LocalStorage refuses a non-empty directory without its marker", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "notes.txt"), "someone else's file");
    await assert.rejects(LocalStorage.open(dir), (error: unknown) => {
      assert.ok(error instanceof LocalStorageError);
      assert.match(
        error.message,
        /^Cannot open storage ".*": not empty and has no ddb-storage\.json/,
      );
      return true;
    });
    assert.equal(await exists(join(dir, MARKER_FILE)), false);
    assert.equal(await exists(join(dir, "tmp")), false, "nothing was written");
  });
});

Deno.test("LocalStorage initializes an existing empty directory", async () => {
  await withTempDir(async (dir) => {
    const storage = await LocalStorage.open(dir);
    await storage.close();
    assert.equal(await exists(join(dir, MARKER_FILE)), true);
    // And reopens it, with create off too.
    const again = await LocalStorage.open(dir, { create: false });
    await again.close();
  });
});

Deno.test("LocalStorage.open reports unusable directories clearly", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "missing");
    await assert.rejects(
      LocalStorage.open(missing, { create: false }),
      (error: unknown) =>
        error instanceof LocalStorageError && /no such directory/.test(error.message),
    );
    assert.equal(await exists(missing), false);

    await Deno.mkdir(join(dir, "empty"));
    await assert.rejects(
      LocalStorage.open(join(dir, "empty"), { create: false }),
      (error: unknown) =>
        error instanceof LocalStorageError && /not a ddb storage/.test(error.message),
    );

    const file = join(dir, "file");
    await Deno.writeTextFile(file, "x");
    await assert.rejects(
      LocalStorage.open(file),
      (error: unknown) =>
        error instanceof LocalStorageError && /not a directory/.test(error.message),
    );

    const other = join(dir, "other");
    await Deno.mkdir(other);
    await Deno.writeTextFile(join(other, MARKER_FILE), '{"format":"ddb-local-blobs","version":7}');
    await assert.rejects(
      LocalStorage.open(other),
      (error: unknown) => error instanceof LocalStorageError && /version 7/.test(error.message),
    );

    // Nested missing parents are created.
    const nested = await LocalStorage.open(join(dir, "a", "b", "c"));
    await nested.close();
    assert.equal(await exists(join(dir, "a", "b", "c", MARKER_FILE)), true);
  });
});

Deno.test({
  name: "LocalStorage.open refuses a read-only directory",
  ignore: Deno.build.os === "windows" || Deno.uid() === 0, // root writes anywhere
  fn: async () => {
    await withTempDir(async (dir) => {
      const storage = await LocalStorage.open(join(dir, "blobs"));
      await storage.close();
      await Deno.chmod(join(dir, "blobs", "tmp"), 0o555);
      try {
        await assert.rejects(
          LocalStorage.open(join(dir, "blobs")),
          (error: unknown) =>
            error instanceof LocalStorageError && /not writable/.test(error.message),
        );
      } finally {
        await Deno.chmod(join(dir, "blobs", "tmp"), 0o755);
      }
    });
  },
});

Deno.test("LocalStorage reports a truncated blob as corrupt and a put repairs it", async () => {
  await withStorage(async (storage, dir) => {
    const data = encoder.encode("a blob that loses its tail on disk");
    const id = blobIdOf(data);
    await storage.put(id, data);
    const path = join(dir, id.slice(0, 2), id);
    await Deno.chmod(path, 0o644);
    await Deno.truncate(path, data.length - 5);

    await assert.rejects(storage.get(id), (error: unknown) => {
      assert.ok(error instanceof BlobCorruptError);
      assert.match(error.message, /content \(\d+ bytes\) hashes to "[0-9a-f]{12}…"/);
      return true;
    });
    await storage.put(id, data);
    assert.deepEqual(await storage.get(id), data);
  });
});

Deno.test("LocalStorage hides an interrupted put and removes it at open once stale", async () => {
  await withTempDir(async (parent) => {
    const dir = join(parent, "blobs");
    await (await LocalStorage.open(dir)).close();
    const id = blobIdOf(encoder.encode("interrupted"));
    const fresh = join(dir, "tmp", `${id}.fresh`);
    const stale = join(dir, "tmp", `${id}.stale`);
    await Deno.writeFile(fresh, encoder.encode("interr"));
    await Deno.writeFile(stale, encoder.encode("inter"));
    const old = new Date(Date.now() - STALE_TEMP_AGE_MS - 60_000);
    await Deno.utime(stale, old, old);

    const storage = await LocalStorage.open(dir);
    try {
      assert.equal(await exists(stale), false, "a stale temp file is removed at open");
      assert.equal(await exists(fresh), true, "a recent one may belong to another process");
      assert.equal(await storage.has(id), false);
      assert.deepEqual(await listIds(storage), []);
    } finally {
      await storage.close();
    }
  });
});

Deno.test("LocalStorage rejects calls after close", async () => {
  await withStorage(async (storage) => {
    const data = encoder.encode("late");
    const id = blobIdOf(data);
    const put = storage.put(id, data);
    await storage.close();
    await put;
    await assert.rejects(storage.get(id), LocalStorageError);
    await assert.rejects(storage.put(id, data), /closed/);
  });
});

Deno.test("LocalStorage stores many concurrent blobs of one shard", async () => {
  await withStorage(async (storage, dir) => {
    // Blobs whose ids share a shard, to exercise the grouped directory fsync.
    const blobs: Uint8Array[] = [];
    for (let i = 0; blobs.length < 40; i++) {
      const data = encoder.encode(`blob ${i}`);
      if (blobIdOf(data).startsWith("ab")) blobs.push(data);
    }
    await Promise.all(blobs.map((data) => storage.put(blobIdOf(data), data)));
    const expected = blobs.map(blobIdOf).sort();
    assert.deepEqual(await listIds(storage), expected);
    let onDisk = 0;
    for await (const entry of Deno.readDir(dir)) {
      if (/^[0-9a-f]{2}$/.test(entry.name)) {
        for await (const _ of Deno.readDir(join(dir, entry.name))) onDisk++;
      }
    }
    assert.equal(onDisk, blobs.length);
  });
});
