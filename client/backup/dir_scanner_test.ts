import assert from "node:assert/strict";
import { join } from "node:path";
import { DirScanError, DirScanner } from "./dir_scanner.ts";
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
