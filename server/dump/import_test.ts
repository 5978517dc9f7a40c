import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import type { KvEntry } from "../kv/kv_store.ts";
import { DumpFormatError, encodeDump } from "./dump_format.ts";
import { KvExport } from "./export.ts";
import {
  copyIntoEmpty,
  DatabaseNotEmptyError,
  DumpImporter,
  type ImportResult,
  installKvFile,
} from "./import.ts";

const encoder = new TextEncoder();

/** Fills `kv` with keys of every shape: system bytes, 0xff, empty values, large values. */
function fill(kv: SqliteKvStore): void {
  kv.transaction(() => {
    kv.set(Uint8Array.of(0), Uint8Array.of());
    kv.set(Uint8Array.of(0, 0x62, ...new Uint8Array(32).fill(0xab)), new Uint8Array(56).fill(3));
    kv.set(Uint8Array.of(0xff, 0xff, 0xff), new Uint8Array(300_000).fill(0x11));
    for (let i = 0; i < 5000; i++) {
      kv.set(encoder.encode(`h\0\0\0\x04name${i}`), encoder.encode(`value-${i}`.repeat(i % 5)));
    }
  });
}

function entries(kv: SqliteKvStore): KvEntry[] {
  return [...kv.scan()].map(({ key, value }) => ({ key: key.slice(), value: value.slice() }));
}

/** Imports `chunks` into a new importer at `path`; returns the result or throws. */
function importChunks(path: string, chunks: Iterable<Uint8Array>): ImportResult {
  const importer = DumpImporter.create(path);
  try {
    for (const chunk of chunks) importer.push(chunk);
    return importer.finish();
  } catch (error) {
    importer.abort();
    throw error;
  }
}

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-import-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("import reproduces every record exactly, installed as a file", () =>
  withDir(async (dir) => {
    const source = SqliteKvStore.open(join(dir, "source.sqlite"));
    fill(source);
    const expected = entries(source);
    source.close();
    const temp = join(dir, ".import.sqlite");
    const result = importChunks(temp, KvExport.open(join(dir, "source.sqlite"), "src", 42, 4096));
    assert.equal(result.header.database, "src");
    assert.equal(result.header.createdAt, 42);
    assert.equal(result.summary.records, expected.length);
    installKvFile(temp, join(dir, "target.sqlite"));
    assert.equal(await exists(temp), false);
    const target = SqliteKvStore.open(join(dir, "target.sqlite"));
    try {
      assert.deepEqual(entries(target), expected);
    } finally {
      target.close();
    }
  }));

Deno.test("import into an open empty store copies every record in one transaction", () =>
  withDir((dir) => {
    const source = SqliteKvStore.open(join(dir, "source.sqlite"));
    fill(source);
    const expected = entries(source);
    source.close();
    const temp = join(dir, ".import.sqlite");
    importChunks(temp, KvExport.open(join(dir, "source.sqlite"), "src", 0));
    const targetPath = join(dir, "target.sqlite");
    const target = SqliteKvStore.open(targetPath);
    try {
      // A read before the copy must not leave a stale cached absence.
      assert.equal(target.get(Uint8Array.of(0)), undefined);
      assert.equal(copyIntoEmpty(temp, targetPath, target, "target"), expected.length);
      assert.deepEqual(entries(target), expected);
      assert.deepEqual(target.get(Uint8Array.of(0)), Uint8Array.of());
      // The store writes on as usual.
      target.transaction(() => target.set(Uint8Array.of(1), Uint8Array.of(2)));
      assert.deepEqual(target.get(Uint8Array.of(1)), Uint8Array.of(2));
      target.delete(Uint8Array.of(1));
      // Again: the target is not empty now.
      assert.throws(() => copyIntoEmpty(temp, targetPath, target, "target"), DatabaseNotEmptyError);
      assert.deepEqual(entries(target), expected);
    } finally {
      target.close();
    }
  }));

Deno.test("import refuses a non-empty target and changes nothing", () =>
  withDir((dir) => {
    const source = SqliteKvStore.open(join(dir, "source.sqlite"));
    fill(source);
    source.close();
    const targetPath = join(dir, "target.sqlite");
    const target = SqliteKvStore.open(targetPath);
    target.set(encoder.encode("mine"), encoder.encode("keep"));
    try {
      const temp = join(dir, ".import.sqlite");
      importChunks(temp, KvExport.open(join(dir, "source.sqlite"), "src", 0));
      assert.throws(() => copyIntoEmpty(temp, targetPath, target, "target"), /not empty/);
      assert.throws(() => installKvFile(temp, targetPath), DatabaseNotEmptyError);
      assert.deepEqual(entries(target).map((e) => new TextDecoder().decode(e.key)), ["mine"]);
    } finally {
      target.close();
    }
  }));

Deno.test("a damaged or truncated dump is refused and leaves no file behind", () =>
  withDir(async (dir) => {
    const source = SqliteKvStore.open(join(dir, "source.sqlite"));
    fill(source);
    source.close();
    const chunks = [...KvExport.open(join(dir, "source.sqlite"), "src", 0, 64 * 1024)];
    const temp = join(dir, ".import.sqlite");
    // A flipped byte inside a value: only the checksum can tell.
    const damaged = chunks.map((c) => c.slice());
    damaged[3][1000] ^= 0x04;
    assert.throws(() => importChunks(temp, damaged), /checksum mismatch/);
    assert.equal(await exists(temp), false);
    assert.throws(() => importChunks(temp, chunks.slice(0, -1)), DumpFormatError);
    assert.equal(await exists(temp), false);
    const cut = chunks.slice();
    cut[cut.length - 1] = cut[cut.length - 1].subarray(0, 10);
    assert.throws(() => importChunks(temp, cut), /truncated/);
    assert.equal(await exists(temp), false);
    // The target, empty, was never touched.
    assert.equal(await exists(join(dir, "target.sqlite")), false);
  }));

Deno.test("import refuses records of another kv format version", () =>
  withDir(async (dir) => {
    const chunks = encodeDump({ database: "x", createdAt: 0, kvFormatVersion: 99 }, [
      { key: Uint8Array.of(1), value: Uint8Array.of(2) },
    ]);
    const temp = join(dir, ".import.sqlite");
    assert.throws(() => importChunks(temp, chunks), /kv format version 99/);
    assert.equal(await exists(temp), false);
  }));
