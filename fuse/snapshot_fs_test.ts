import assert from "node:assert/strict";
import type { TreeSpec } from "../client/snapshot/_testing/write_tree.ts";
import { sha256 } from "../client/snapshot/_testing/write_tree.ts";
import { MemoryReader } from "./_testing/memory_reader.ts";
import { type Attr, Errno, FileType, FsError, ROOT_INODE } from "./file_system.ts";
import {
  AT_INODE,
  type FsLogger,
  LATEST_INODE,
  type LogFields,
  SnapshotFs,
  type SnapshotFsOptions,
  SNAPSHOTS_INODE,
} from "./snapshot_fs.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** µs of a UTC date. */
function us(year: number, month: number, day = 1, hour = 0, minute = 0, second = 0): bigint {
  return BigInt(Date.UTC(year, month - 1, day, hour, minute, second)) * 1000n;
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A logger that keeps what it is told. */
class TestLogger implements FsLogger {
  readonly lines: { event: string; fields: LogFields }[] = [];
  debug(): void {}
  warn(event: string, fields: LogFields = {}): void {
    this.lines.push({ event, fields });
  }
}

const A = bytes(3000, 1);
const B = bytes(2000, 2);
const C = bytes(1000, 3);
const MTIME = 1_700_000_000_123_456_789n;

/** The tree of snapshot `version` of laptop:/home/ann. */
function home(version: number): TreeSpec {
  return {
    type: "dir",
    name: "ann",
    mode: 0o750,
    uid: 1000,
    gid: 100,
    mtimeNs: BigInt(version) * 1_000_000_000n,
    children: [
      { type: "file", name: "version.txt", chunks: [encoder.encode(`v${version}\n`)] },
      { type: "file", name: "big.bin", chunks: [A, B, C, A], mode: 0o600, mtimeNs: MTIME },
      { type: "file", name: "empty", chunks: [] },
      { type: "symlink", name: "link", target: "big.bin" },
      { type: "fifo", name: "pipe", mode: 0o640 },
      { type: "file", name: "h1", chunks: [C], links: "7:99" },
      { type: "file", name: "h2", chunks: [C], links: "7:99" },
      {
        type: "dir",
        name: "docs",
        size: 5,
        children: [{ type: "file", name: "note.txt", chunks: [encoder.encode("note\n")] }],
      },
    ],
  };
}

const T1 = us(2023, 12, 31, 23, 0);
const T2 = us(2024, 5, 4, 15, 4, 5);
const T3 = us(2024, 5, 4, 15, 4, 5) + 250_000n;
const T4 = us(2024, 6, 1);

interface Fixture {
  reader: MemoryReader;
  fs: SnapshotFs;
  logger: TestLogger;
  /** The injected clock, in ms. */
  clock: { now: number };
}

function fixture(options: Partial<SnapshotFsOptions> = {}): Fixture {
  const reader = new MemoryReader();
  [T1, T2, T3, T4].forEach((timeUs, i) => {
    reader.addSnapshot({
      ref: reader.addTree(home(i + 1)),
      host: "laptop",
      path: "/home/ann",
      timeUs,
      newBytes: 5000,
    });
  });
  reader.addSnapshot({
    ref: reader.addTree({ type: "dir", name: "a:b", children: [] }),
    host: "nas",
    path: "/srv/a:b",
    timeUs: us(2022, 1, 1),
    newBytes: 100,
  });
  reader.addSnapshot({
    ref: reader.addTree({ type: "file", name: "hosts", chunks: [encoder.encode("127.0.0.1\n")] }),
    host: "nas",
    path: "/etc/hosts",
    timeUs: us(2021, 1, 1),
  });
  const logger = new TestLogger();
  const clock = { now: 0 };
  const fs = new SnapshotFs(reader, { logger, clock: () => clock.now, ...options });
  return { reader, fs, logger, clock };
}

/** Looks up each component of `path` from the root. */
async function resolve(fs: SnapshotFs, path: string): Promise<Attr> {
  let attr = await fs.getattr(ROOT_INODE);
  for (const part of path.split("/").filter((p) => p !== "")) {
    attr = await fs.lookup(attr.ino, part);
  }
  return attr;
}

async function readAll(fs: SnapshotFs, ino: number, piece = 1000): Promise<Uint8Array> {
  const handle = await fs.open(ino);
  const parts: Uint8Array[] = [];
  for (let offset = 0;; offset += piece) {
    const data = await fs.read(ino, handle, offset, piece);
    parts.push(data.slice());
    if (data.length < piece) break;
  }
  await fs.release(ino, handle);
  return concat(parts);
}

async function names(fs: SnapshotFs, ino: number): Promise<string[]> {
  return (await fs.readdir(ino)).map((e) => e.name);
}

async function assertErrno(promise: Promise<unknown>, errno: number): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof FsError, String(error));
    assert.equal(error.errno, errno, error.message);
    return true;
  });
}

const HOME = "laptop:home:ann";

Deno.test("SnapshotFs lays out latest/, snapshots/ and at/ with read-only virtual directories", async () => {
  const { fs } = fixture();
  const root = await fs.readdir(ROOT_INODE);
  assert.deepEqual(root.map((e) => [e.name, e.attr.ino]), [
    ["latest", LATEST_INODE],
    ["snapshots", SNAPSHOTS_INODE],
    ["at", AT_INODE],
  ]);
  for (const { attr } of root) {
    assert.deepEqual(attr, {
      ino: attr.ino,
      mode: FileType.DIR | 0o555,
      size: 0,
      nlink: 2,
      uid: 0,
      gid: 0,
      mtimeMs: Number(T4 / 1000n),
    });
  }
  assert.deepEqual(await fs.getattr(ROOT_INODE), { ...root[0].attr, ino: ROOT_INODE });
  const groups = ["laptop:home:ann", "nas:etc:hosts", "nas:srv:a%3Ab"];
  assert.deepEqual(await names(fs, LATEST_INODE), groups);
  assert.deepEqual(await names(fs, SNAPSHOTS_INODE), groups);
  assert.deepEqual(await names(fs, AT_INODE), groups);
  const group = await resolve(fs, `snapshots/${HOME}`);
  assert.equal(group.mode, FileType.DIR | 0o555);
  assert.equal(group.mtimeMs, Number(T4 / 1000n));
  assert.deepEqual(await names(fs, group.ino), [
    "2023-12-31T23:00:00Z",
    "2024-05-04T15:04:05Z",
    "2024-05-04T15:04:05.250000Z",
    "2024-06-01T00:00:00Z",
  ]);
  assert.deepEqual(await names(fs, (await resolve(fs, `at/${HOME}`)).ino), []);
  const nasGroup = await resolve(fs, "snapshots/nas:srv:a%3Ab");
  assert.equal(nasGroup.mtimeMs, Date.UTC(2022, 0, 1));
});

Deno.test("SnapshotFs shows each node with its backed-up attributes", async () => {
  const { fs } = fixture();
  const latest = await resolve(fs, `latest/${HOME}`);
  assert.equal(latest.mode, FileType.DIR | 0o750);
  assert.equal(latest.uid, 1000);
  assert.equal(latest.gid, 100);
  assert.equal(latest.mtimeMs, 4000);
  assert.deepEqual(await names(fs, latest.ino), [
    "big.bin",
    "docs",
    "empty",
    "h1",
    "h2",
    "link",
    "pipe",
    "version.txt",
  ]);
  const listed = new Map((await fs.readdir(latest.ino)).map((e) => [e.name, e.attr]));
  const big = await fs.lookup(latest.ino, "big.bin");
  assert.deepEqual(big, {
    ino: big.ino,
    mode: FileType.REG | 0o600,
    size: 9000,
    nlink: 1,
    uid: 1000,
    gid: 1000,
    mtimeMs: Number(MTIME / 1_000_000n),
  });
  assert.deepEqual(listed.get("big.bin"), big);
  const link = await fs.lookup(latest.ino, "link");
  assert.equal(link.mode, FileType.LNK | 0o777);
  assert.equal(link.size, "big.bin".length);
  assert.equal(await fs.readlink(link.ino), "big.bin");
  const pipe = await fs.lookup(latest.ino, "pipe");
  assert.equal(pipe.mode, FileType.FIFO | 0o640);
  assert.equal(pipe.size, 0);
  const docs = await fs.lookup(latest.ino, "docs");
  assert.equal(docs.mode, FileType.DIR | 0o755);
  assert.equal(docs.nlink, 1);
  assert.equal(docs.size, 0, "not its tree's size");
  assert.equal(
    decoder.decode(await readAll(fs, (await fs.lookup(docs.ino, "note.txt")).ino)),
    "note\n",
  );
  assert.deepEqual(await readAll(fs, (await fs.lookup(latest.ino, "empty")).ino), new Uint8Array());
  // A backed-up file is itself the snapshot root.
  const hosts = await resolve(fs, "latest/nas:etc:hosts");
  assert.equal(hosts.mode, FileType.REG | 0o644);
  assert.equal(decoder.decode(await readAll(fs, hosts.ino)), "127.0.0.1\n");
});

Deno.test("SnapshotFs resolves at/<name>/<time> at every precision", async () => {
  const { fs } = fixture();
  const version = async (path: string) =>
    decoder.decode(await readAll(fs, (await resolve(fs, `${path}/version.txt`)).ino)).trim();
  const at = (time: string) => version(`at/${HOME}/${time}`);
  assert.equal(await version(`latest/${HOME}`), "v4");
  assert.equal(await version(`snapshots/${HOME}/2024-05-04T15:04:05Z`), "v2");
  assert.equal(await version(`snapshots/${HOME}/2024-05-04T15:04:05.250000Z`), "v3");
  assert.equal(await at("2023"), "v1");
  assert.equal(await at("2024"), "v4");
  assert.equal(await at("2024-05"), "v3");
  assert.equal(await at("2024-05-04"), "v3");
  assert.equal(await at("2024-05-04T14"), "v1");
  assert.equal(await at("2024-05-04T15"), "v3");
  assert.equal(await at("2024-05-04T15:04"), "v3");
  assert.equal(await at("2024-05-04T15:04:05"), "v3");
  assert.equal(await at("2024-05-04T15:04:05.1"), "v2");
  assert.equal(await at("2024-05-04T15:04:05Z"), "v3");
  assert.equal(await at("2024-05-04T17:04:04+02:00"), "v1");
  assert.equal(await at("2024-5-4T15:4:5"), "v3");
  assert.equal(await at("2030-01-01T00:00:00Z"), "v4");
  const group = (await resolve(fs, `at/${HOME}`)).ino;
  await assertErrno(fs.lookup(group, "2023-12-31T22"), Errno.ENOENT);
  await assertErrno(fs.lookup(group, "2023-02-29"), Errno.ENOENT);
  await assertErrno(fs.lookup(group, "yesterday"), Errno.ENOENT);
  await assertErrno(resolve(fs, "at/nobody:x/2024"), Errno.ENOENT);
});

Deno.test("SnapshotFs keeps inode numbers stable and shares unchanged files", async () => {
  const { fs } = fixture({ maxIdleInodes: 4 });
  const latest = await resolve(fs, `latest/${HOME}`);
  const v4 = await resolve(fs, `snapshots/${HOME}/2024-06-01T00:00:00Z`);
  const v3 = await resolve(fs, `snapshots/${HOME}/2024-05-04T15:04:05.250000Z`);
  const atV4 = await resolve(fs, `at/${HOME}/2024`);
  // Directories are distinct per place; an unchanged file is one inode everywhere.
  assert.equal(new Set([latest.ino, v4.ino, v3.ino, atV4.ino]).size, 4);
  const bigs = await Promise.all([latest, v4, v3, atV4].map((d) => fs.lookup(d.ino, "big.bin")));
  assert.equal(new Set(bigs.map((b) => b.ino)).size, 1);
  const versions = await Promise.all([latest, v3].map((d) => fs.lookup(d.ino, "version.txt")));
  assert.notEqual(versions[0].ino, versions[1].ino);
  const docs = await Promise.all([latest, v4].map((d) => fs.lookup(d.ino, "docs")));
  assert.notEqual(docs[0].ino, docs[1].ino);
  // Hard links: one inode per snapshot tree, nlink 2.
  const [h1, h2] = await Promise.all(["h1", "h2"].map((n) => fs.lookup(latest.ino, n)));
  assert.equal(h1.ino, h2.ino);
  assert.equal(h1.nlink, 2);
  assert.equal((await fs.lookup(v4.ino, "h2")).ino, h1.ino, "the same snapshot elsewhere");
  assert.notEqual((await fs.lookup(v3.ino, "h1")).ino, h1.ino);
  // readdir hands out the numbers lookup does.
  const listed = await fs.readdir(latest.ino);
  assert.equal(listed.find((e) => e.name === "big.bin")?.attr.ino, bigs[0].ino);
  // Forgotten and dropped, then met again: the same number.
  const note = await fs.lookup(docs[0].ino, "note.txt");
  fs.forget(note.ino, 1);
  for (const entry of listed) if (entry.name !== "docs") fs.forget(entry.attr.ino, 100);
  await fs.readdir(v3.ino);
  await assertErrno(fs.getattr(note.ino), Errno.ENOENT);
  assert.equal((await fs.lookup(docs[0].ino, "note.txt")).ino, note.ino);
  // A fresh session numbers everything alike.
  const again = fixture().fs;
  assert.equal((await resolve(again, `latest/${HOME}/docs/note.txt`)).ino, note.ino);
});

Deno.test("SnapshotFs reads across chunk boundaries, through handles", async () => {
  const { fs } = fixture();
  const big = await resolve(fs, `latest/${HOME}/big.bin`);
  const content = concat([A, B, C, A]);
  for (const piece of [1, 7, 1000, 4096, 10_000]) {
    assert.deepEqual(await readAll(fs, big.ino, piece), content, `pieces of ${piece}`);
  }
  const handle = await fs.open(big.ino);
  assert.deepEqual(await fs.read(big.ino, handle, 2990, 3020), content.subarray(2990, 6010));
  assert.deepEqual(await fs.read(big.ino, handle, 8990, 100), content.subarray(8990));
  assert.deepEqual(await fs.read(big.ino, handle, 9000, 100), new Uint8Array());
  await assertErrno(fs.read(big.ino + 1, handle, 0, 1), Errno.EBADF);
  await assertErrno(fs.read(big.ino, handle, -1, 1), Errno.EINVAL);
  await fs.release(big.ino, handle);
  await assertErrno(fs.read(big.ino, handle, 0, 1), Errno.EBADF);
});

Deno.test("SnapshotFs loads a file's chunk list once, and fetches each blob once", async () => {
  const { fs, reader } = fixture();
  const big = await resolve(fs, `latest/${HOME}/big.bin`);
  const handles = await Promise.all([fs.open(big.ino), fs.open(big.ino), fs.open(big.ino)]);
  assert.equal(reader.calls.get("readContent"), 1);
  const gate = Promise.withResolvers<void>();
  reader.blobGate = gate.promise;
  const reads = handles.map((h) => fs.read(big.ino, h, 0, 100));
  reads.push(fs.read(big.ino, handles[0], 8900, 100)); // A again, at the end
  await new Promise((resolve) => setTimeout(resolve, 0));
  gate.resolve();
  const results = await Promise.all(reads);
  assert.deepEqual(results[0], A.subarray(0, 100));
  assert.deepEqual(results[3], A.subarray(2900, 3000));
  assert.equal(reader.blobFetches.get(sha256(A)), 1);
  for (const h of handles) await fs.release(big.ino, h);
});

Deno.test("SnapshotFs reads ahead of sequential reads and keeps the cache within its bound", async () => {
  const reader = new MemoryReader();
  const parts = Array.from({ length: 20 }, (_, i) => bytes(10_000, 100 + i));
  reader.addSnapshot({
    ref: reader.addTree({ type: "file", name: "f", chunks: parts }),
    host: "h",
    path: "/f",
  });
  const fs = new SnapshotFs(reader, {
    logger: new TestLogger(),
    cacheBytes: 45_000,
    readAhead: 2,
  });
  const file = await resolve(fs, "latest/h:f");
  const handle = await fs.open(file.ino);
  await fs.read(file.ino, handle, 0, 4096);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual([...reader.blobFetches.keys()], [sha256(parts[0]), sha256(parts[1])]);
  const data: Uint8Array[] = [];
  for (let offset = 4096; offset < 200_000; offset += 4096) {
    data.push((await fs.read(file.ino, handle, offset, 4096)).slice());
    assert.ok(fs.cacheStats.bytes <= 45_000);
  }
  assert.deepEqual(concat(data), concat(parts).subarray(4096));
  // Every chunk was fetched once, ahead of the reads that needed it.
  assert.deepEqual([...reader.blobFetches.values()], parts.map(() => 1));
  const stats = fs.cacheStats;
  assert.equal(stats.fetches, 20);
  assert.ok(stats.evictions >= 15);
  await fs.release(file.ino, handle);
});

Deno.test("SnapshotFs answers ENOENT, ENOTDIR, EISDIR and EINVAL where they apply", async () => {
  const { fs } = fixture();
  const latest = await resolve(fs, `latest/${HOME}`);
  const big = await fs.lookup(latest.ino, "big.bin");
  await assertErrno(fs.lookup(ROOT_INODE, "nothing"), Errno.ENOENT);
  await assertErrno(fs.lookup(LATEST_INODE, "nobody:x"), Errno.ENOENT);
  await assertErrno(fs.lookup(SNAPSHOTS_INODE, "laptop:home"), Errno.ENOENT);
  await assertErrno(resolve(fs, `snapshots/${HOME}/2024`), Errno.ENOENT);
  await assertErrno(fs.lookup(latest.ino, "missing"), Errno.ENOENT);
  await assertErrno(fs.getattr(123456789), Errno.ENOENT);
  await assertErrno(fs.lookup(big.ino, "x"), Errno.ENOTDIR);
  await assertErrno(fs.readdir(big.ino), Errno.ENOTDIR);
  await assertErrno(fs.open(latest.ino), Errno.EISDIR);
  await assertErrno(fs.open(LATEST_INODE), Errno.EISDIR);
  await assertErrno(fs.open((await fs.lookup(latest.ino, "pipe")).ino), Errno.EINVAL);
  await assertErrno(fs.readlink(big.ino), Errno.EINVAL);
});

Deno.test("SnapshotFs reports repository failures as EIO and logs them", async () => {
  const { fs, reader, logger } = fixture();
  const latest = await resolve(fs, `latest/${HOME}`);
  const big = await fs.lookup(latest.ino, "big.bin");
  const handle = await fs.open(big.ino);
  reader.failing.add(sha256(B));
  await assertErrno(fs.read(big.ino, handle, 2999, 2), Errno.EIO);
  assert.deepEqual(await fs.read(big.ino, handle, 0, 10), A.subarray(0, 10));
  const line = logger.lines.find((l) => l.event === "mount.io_error");
  assert.equal(line?.fields.op, "read file");
  assert.equal(line?.fields.ino, big.ino);
  assert.match(String(line?.fields.error), /injected failure/);
  reader.failing.delete(sha256(B));
  assert.equal((await fs.read(big.ino, handle, 2999, 2)).length, 2, "the failure is not kept");
  await fs.release(big.ino, handle);

  // An unreadable entry is left out of its directory and logged.
  const v1 = await resolve(fs, `snapshots/${HOME}/2023-12-31T23:00:00Z`);
  const v1Root = reader.metas.get(
    [...reader.snapshots.values()].find((s) => s.timeUs === T1)!.ref,
  )!;
  const versionKey = reader.dirs.get(v1Root.ref!)!.find((key) =>
    decoder.decode(reader.metas.get(key)!.name) === "version.txt"
  )!;
  reader.failing.add(versionKey);
  assert.ok(!(await names(fs, v1.ino)).includes("version.txt"));
  assert.ok(logger.lines.some((l) => l.event === "mount.unreadable_entry"));

  // A missing chunk list, an unreadable directory.
  const unreadable = fixture();
  const uLatest = await resolve(unreadable.fs, `latest/${HOME}`);
  const uBig = await unreadable.fs.lookup(uLatest.ino, "big.bin");
  const uDocs = await unreadable.fs.lookup(uLatest.ino, "docs");
  for (const [key] of unreadable.reader.contents) unreadable.reader.failing.add(key);
  for (const [key] of unreadable.reader.dirs) unreadable.reader.failing.add(key);
  await assertErrno(unreadable.fs.open(uBig.ino), Errno.EIO);
  await assertErrno(unreadable.fs.readdir(uDocs.ino), Errno.EIO);
  assert.deepEqual(
    unreadable.logger.lines.map((l) => l.fields.op),
    ["read file contents", "list directory"],
  );
});

Deno.test("SnapshotFs lists snapshots again when its list is older than a second", async () => {
  const { fs, reader, clock, logger } = fixture();
  assert.equal((await resolve(fs, `latest/${HOME}/version.txt`)).size, 3);
  assert.equal(reader.calls.get("listSnapshots"), 1);
  const newer = reader.addSnapshot({
    ref: reader.addTree({ type: "dir", name: "ann", children: [] }),
    host: "laptop",
    path: "/home/ann",
    timeUs: us(2024, 7, 1),
  });
  reader.addSnapshot({ ref: newer.ref, host: "new", path: "/", timeUs: us(2024, 7, 2) });
  clock.now = 999;
  assert.deepEqual(await names(fs, LATEST_INODE), [
    "laptop:home:ann",
    "nas:etc:hosts",
    "nas:srv:a%3Ab",
  ]);
  assert.equal(reader.calls.get("listSnapshots"), 1);
  clock.now = 1001;
  assert.deepEqual(await names(fs, LATEST_INODE), [
    "laptop:home:ann",
    "nas:etc:hosts",
    "nas:srv:a%3Ab",
    "new:",
  ]);
  assert.equal(reader.calls.get("listSnapshots"), 2);
  assert.deepEqual(await names(fs, (await resolve(fs, `latest/${HOME}`)).ino), []);
  assert.equal((await fs.getattr(ROOT_INODE)).mtimeMs, Date.UTC(2024, 6, 2));
  // A failed list keeps the last one, logged.
  reader.failing.add("ddb:snapshots");
  clock.now = 5000;
  assert.equal((await names(fs, LATEST_INODE)).length, 4);
  assert.equal(logger.lines.at(-1)?.event, "mount.stale_snapshot_list");
  // ...but without any list there is nothing to show.
  const cold = fixture();
  cold.reader.failing.add("ddb:snapshots");
  await assertErrno(cold.fs.readdir(ROOT_INODE), Errno.EIO);
  await assertErrno(cold.fs.lookup(ROOT_INODE, "latest"), Errno.EIO);
});

Deno.test("SnapshotFs reports statfs: repository bytes, no free space, known inodes", async () => {
  const { fs } = fixture();
  await resolve(fs, `latest/${HOME}/docs/note.txt`);
  const stat = await fs.statfs();
  assert.deepEqual(stat, {
    blocks: Math.ceil((4 * 5000 + 100) / 4096),
    bfree: 0,
    bavail: 0,
    files: fs.inodeCount,
    ffree: 0,
    blockSize: 4096,
    nameMax: 255,
  });
  assert.equal(fs.inodeCount, 4 + 3);
});

Deno.test("SnapshotFs stays within its inode bound while a 50,000-file directory is browsed", async () => {
  const reader = new MemoryReader();
  const children: TreeSpec[] = Array.from({ length: 50_000 }, (_, i) => ({
    type: "file",
    name: `file-${i}`,
    chunks: [],
  }));
  reader.addSnapshot({
    ref: reader.addTree({ type: "dir", name: "big", children }),
    host: "h",
    path: "/big",
  });
  const fs = new SnapshotFs(reader, { logger: new TestLogger(), maxIdleInodes: 1000 });
  const dir = await resolve(fs, "latest/h:big");
  const entries = await fs.readdir(dir.ino);
  assert.equal(entries.length, 50_000);
  assert.ok(fs.inodeCount <= 1000 + 6, `${fs.inodeCount} inodes`);
  // `ls -l`: a lookup of each entry, which the kernel forgets later.
  const attrs: Attr[] = [];
  for (const entry of entries) attrs.push(await fs.lookup(dir.ino, entry.name));
  assert.deepEqual(attrs.map((a) => a.ino), entries.map((e) => e.attr.ino));
  assert.equal(reader.calls.get("readDir"), 1, "the listing is read once");
  assert.ok(fs.inodeCount >= 50_000);
  for (const attr of attrs) fs.forget(attr.ino, 1);
  assert.ok(fs.inodeCount <= 1000 + 6, `${fs.inodeCount} inodes after forget`);
});
