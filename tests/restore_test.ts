/**
 * End-to-end round trip through the CLI against a real `ddb serve`:
 * backup → snapshots → ls → restore, compared byte for byte with the source,
 * with modes, times and symlinks; plus the refusal to overwrite.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer } from "./_server.ts";
import { seededBytes } from "./_seeded_bytes.ts";
import { isolatedEnv } from "./_client_env.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Entries: relative path → kind. Sizes around the chunker's 512 KiB min and 8 MiB max. */
async function makeTree(root: string): Promise<void> {
  const files: [string, number][] = [
    ["empty", 0],
    ["one-byte", 1],
    ["exactly-min-512K", 512 * KiB],
    ["min-plus-one", 512 * KiB + 1],
    ["exactly-max-8M", 8 * MiB],
    ["max-plus-one", 8 * MiB + 1],
    ["dir/larger-than-max-20M", 20 * MiB + 123],
    ["dir/sub/deep/small.txt", 100],
    ["name with spaces", 10],
    ["unicode-日本語-ü", 10],
    ["new\nline", 10],
  ];
  await Deno.mkdir(join(root, "dir", "sub", "deep"), { recursive: true });
  await Deno.mkdir(join(root, "empty-dir"));
  let seed = 1;
  for (const [path, size] of files) {
    await Deno.writeFile(join(root, path), seededBytes(size, seed++));
  }
  await Deno.symlink("dir/sub/deep/small.txt", join(root, "relative-link"));
  await Deno.symlink("/nonexistent/target", join(root, "dangling-link"));
  await Deno.chmod(join(root, "one-byte"), 0o600);
  await Deno.chmod(join(root, "dir", "sub"), 0o750);
  await Deno.chmod(join(root, "name with spaces"), 0o4755);
  await Deno.utime(
    join(root, "one-byte"),
    new Date("2001-02-03T04:05:06.789Z"),
    new Date("2001-02-03T04:05:06.789Z"),
  );
  await Deno.utime(
    join(root, "dir", "sub"),
    new Date("2010-01-01T00:00:00Z"),
    new Date("2010-01-01T00:00:00Z"),
  );
}

async function compareTrees(a: string, b: string): Promise<void> {
  const diff = await new Deno.Command("diff", { args: ["-r", "--no-dereference", a, b] }).output();
  assert.equal(diff.code, 0, new TextDecoder().decode(diff.stdout));
  const walk = async (dir: string, rel: string): Promise<void> => {
    for await (const entry of Deno.readDir(join(dir, rel))) {
      const path = join(rel, entry.name);
      const sa = await Deno.lstat(join(a, path));
      const sb = await Deno.lstat(join(b, path));
      assert.equal(sb.mode, sa.mode, `mode of ${path}`);
      if (!sa.isSymlink) assert.equal(sb.mtime?.getTime(), sa.mtime?.getTime(), `mtime of ${path}`);
      if (sa.isSymlink) {
        assert.equal(await Deno.readLink(join(b, path)), await Deno.readLink(join(a, path)));
      }
      if (sa.isDirectory) await walk(dir, path);
    }
  };
  await walk(a, "");
}

Deno.test("round trip: backup, ls and restore reproduce the tree byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-restore-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  const env = {
    DDB_SERVER: `127.0.0.1:${server.port}`,
    ...isolatedEnv(dir),
  };
  try {
    const src = join(dir, "src");
    await makeTree(src);
    const backup = await runDdb(["backup", "--tag", "t1", src], env);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /13 files|11 files/);

    const snapshots = await runDdb(["snapshots"], env);
    assert.equal(snapshots.code, 0, snapshots.stderr);
    assert.match(snapshots.stdout, new RegExp(src.replaceAll("/", "\\/")));

    const ls = await runDdb(["ls", "latest"], env);
    assert.equal(ls.code, 0, ls.stderr);
    for (const name of ["dir/", "empty-dir/", "exactly-max-8M", "relative-link", "new\\nline"]) {
      assert.ok(ls.stdout.split("\n").includes(name), `ls shows ${name}:\n${ls.stdout}`);
    }
    const deep = await runDdb(["ls", "-l", `${src}:dir/sub/deep`], env);
    assert.equal(deep.code, 0, deep.stderr);
    assert.match(deep.stdout, /^-rw-r--r-- .* 100 .* small\.txt$/m);

    const target = join(dir, "restored");
    const restored = await runDdb(["restore", "--verify", "latest", target], env);
    assert.equal(restored.code, 0, restored.stderr);
    await compareTrees(src, target);

    // A path inside the snapshot.
    const part = join(dir, "part");
    const sub = await runDdb(["restore", "latest:dir/sub", part], env);
    assert.equal(sub.code, 0, sub.stderr);
    assert.deepEqual(
      await Deno.readFile(join(part, "deep", "small.txt")),
      await Deno.readFile(join(src, "dir", "sub", "deep", "small.txt")),
    );

    // Existing files are not overwritten without --overwrite.
    await Deno.writeTextFile(join(target, "one-byte"), "mine");
    const again = await runDdb(["restore", "latest", target], env);
    assert.equal(again.code, 3, again.stderr);
    assert.equal(await Deno.readTextFile(join(target, "one-byte")), "mine");
    const forced = await runDdb(["restore", "--overwrite", "latest", target], env);
    assert.equal(forced.code, 0, forced.stderr);
    await compareTrees(src, target);

    // Bad specs are usage errors.
    assert.equal((await runDdb(["restore", "ffffffff", join(dir, "x")], env)).code, 2);
    assert.equal((await runDdb(["ls", "latest:../etc"], env)).code, 2);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
