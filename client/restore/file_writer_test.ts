import assert from "node:assert/strict";
import { join } from "node:path";
import { FileWriteError, FileWriter } from "./file_writer.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-file-writer-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

Deno.test("FileWriter writes files with their mode and times, then renames them", async () => {
  await withDir(async (dir) => {
    const writer = new FileWriter();
    try {
      const umask = Deno.umask();
      const mtime = Date.UTC(2021, 5, 7, 8, 9, 10, 123);
      await Promise.all([
        writer.write({
          tmp: join(dir, ".a.tmp"),
          path: join(dir, "a"),
          data: bytes(1000, 1),
          mode: 0o640 & ~umask,
          mtimeMs: mtime,
        }),
        writer.write({
          tmp: join(dir, ".b.tmp"),
          path: join(dir, "b"),
          data: new Uint8Array(0),
          mode: 0o600,
        }),
      ]);
      assert.deepEqual(await Deno.readFile(join(dir, "a")), bytes(1000, 1));
      const a = await Deno.lstat(join(dir, "a"));
      assert.equal(a.mode! & 0o777, 0o640 & ~umask);
      assert.equal(a.mtime!.getTime(), mtime);
      assert.equal((await Deno.lstat(join(dir, "b"))).size, 0);
      assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
        "a",
        "b",
      ]);
    } finally {
      writer.close();
    }
  });
});

Deno.test("FileWriter sends many files in several batches, and a file larger than a batch", async () => {
  await withDir(async (dir) => {
    const writer = new FileWriter();
    try {
      const sizes = [...Array.from({ length: 40 }, (_, i) => 300_000 + i), 9 * 1024 * 1024, 5];
      await Promise.all(sizes.map((size, i) =>
        writer.write({
          tmp: join(dir, `.t${i}`),
          path: join(dir, `f${i}`),
          data: bytes(size, i),
          mode: 0o600,
        })
      ));
      for (let i = 0; i < sizes.length; i++) {
        assert.deepEqual(await Deno.readFile(join(dir, `f${i}`)), bytes(sizes[i], i), `f${i}`);
      }
    } finally {
      writer.close();
    }
  });
});

Deno.test("FileWriter never reuses an existing temporary name and leaves it alone", async () => {
  await withDir(async (dir) => {
    const writer = new FileWriter();
    try {
      await Deno.writeTextFile(join(dir, ".taken"), "someone else's");
      await assert.rejects(
        writer.write({
          tmp: join(dir, ".taken"),
          path: join(dir, "f"),
          data: bytes(10, 0),
          mode: 0o600,
        }),
        (error: Error) => error instanceof FileWriteError && /exists/i.test(error.message),
      );
      assert.equal(await Deno.readTextFile(join(dir, ".taken")), "someone else's");
      await assert.rejects(() => Deno.lstat(join(dir, "f")), Deno.errors.NotFound);
      // A failed rename removes the temporary file it made.
      await assert.rejects(
        writer.write({
          tmp: join(dir, ".t"),
          path: join(dir, "missing", "f"),
          data: bytes(10, 0),
          mode: 0o600,
        }),
        FileWriteError,
      );
      assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [".taken"]);
    } finally {
      writer.close();
    }
  });
});

Deno.test("FileWriter sets attributes after the files handed over before", async () => {
  await withDir(async (dir) => {
    const writer = new FileWriter();
    try {
      const sub = join(dir, "sub");
      await Deno.mkdir(sub, { mode: 0o700 });
      const mtime = Date.UTC(2020, 0, 2, 3, 4, 5, 600);
      const written = writer.write({
        tmp: join(sub, ".t"),
        path: join(sub, "f"),
        data: bytes(10, 0),
        mode: 0o600,
      });
      // Read-only afterwards: the file must have been written before.
      const attributes = writer.setAttributes({ path: sub, mode: 0o555, mtimeMs: mtime });
      await Promise.all([written, attributes]);
      const info = await Deno.lstat(sub);
      assert.equal(info.mode! & 0o7777, 0o555);
      assert.equal(info.mtime!.getTime(), mtime);
      assert.deepEqual(await Deno.readFile(join(sub, "f")), bytes(10, 0));
      await Deno.chmod(sub, 0o700);
    } finally {
      writer.close();
    }
  });
});

Deno.test("FileWriter rejects writes after close", async () => {
  const writer = new FileWriter();
  writer.close();
  await assert.rejects(
    writer.write({
      tmp: "/nonexistent/.t",
      path: "/nonexistent/f",
      data: bytes(1, 0),
      mode: 0o600,
    }),
    FileWriteError,
  );
});

Deno.test("FileWriter spreads batches over its workers; each file is written whole", async () => {
  assert.throws(() => new FileWriter(0), RangeError);
  await withDir(async (dir) => {
    const writer = new FileWriter(3);
    try {
      // Handed over in several turns, so that batches go to every worker.
      const writes: Promise<void>[] = [];
      for (let turn = 0; turn < 10; turn++) {
        for (let i = 0; i < 30; i++) {
          const n = turn * 30 + i;
          writes.push(writer.write({
            tmp: join(dir, `.${n}.tmp`),
            path: join(dir, `f${n}`),
            data: bytes(1000 + n, n),
            mode: 0o600,
          }));
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await Promise.all(writes);
      const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
      assert.equal(names.length, 300);
      for (let n = 0; n < 300; n++) {
        assert.deepEqual(await Deno.readFile(join(dir, `f${n}`)), bytes(1000 + n, n));
      }
    } finally {
      writer.close();
    }
  });
});
