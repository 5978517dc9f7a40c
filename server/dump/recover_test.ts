import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import type { KvEntry } from "../kv/kv_store.ts";
import { LocalStorage } from "../../storage/local/local_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import * as blobIndex from "../blob_index.ts";
import { DataDirBusyError, kvFilePath, lockDataDir } from "./data_dir.ts";
import { DatabaseNotEmptyError } from "./import.ts";
import { writeMetaBackup } from "./meta_backup.ts";
import { NoMetaBackupError, recoverFromStorage } from "./recover.ts";

const encoder = new TextEncoder();

function entries(path: string): KvEntry[] {
  const kv = SqliteKvStore.open(path);
  try {
    return [...kv.scan()].map(({ key, value }) => ({ key: key.slice(), value: value.slice() }));
  } finally {
    kv.close();
  }
}

interface Fixture {
  dir: string;
  kvPath: string;
  kv: SqliteKvStore;
  storage: LocalStorage;
  dataDir: string;
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-recover-test-" });
  const kvPath = join(dir, "old", "db", "photos.sqlite");
  await Deno.mkdir(join(dir, "old", "db"), { recursive: true });
  const kv = SqliteKvStore.open(kvPath);
  const storage = await LocalStorage.open(join(dir, "blobs"));
  try {
    kv.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        kv.set(encoder.encode(`key-${i}`), new Uint8Array(3000).fill(i & 0xff));
      }
    });
    await fn({ dir, kvPath, kv, storage, dataDir: join(dir, "new") });
  } finally {
    kv.close();
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("recovery rebuilds the newest backup's kv file, byte for byte", () =>
  withFixture(async ({ kv, kvPath, storage, dataDir }) => {
    let clock = 1;
    await writeMetaBackup({ kvPath, database: "photos", storage, now: () => clock++ });
    kv.set(encoder.encode("newest"), encoder.encode("yes"));
    const newest = await writeMetaBackup({
      kvPath,
      database: "photos",
      storage,
      now: () => clock++,
    });
    const expected = entries(kvPath);
    const result = await recoverFromStorage({ storage, dataDir });
    assert.equal(result.database, "photos");
    assert.equal(result.backup.id, newest.id);
    assert.equal(result.path, kvFilePath(dataDir, "photos"));
    assert.deepEqual(entries(result.path), expected);
    // Leftovers: none but the kv file itself.
    const names = [];
    for await (const entry of Deno.readDir(join(dataDir, "db"))) names.push(entry.name);
    assert.deepEqual(names.filter((n) => n.startsWith(".")), []);
    // Now it exists and is not empty.
    await assert.rejects(() => recoverFromStorage({ storage, dataDir }), DatabaseNotEmptyError);
  }));

Deno.test("recovery falls back to an older backup when the newest is damaged", () =>
  withFixture(async ({ kv, kvPath, storage, dataDir }) => {
    let clock = 1;
    await writeMetaBackup({ kvPath, database: "photos", storage, now: () => clock++ });
    const expected = entries(kvPath);
    kv.set(encoder.encode("lost"), encoder.encode("yes"));
    const newest = await writeMetaBackup({
      kvPath,
      database: "photos",
      storage,
      now: () => clock++,
    });
    await storage.delete(newest.manifest.pieces[newest.manifest.pieces.length - 1].id);
    const skipped: string[] = [];
    const result = await recoverFromStorage({
      storage,
      dataDir,
      database: "photos",
      onSkip: (stored, reason) => skipped.push(`${stored.id} ${reason}`),
    });
    assert.equal(skipped.length, 1);
    assert.match(skipped[0], new RegExp(`^${newest.id} Cannot find blob`));
    assert.deepEqual(entries(result.path), expected);
  }));

Deno.test("recovery refuses without a backup, or while a server holds the data directory", () =>
  withFixture(async ({ kvPath, storage, dataDir }) => {
    await assert.rejects(() => recoverFromStorage({ storage, dataDir }), NoMetaBackupError);
    await writeMetaBackup({ kvPath, database: "photos", storage, now: () => 1 });
    await assert.rejects(
      () => recoverFromStorage({ storage, dataDir, database: "other" }),
      /no metadata backup of database "other"/,
    );
    const lock = await lockDataDir(dataDir);
    try {
      await assert.rejects(() => recoverFromStorage({ storage, dataDir }), DataDirBusyError);
    } finally {
      lock.close();
    }
    // An empty kv file (a server started once on the empty directory) may be replaced.
    await Deno.mkdir(join(dataDir, "db"), { recursive: true });
    SqliteKvStore.open(kvFilePath(dataDir, "photos")).close();
    const result = await recoverFromStorage({ storage, dataDir });
    assert.deepEqual(entries(result.path), entries(kvPath));
  }));

Deno.test("recovery drops index records of blobs the storage no longer holds", () =>
  withFixture(async ({ kv, kvPath, storage, dataDir }) => {
    const kept = new Uint8Array(600_000).fill(1);
    const keptId = blobIdOf(kept);
    await storage.put(keptId, kept);
    const pack = new Uint8Array(5000).fill(2);
    const packId = blobIdOf(pack);
    await storage.put(packId, pack);
    const gone = "1".repeat(64);
    const inGonePack = "2".repeat(64);
    const inPack = "3".repeat(64);
    kv.transaction(() => {
      blobIndex.add(kv, keptId, kept.length, 1);
      blobIndex.add(kv, gone, 700_000, 1);
      blobIndex.add(kv, inPack, 100, 1, { pack: packId, offset: 0, length: 100 });
      blobIndex.add(kv, inGonePack, 200, 1, { pack: "4".repeat(64), offset: 0, length: 200 });
    });
    await writeMetaBackup({ kvPath, database: "photos", storage, now: () => 1 });
    const result = await recoverFromStorage({ storage, dataDir });
    assert.equal(result.indexedBlobs, 4);
    assert.deepEqual(result.droppedBlobs.sort(), [gone, inGonePack].sort());
    const restored = SqliteKvStore.open(result.path);
    try {
      assert.deepEqual(
        [...blobIndex.list(restored)].map((b) => b.id).sort(),
        [keptId, inPack].sort(),
      );
      assert.equal(blobIndex.count(restored), 2);
      assert.equal(blobIndex.totalBytes(restored), kept.length + 100);
    } finally {
      restored.close();
    }
  }));
