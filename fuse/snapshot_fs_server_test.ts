import assert from "node:assert/strict";
import { join } from "node:path";
import { backup } from "../client/backup/backup.ts";
import { denoSourceFs } from "../client/backup/source_fs.ts";
import { Repository } from "../client/repo/repository.ts";
import { resolvePath } from "../client/snapshot/walk.ts";
import { startServer } from "../tests/_server.ts";
import { type Attr, ROOT_INODE } from "./file_system.ts";
import { type LogFields, SnapshotFs } from "./snapshot_fs.ts";
import { groupName } from "./tree.ts";

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

async function resolve(fs: SnapshotFs, path: string[]): Promise<Attr> {
  let attr = await fs.getattr(ROOT_INODE);
  for (const part of path) attr = await fs.lookup(attr.ino, part);
  return attr;
}

Deno.test("SnapshotFs reads files backed up to a real server by the backup engine", async () => {
  const server = await startServer();
  const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port });
  const source = await Deno.makeTempDir({ prefix: "ddb-mount-source-" });
  const warnings: { event: string; fields?: LogFields }[] = [];
  try {
    const big = randomBytes(3 * 1024 * 1024 + 12345);
    await Deno.writeFile(join(source, "big.bin"), big);
    await Deno.mkdir(join(source, "sub"));
    await Deno.writeTextFile(join(source, "sub", "small.txt"), "hello\n");
    const run = () =>
      backup({
        path: source,
        host: "testhost",
        tags: [],
        chunkParams: { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 },
      }, { fs: denoSourceFs, repo, now: () => new Date() });
    const first = await run();

    let now = 0;
    const fs = new SnapshotFs(repo, {
      logger: { debug() {}, warn: (event, fields) => warnings.push({ event, fields }) },
      clock: () => now,
      cacheBytes: 1024 * 1024,
    });
    const name = groupName("testhost", source);
    const file = await resolve(fs, ["latest", name, "big.bin"]);
    assert.equal(file.size, big.length);
    const node = await resolvePath(repo, first.snapshot.ref, ["big.bin"]);
    const chunks = await repo.readContent(node.meta.ref!, node.meta.size);
    assert.ok(chunks.length > 10, `${chunks.length} chunks`);

    // A sequential copy in the kernel's 128 KiB pieces.
    const handle = await fs.open(file.ino);
    const copy = new Uint8Array(big.length);
    for (let offset = 0; offset < big.length; offset += 131072) {
      const data = await fs.read(file.ino, handle, offset, 131072);
      copy.set(data, offset);
    }
    assert.deepEqual(copy, big);
    assert.ok(fs.cacheStats.bytes <= 1024 * 1024);
    // Reads across each chunk boundary.
    for (const chunk of chunks.slice(0, -1)) {
      const data = await fs.read(file.ino, handle, chunk.end - 100, 200);
      assert.deepEqual(data, big.subarray(chunk.end - 100, chunk.end + 100));
    }
    await fs.release(file.ino, handle);

    const small = await resolve(fs, ["snapshots", name]);
    const times = (await fs.readdir(small.ino)).map((e) => e.name);
    assert.equal(times.length, 1);
    const text = await resolve(fs, ["at", name, times[0].slice(0, 4), "sub", "small.txt"]);
    const h = await fs.open(text.ino);
    assert.equal(new TextDecoder().decode(await fs.read(text.ino, h, 0, 4096)), "hello\n");
    await fs.release(text.ino, h);

    // A new backup shows up without remounting, once the list is a second old.
    await Deno.writeTextFile(join(source, "sub", "small.txt"), "changed\n");
    await run();
    now = 2000;
    assert.equal((await fs.readdir(small.ino)).length, 2);
    const changed = await resolve(fs, ["latest", name, "sub", "small.txt"]);
    assert.notEqual(changed.ino, text.ino);
    assert.equal(changed.size, 8);
    assert.deepEqual(warnings, []);
  } finally {
    await repo.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
    await Deno.remove(source, { recursive: true });
  }
});
