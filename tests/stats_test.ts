/**
 * End-to-end tests of `ddb stats` against a real `ddb serve` holding
 * snapshots made by the real `ddb backup`: logical and stored sizes, the
 * dedup ratio, and the database totals.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer } from "./_server.ts";
import { seededBytes } from "./_seeded_bytes.ts";
import { isolatedEnv } from "./_client_env.ts";

Deno.test("stats: logical size counts every snapshot, stored size each blob once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-stats-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  try {
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      ...isolatedEnv(dir),
    };
    const src = join(dir, "src");
    await Deno.mkdir(join(src, "sub"), { recursive: true });
    const big = 3 * 1024 * 1024;
    await Deno.writeFile(join(src, "big.bin"), seededBytes(big, 1));
    await Deno.writeFile(join(src, "same-1.bin"), seededBytes(200_000, 2));
    await Deno.writeFile(join(src, "sub", "same-2.bin"), seededBytes(200_000, 2));
    await Deno.writeTextFile(join(src, "small.txt"), "hello\n");
    await Deno.writeFile(join(src, "empty"), new Uint8Array());
    for (let i = 0; i < 2; i++) {
      const run = await runDdb(["backup", "--host", "testhost", src], env);
      assert.equal(run.code, 0, run.stderr);
    }
    const logicalOne = big + 400_000 + 6;
    const stored = big + 200_000 + 6;

    const all = await runDdb(["stats", "--json"], env);
    assert.equal(all.code, 0, all.stderr);
    const stats = JSON.parse(all.stdout);
    assert.equal(stats.snapshots, 2);
    assert.equal(stats.files, 10);
    assert.equal(stats.dirs, 4);
    assert.equal(stats.logicalBytes, 2 * logicalOne);
    assert.equal(stats.contents, 3, "big, same-*, small (the empty file has no content list)");
    assert.equal(stats.storedBytes, stored);
    assert.ok(stats.blobs >= 3, `${stats.blobs} blobs`);
    assert.equal(stats.dedupRatio, (2 * logicalOne) / stored);
    assert.deepEqual(stats.database, { count: stats.blobs, bytes: stored });
    assert.equal(stats.errors, 0);

    const one = await runDdb(["stats", "latest"], env);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^Snapshots: +1$/m);
    assert.match(one.stdout, /^Stored size: +3\.2 MiB$/m);
    assert.match(
      one.stdout,
      new RegExp(`^Dedup ratio: +${(logicalOne / stored).toFixed(2)}x$`, "m"),
    );

    const bad = await runDdb(["stats", "nope"], env);
    assert.equal(bad.code, 2, bad.stderr);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
