import assert from "node:assert/strict";
import { join } from "node:path";
import { DiskUsageError, duBytes } from "./du_bytes.ts";

Deno.test("duBytes() counts the bytes of every file in a tree", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-du-bytes-test-" });
  try {
    const empty = await duBytes(dir);
    await Deno.mkdir(join(dir, "sub"));
    await Deno.writeFile(join(dir, "a"), new Uint8Array(1000));
    await Deno.writeFile(join(dir, "sub", "b"), new Uint8Array(5000));
    const grown = await duBytes(dir) - empty;
    // The files plus the new directory's own entry size (4096 on ext4, less elsewhere).
    assert.ok(grown >= 6000 && grown <= 6000 + 64 * 1024, `grew by ${grown}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("duBytes() rejects a missing path with DiskUsageError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-du-bytes-test-" });
  try {
    await assert.rejects(duBytes(join(dir, "missing")), (error: unknown) => {
      assert.ok(error instanceof DiskUsageError);
      assert.match(error.message, /^Cannot measure ".*missing": /);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
