import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import type { KvEntry } from "../kv/kv_store.ts";
import { LocalStorage } from "../../storage/local/local_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import { BlobNotFoundError } from "../../storage/blob_storage.ts";
import { DumpDecoder } from "./dump_format.ts";
import { MANIFEST_SIZE_RESIDUE } from "./manifest.ts";
import {
  listManifests,
  PIECE_BYTES,
  pruneMetaBackups,
  readDump,
  writeMetaBackup,
} from "./meta_backup.ts";

const encoder = new TextEncoder();

interface Fixture {
  dir: string;
  kvPath: string;
  kv: SqliteKvStore;
  storage: LocalStorage;
}

async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-meta-backup-test-" });
  const kvPath = join(dir, "db.sqlite");
  const kv = SqliteKvStore.open(kvPath);
  const storage = await LocalStorage.open(join(dir, "blobs"));
  try {
    await fn({ dir, kvPath, kv, storage });
  } finally {
    kv.close();
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** About `megabytes` MB of records. */
function fill(kv: SqliteKvStore, megabytes: number): void {
  const value = new Uint8Array(10_000).map((_, i) => i * 7);
  kv.transaction(() => {
    for (let i = 0; i < megabytes * 100; i++) {
      kv.set(encoder.encode(`k${String(i).padStart(8, "0")}`), value);
    }
  });
}

async function decodeAll(chunks: AsyncIterable<Uint8Array>): Promise<KvEntry[]> {
  const decoder = new DumpDecoder();
  const out: KvEntry[] = [];
  for await (const chunk of chunks) {
    decoder.push(chunk);
    for (let item = decoder.next(); item !== undefined; item = decoder.next()) {
      if (item.kind === "record") out.push({ key: item.key, value: item.value });
    }
  }
  decoder.finish();
  return out;
}

Deno.test("a metadata backup is found in the storage alone and reads back whole", () =>
  withFixture(async ({ kv, kvPath, storage }) => {
    fill(kv, 20);
    // Noise: blobs of every size, some of a manifest's size modulo 4096.
    for (const size of [10, 4096 + MANIFEST_SIZE_RESIDUE, 2 * 4096 + MANIFEST_SIZE_RESIDUE]) {
      const bytes = new Uint8Array(size).fill(size & 0xff);
      await storage.put(blobIdOf(bytes), bytes);
    }
    const stored = await writeMetaBackup({ kvPath, database: "db1", storage, now: () => 5000 });
    assert.ok(stored.manifest.pieces.length >= 3, `${stored.manifest.pieces.length} pieces`);
    for (const piece of stored.manifest.pieces.slice(0, -1)) assert.equal(piece.size, PIECE_BYTES);
    assert.equal(stored.manifest.records, 2000);
    assert.equal(stored.manifest.createdAt, 5000);
    const found = await listManifests(storage);
    assert.deepEqual(found, [stored]);
    const records = await decodeAll(readDump(storage, stored.manifest));
    assert.deepEqual(records, [...kv.scan()]);
  }));

Deno.test("pruning keeps the newest backups of the database and what others need", () =>
  withFixture(async ({ kv, kvPath, storage }) => {
    fill(kv, 1);
    let clock = 1000;
    const now = () => clock++;
    const first = await writeMetaBackup({ kvPath, database: "db1", storage, now });
    const other = await writeMetaBackup({ kvPath, database: "db2", storage, now });
    kv.set(encoder.encode("changed"), encoder.encode("1"));
    const second = await writeMetaBackup({ kvPath, database: "db1", storage, now });
    kv.set(encoder.encode("changed"), encoder.encode("2"));
    const third = await writeMetaBackup({ kvPath, database: "db1", storage, now });
    const fourth = await writeMetaBackup({ kvPath, database: "db1", storage, now });
    // A client blob that happens to have the bytes of the second backup's piece.
    const indexed = new Set([second.manifest.pieces[0].id]);
    const pruned = await pruneMetaBackups(storage, "db1", 2, (id) => indexed.has(id));
    assert.deepEqual(new Set(pruned.manifests), new Set([first.id, second.id]));
    assert.deepEqual(
      (await listManifests(storage)).map((s) => s.id),
      [fourth.id, third.id, other.id],
    );
    assert.equal(await storage.has(second.manifest.pieces[0].id), true);
    assert.equal(await storage.has(first.manifest.pieces[0].id), false);
    for (const kept of [third, fourth, other]) {
      for (const piece of kept.manifest.pieces) assert.equal(await storage.has(piece.id), true);
    }
    // Nothing more to prune.
    assert.deepEqual(await pruneMetaBackups(storage, "db1", 2, () => false), {
      manifests: [],
      pieces: 0,
    });
  }));

Deno.test("reading a backup whose piece is missing fails clearly", () =>
  withFixture(async ({ kv, kvPath, storage }) => {
    fill(kv, 1);
    const stored = await writeMetaBackup({ kvPath, database: "db1", storage, now: () => 1 });
    await storage.delete(stored.manifest.pieces[0].id);
    await assert.rejects(() => decodeAll(readDump(storage, stored.manifest)), BlobNotFoundError);
  }));
