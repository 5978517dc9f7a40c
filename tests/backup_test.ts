/**
 * End-to-end tests of `ddb backup` and `ddb snapshots` against a real
 * `ddb serve` subprocess: dedup, the unchanged re-run, shift resistance,
 * a client killed mid-backup, exit codes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, spawnDdb, startServer, type TestServer } from "./_server.ts";
import { RespClient } from "../client/remote/resp_client.ts";
import { isolatedEnv } from "./_client_env.ts";

interface Summary {
  type: "summary";
  snapshot: string | null;
  files: number;
  dirs: number;
  bytes: number;
  bytesRead: number;
  filesUnchanged: number;
  newChunks: number;
  newBytes: number;
  errors: number;
}

async function withServer(fn: (server: TestServer, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-backup-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  try {
    await fn(server, dir);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function clientEnv(server: TestServer, dir: string): Record<string, string> {
  return {
    DDB_SERVER: `127.0.0.1:${server.port}`,
    ...isolatedEnv(dir),
  };
}

async function backupJson(
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number; summary: Summary; stderr: string }> {
  const result = await runDdb(["backup", "--json", ...args], env);
  const lines = result.stdout.trim().split("\n").filter((l) => l.startsWith("{"));
  const summary = lines.map((l) => JSON.parse(l)).find((o) => o.type === "summary");
  assert.ok(summary, `no summary in output: ${result.stdout}\n${result.stderr}`);
  return { code: result.code, summary, stderr: result.stderr };
}

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = i & 0xff;
  return out;
}

async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(join(root, "a", "b"), { recursive: true });
  await Deno.mkdir(join(root, "empty dir"));
  await Deno.writeFile(join(root, "empty"), new Uint8Array());
  await Deno.writeFile(join(root, "a", "small.txt"), new TextEncoder().encode("hello\n"));
  await Deno.writeFile(join(root, "a", "b", "big.bin"), randomBytes(3 * 1024 * 1024 + 17, 1));
  await Deno.writeFile(join(root, "same-1.bin"), randomBytes(200_000, 2));
  await Deno.writeFile(join(root, "same-2.bin"), randomBytes(200_000, 2));
  await Deno.writeTextFile(join(root, "odd name\nwith newline ünï"), "odd");
  await Deno.symlink("a/small.txt", join(root, "link"));
}

Deno.test("backup: a second run of an unchanged tree reads and uploads nothing", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await makeTree(src);
    const first = await backupJson(env, [src]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.summary.files, 6);
    assert.equal(first.summary.errors, 0);
    assert.ok(first.summary.newChunks >= 4, "big.bin, small.txt, same-*.bin (once), odd");
    assert.equal(first.summary.newBytes, 3 * 1024 * 1024 + 17 + 6 + 200_000 + 3);

    const second = await backupJson(env, [src]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.summary.newChunks, 0);
    assert.equal(second.summary.newBytes, 0);
    assert.equal(second.summary.bytesRead, 0, "unchanged files are not read");
    assert.equal(second.summary.filesUnchanged, 6);
    assert.notEqual(second.summary.snapshot, first.summary.snapshot);

    const list = await runDdb(["snapshots", "--json", src], env);
    assert.equal(list.code, 0, list.stderr);
    const snapshots = JSON.parse(list.stdout);
    assert.equal(snapshots.length, 2);
    assert.deepEqual(
      snapshots.map((s: { id: string }) => s.id),
      [first.summary.snapshot, second.summary.snapshot],
    );
    assert.equal(snapshots[0].path, src);
    assert.equal(snapshots[0].files, 6);

    // Without the cache, the contents are read again but nothing is uploaded.
    await Deno.remove(join(dir, "cache"), { recursive: true });
    const third = await backupJson(env, [src]);
    assert.equal(third.summary.newChunks, 0);
    assert.ok(third.summary.bytesRead > 3_000_000);
  });
});

Deno.test("backup: a changed file uploads only its new chunks; --dry-run records nothing", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await makeTree(src);
    assert.equal((await backupJson(env, [src])).code, 0);
    await Deno.writeTextFile(join(src, "a", "small.txt"), "changed\n");
    const dry = await backupJson(env, ["--dry-run", src]);
    assert.equal(dry.summary.snapshot, null);
    assert.equal(dry.summary.newChunks, 1);
    const after = await backupJson(env, [src]);
    assert.equal(after.summary.newChunks, 1);
    assert.equal(after.summary.newBytes, 8);
    assert.equal(after.summary.filesUnchanged, 5);
    const snapshots = JSON.parse((await runDdb(["snapshots", "--json"], env)).stdout);
    assert.equal(snapshots.length, 2, "the dry run made no snapshot");
  });
});

Deno.test("backup: --exclude leaves paths out", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await makeTree(src);
    // Small enough to be read along with its directory's scan, were it not excluded.
    await Deno.writeFile(join(src, "a", "secret.key"), randomBytes(1000, 3));
    const result = await backupJson(env, [
      ...["--exclude", "*.bin", "--exclude", "*.key", "--exclude", "empty dir/", src],
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.summary.files, 3, "empty, small.txt, odd name");
    assert.equal(result.summary.bytesRead, 6 + 3, "only the included files are read");
  });
});

Deno.test("backup: inserting bytes at the start of a 300 MiB file uploads a few chunks", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await Deno.mkdir(src);
    const size = 300 * 1024 * 1024;
    const data = randomBytes(size, 42);
    await Deno.writeFile(join(src, "huge.bin"), data);
    const first = await backupJson(env, [src]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.summary.newBytes, size);
    const shifted = new Uint8Array(size + 7);
    shifted.set([1, 2, 3, 4, 5, 6, 7]);
    shifted.set(data, 7);
    await Deno.writeFile(join(src, "huge.bin"), shifted);
    const second = await backupJson(env, [src]);
    assert.equal(second.code, 0, second.stderr);
    assert.ok(second.summary.newChunks <= 3, `${second.summary.newChunks} new chunks`);
    assert.ok(second.summary.newBytes < 20 * 1024 * 1024, `${second.summary.newBytes} new bytes`);
  });
});

Deno.test("backup: a client killed mid-backup leaves no snapshot; the rerun completes", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await Deno.mkdir(src);
    for (let i = 0; i < 40; i++) {
      await Deno.writeFile(join(src, `f${i}.bin`), randomBytes(3 * 1024 * 1024, 100 + i));
    }
    const total = 40 * 3 * 1024 * 1024;
    const child = spawnDdb(["backup", "--json", src], env);
    // Kill as soon as some chunks are on the server (watched over RESP).
    const watcher = await RespClient.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      while ((await watcher.call("BCNT")) as number < 3) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      await watcher.closed();
    }
    child.kill("SIGKILL");
    await child.stdout.cancel();
    await child.stderr.cancel();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL", "the backup finished before it could be killed");
    const list = await runDdb(["snapshots", "--json"], env);
    assert.deepEqual(JSON.parse(list.stdout), [], "no snapshot from the killed run");

    const rerun = await backupJson(env, [src]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(rerun.summary.files, 40);
    assert.ok(rerun.summary.newBytes < total, "chunks uploaded before the kill are not sent again");
    assert.equal(JSON.parse((await runDdb(["snapshots", "--json"], env)).stdout).length, 1);
  });
});

Deno.test("backup: an unreadable entry is reported and exits 3; bad usage exits 2", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await makeTree(src);
    // Deno cannot read names that are not UTF-8: such an entry is reported, not silently lost.
    const bad = new Deno.Command("python3", {
      args: [
        "-c",
        "import os, sys; open(os.fsencode(sys.argv[1]) + b'/bad\\xff', 'w').write('x')",
        src,
      ],
    });
    const made = (await bad.output()).success;
    const result = await backupJson(env, [src]);
    if (made) {
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.summary.errors, 1);
      assert.match(result.stderr, /cannot read .*bad/);
    }
    assert.equal(result.summary.files, 6);
    assert.equal((await runDdb(["backup"], env)).code, 2);
    assert.equal((await runDdb(["backup", "--bogus", src], env)).code, 2);
    const missing = await runDdb(["backup", join(dir, "nope")], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope/);
  });
});

Deno.test("backup: directories the cache knows are not re-sent; every snapshot stays whole", async () => {
  await withServer(async (server, dir) => {
    const env = clientEnv(server, dir);
    const src = join(dir, "src");
    await makeTree(src);
    const readAll = (root: string) =>
      Promise.all(
        ["a/small.txt", "a/b/big.bin", "same-1.bin"].map((p) => Deno.readFile(join(root, p))),
      );
    const original = await readAll(src);
    assert.equal((await backupJson(env, [src])).code, 0);
    // Unchanged: every directory's set and meta is known to the cache.
    const second = await backupJson(env, [src]);
    assert.equal(second.code, 0, second.stderr);
    // Changed in place: the directory "a" keeps its own stat, not its set.
    await Deno.writeTextFile(join(src, "a", "small.txt"), "changed in place\n");
    const third = await backupJson(env, [src]);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.summary.filesUnchanged, 5);

    const restoreAndRead = async (snapshot: string | null, name: string) => {
      assert.ok(snapshot !== null);
      const target = join(dir, name);
      const restored = await runDdb(["restore", snapshot, target], env);
      assert.equal(restored.code, 0, restored.stderr);
      return await readAll(target);
    };
    assert.deepEqual(await restoreAndRead(second.summary.snapshot, "second"), original);
    const latest = await restoreAndRead(third.summary.snapshot, "third");
    assert.equal(new TextDecoder().decode(latest[0]), "changed in place\n");
    assert.deepEqual(latest.slice(1), original.slice(1));

    // Only the latest snapshot left, and garbage collected: it is still whole.
    const forget = await runDdb(["forget", "--keep-last", "1"], env);
    assert.equal(forget.code, 0, forget.stderr);
    const gc = await runDdb(["gc", "--grace", "0"], env);
    assert.equal(gc.code, 0, gc.stderr);
    const check = await runDdb(["check", "--read-data"], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.deepEqual(await restoreAndRead(third.summary.snapshot, "after-gc"), latest);
    // And an unchanged run after that still makes a whole snapshot.
    const fourth = await backupJson(env, [src]);
    assert.equal(fourth.code, 0, fourth.stderr);
    assert.deepEqual(await restoreAndRead(fourth.summary.snapshot, "fourth"), latest);
  });
});
