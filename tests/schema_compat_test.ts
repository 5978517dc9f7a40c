/**
 * End-to-end: a repository written before schema version 3, where every
 * file, even a one-chunk one, has a content list `c:<K>`, stays readable:
 * restore, check and gc treat it as before, next to version 3 snapshots
 * whose one-chunk files name their blob (`b:<id>`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer } from "./_server.ts";
import { isolatedEnv } from "./_client_env.ts";
import { Repository } from "../client/repo/repository.ts";
import { commitTree, writeTree } from "../client/snapshot/_testing/write_tree.ts";

const encoder = new TextEncoder();

Deno.test("schema 2 one-chunk content lists are restored, checked and kept by gc beside schema 3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-schema-compat-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  try {
    const env = { DDB_SERVER: `127.0.0.1:${server.port}`, ...isolatedEnv(dir) };
    // A snapshot as schema 2 wrote it: writeTree gives every file a content list.
    const data = encoder.encode("written by a version 2 client\n");
    const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 1);
    let oldSnapshot: string;
    try {
      const root = await writeTree(repo, {
        type: "dir",
        name: "old",
        children: [{ type: "file", name: "old.txt", chunks: [data] }],
      });
      oldSnapshot = await commitTree(repo, root, {
        path: "/old",
        files: 1,
        dirs: 1,
        bytes: data.length,
      });
    } finally {
      await repo.close();
    }
    // A version 3 backup of the same content: its file names the blob.
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await Deno.writeFile(join(src, "new.txt"), data);
    const backup = await runDdb(["backup", "-q", src], env);
    assert.equal(backup.code, 0, backup.stderr);
    const ls = await runDdb(["ls", "latest"], env);
    assert.equal(ls.code, 0, ls.stderr);

    const gc = await runDdb(["gc", "--grace", "0"], env);
    assert.equal(gc.code, 0, gc.stderr);
    const check = await runDdb(["check", "--read-data"], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const restoreOld = await runDdb(["restore", oldSnapshot.slice(2, 10), join(dir, "r-old")], env);
    assert.equal(restoreOld.code, 0, restoreOld.stderr);
    assert.deepEqual(await Deno.readFile(join(dir, "r-old", "old.txt")), data);
    const restoreNew = await runDdb(["restore", "latest", join(dir, "r-new")], env);
    assert.equal(restoreNew.code, 0, restoreNew.stderr);
    assert.deepEqual(await Deno.readFile(join(dir, "r-new", "new.txt")), data);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
