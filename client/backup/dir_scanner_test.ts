import assert from "node:assert/strict";
import { join } from "node:path";
import { DirScanError, DirScanner, READ_ALONG_MAX_FILE } from "./dir_scanner.ts";
import { DenoSourceFs } from "./source_fs.ts";

Deno.test("DirScanner lists a directory sorted, each entry with its lstat", async () => {
  const dir = await Deno.makeTempDir();
  const scanner = new DirScanner(2);
  try {
    await Deno.writeTextFile(join(dir, "b.txt"), "hello");
    await Deno.mkdir(join(dir, "a dir"));
    await Deno.symlink("b.txt", join(dir, "c-link"));
    const entries = await scanner.scan(dir);
    assert.deepEqual(entries.map((e) => e.name), ["a dir", "b.txt", "c-link"]);
    assert.deepEqual(entries.map((e) => e.stat?.type), ["dir", "file", "symlink"]);
    assert.equal(entries[1].stat?.size, 5);
    const direct = await new DenoSourceFs().lstat(join(dir, "b.txt"));
    assert.deepEqual(entries[1].stat, direct);
    // Many at once spread over the workers and all come back.
    const many = await Promise.all(Array.from({ length: 20 }, () => scanner.scan(dir)));
    assert.ok(many.every((m) => m.length === 3));
  } finally {
    scanner.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DirScanner rejects a directory it cannot list, and scans after close", async () => {
  const scanner = new DirScanner(1);
  try {
    await assert.rejects(
      scanner.scan("/nonexistent/ddb-scan-test"),
      (e) => e instanceof DirScanError && /Cannot read directory "\/nonexistent/.test(e.message),
    );
  } finally {
    scanner.close();
  }
  await assert.rejects(scanner.scan("/"), /closed/);
  assert.throws(() => new DirScanner(0), RangeError);
});

Deno.test("DirScanner reads small files along only when asked, within its byte budget", async () => {
  const dir = await Deno.makeTempDir();
  const scanner = new DirScanner(1);
  try {
    const bytes = (n: number, seed: number) =>
      Uint8Array.from({ length: n }, (_, i) => (i * seed) & 255);
    const files: [string, Uint8Array][] = [
      ["a", bytes(1000, 7)],
      ["b-empty", new Uint8Array(0)],
      ["c", bytes(3000, 11)],
      ["d-big", bytes(READ_ALONG_MAX_FILE + 1, 13)],
      ["e", bytes(5000, 17)],
    ];
    for (const [name, data] of files) await Deno.writeFile(join(dir, name), data);
    await Deno.symlink("a", join(dir, "f-link"));

    const plain = await scanner.scan(dir);
    assert.ok(plain.every((e) => e.content === undefined), "no contents unless asked");

    // 1000 + 3000 fit in 4500 bytes; "e" (5000) would not; "d-big" is never read along.
    const along = await scanner.scan(dir, { readUpTo: 4500 });
    const byName = new Map(along.map((e) => [e.name, e]));
    assert.deepEqual(byName.get("a")?.content, files[0][1]);
    assert.deepEqual(byName.get("c")?.content, files[2][1]);
    for (const name of ["b-empty", "d-big", "e", "f-link"]) {
      assert.equal(byName.get(name)?.content, undefined, name);
      assert.ok(byName.get(name)?.stat !== undefined, name);
    }

    const all = await scanner.scan(dir, { readUpTo: 1 << 30 });
    assert.deepEqual(all.find((e) => e.name === "e")?.content, files[4][1]);
    assert.equal(all.find((e) => e.name === "d-big")?.content, undefined);
    await assert.rejects(scanner.scan(dir, { readUpTo: -1 }), RangeError);
  } finally {
    scanner.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DenoSourceFs offers scanDir only with scan workers", async () => {
  assert.equal(new DenoSourceFs().scanDir, undefined);
  const fs = new DenoSourceFs({ scanWorkers: 1 });
  try {
    const entries = await fs.scanDir!(Deno.cwd());
    assert.ok(entries.length > 0);
  } finally {
    fs.close();
  }
});
