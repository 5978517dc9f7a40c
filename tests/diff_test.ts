/**
 * End-to-end tests of `ddb diff` against a real `ddb serve`, comparing
 * snapshots made by the real `ddb backup` of a tree before and after edits.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer } from "./_server.ts";
import { isolatedEnv } from "./_client_env.ts";

async function backup(env: Record<string, string>, path: string): Promise<string> {
  const run = await runDdb(["backup", "--json", "--host", "testhost", path], env);
  assert.equal(run.code, 0, run.stderr);
  const summary = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    .find((o) => o.type === "summary");
  return summary.snapshot;
}

Deno.test("diff: added, removed, modified and retyped paths between two backups", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-diff-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  try {
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      ...isolatedEnv(dir),
    };
    const src = join(dir, "src");
    await Deno.mkdir(join(src, "gone", "sub"), { recursive: true });
    await Deno.mkdir(join(src, "untouched"));
    for (let i = 0; i < 20; i++) await Deno.writeTextFile(join(src, "untouched", `f${i}`), `${i}`);
    await Deno.writeTextFile(join(src, "keep.txt"), "same");
    await Deno.writeTextFile(join(src, "mod.txt"), "v1");
    await Deno.writeTextFile(join(src, "gone", "x.txt"), "x");
    await Deno.writeTextFile(join(src, "gone", "sub", "y.txt"), "y");
    await Deno.writeTextFile(join(src, "chmod.txt"), "c");
    await Deno.chmod(join(src, "chmod.txt"), 0o644);
    await Deno.writeTextFile(join(src, "was-file"), "f");
    await Deno.symlink("keep.txt", join(src, "link"));
    const first = await backup(env, src);

    await Deno.writeTextFile(join(src, "mod.txt"), "v2 is longer");
    await Deno.remove(join(src, "gone"), { recursive: true });
    await Deno.mkdir(join(src, "new", "dir"), { recursive: true });
    await Deno.writeTextFile(join(src, "new", "dir", "n.txt"), "n");
    await Deno.chmod(join(src, "chmod.txt"), 0o600);
    await Deno.remove(join(src, "link"));
    await Deno.symlink("mod.txt", join(src, "link"));
    await Deno.remove(join(src, "was-file"));
    await Deno.mkdir(join(src, "was-file"));
    await Deno.writeTextFile(join(src, "was-file", "inner.txt"), "inner");
    const second = await backup(env, src);

    const text = await runDdb(["diff", first.slice(0, 8), second], env);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split("\n");
    assert.equal(lines[0], `comparing ${first.slice(0, 8)}:/ to ${second.slice(0, 8)}:/`);
    assert.deepEqual(lines.slice(1, 12), [
      "-  /gone/",
      "-  /gone/sub/",
      "-  /gone/sub/y.txt",
      "-  /gone/x.txt",
      "M  /link",
      "M  /mod.txt",
      "+  /new/",
      "+  /new/dir/",
      "+  /new/dir/n.txt",
      "T  /was-file/",
      "+  /was-file/inner.txt",
    ]);
    assert.match(text.stdout, /Files: {3}2 added, 2 removed, 1 modified/);
    assert.match(text.stdout, /Dirs: {4}2 added, 2 removed/);
    assert.match(text.stdout, /Others: {2}0 added, 0 removed, 1 modified/);
    assert.match(text.stdout, /Type changed: 1/);

    const meta = await runDdb(["diff", "--metadata", first, "latest"], env);
    assert.equal(meta.code, 0, meta.stderr);
    assert.ok(meta.stdout.includes("\nU  /chmod.txt\n"), meta.stdout);
    assert.ok(meta.stdout.includes("\nU  /\n"), "the root's mtime changed");

    const json = await runDdb(["diff", "--json", first, second], env);
    assert.equal(json.code, 0, json.stderr);
    const objects = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const mod = objects.find((o) => o.path === "/mod.txt");
    assert.deepEqual(mod, {
      type: "change",
      change: "M",
      kind: "modified",
      path: "/mod.txt",
      nodeType: "file",
      sizeBefore: 2,
      sizeAfter: 12,
    });
    const summary = objects.at(-1);
    assert.equal(summary.type, "summary");
    assert.deepEqual(summary.added, { files: 2, dirs: 2, others: 0 });

    const same = await runDdb(["diff", `${first}:/untouched`, `${second}:/untouched`], env);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^comparing .*\n\nFiles: {3}0 added, 0 removed, 0 modified/);

    const missing = await runDdb(["diff", `${first}:/new`, second], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot find \/new/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
