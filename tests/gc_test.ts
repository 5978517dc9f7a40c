/**
 * End-to-end tests of garbage collection against a real `ddb serve`: what a
 * forgotten snapshot alone referenced goes (records, blobs, storage files)
 * while what stays restores byte for byte and passes `ddb check
 * --read-data`; the grace period; backup and gc leases excluding each other
 * (gc refused while a backup lease is held, a backup waiting for a gc);
 * packs kept while any of their blobs lives; expired leases.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { RawConnection, runDdb, spawnDdb, startServer, type TestServer } from "./_server.ts";
import { Repository } from "../client/repo/repository.ts";
import { asArray, asInteger, asText, RespClient } from "../client/remote/resp_client.ts";
import { commitTree, sha256, writeTree } from "../client/snapshot/_testing/write_tree.ts";
import { isolatedEnv } from "./_client_env.ts";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const PACK_BELOW = 512 * 1024;

interface Fixture {
  server: TestServer;
  dir: string;
  env: Record<string, string>;
  client: RespClient;
}

async function withServer(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-gc-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  const client = await RespClient.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      ...isolatedEnv(dir),
    };
    await fn({ server, dir, env, client });
  } finally {
    await client.closed();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

interface GcRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The summary (with --json), else empty. */
  report: Record<string, number>;
}

/** Runs `ddb gc ARGS`. */
async function gc(env: Record<string, string>, args: string[]): Promise<GcRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "gc", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(out.stdout);
  const json = args.includes("--json") && out.code === 0;
  return {
    code: out.code,
    stdout,
    stderr: decoder.decode(out.stderr),
    report: json ? JSON.parse(stdout) : {},
  };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

async function backup(env: Record<string, string>, path: string): Promise<string> {
  const run = await runDdb(["backup", "--json", "--host", "testhost", path], env);
  assert.equal(run.code, 0, run.stderr);
  const summary = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    .find((o) => o.type === "summary");
  return summary.snapshot;
}

/** Every key and blob a snapshot reaches, and which blobs are stored on their own. */
async function reachable(
  repo: Repository,
  snapshot: string,
): Promise<{ keys: Set<string>; blobs: Set<string>; standalone: Set<string> }> {
  const keys = new Set<string>();
  const blobs = new Set<string>();
  const standalone = new Set<string>();
  const walk = async (metaKey: string) => {
    keys.add(metaKey);
    const meta = await repo.readMeta(metaKey);
    if (meta.ref?.startsWith("d:")) {
      keys.add(meta.ref);
      for (const child of await repo.readDir(meta.ref)) await walk(child);
    } else if (meta.ref?.startsWith("c:") || meta.ref?.startsWith("b:")) {
      const chunks = await repo.readContent(meta.ref, meta.size);
      // A content list is a key; a one-chunk file's b:<id> ref is not.
      if (chunks.length > 0 && meta.ref.startsWith("c:")) keys.add(meta.ref);
      for (const chunk of chunks) {
        blobs.add(chunk.id);
        if (chunk.size >= PACK_BELOW) standalone.add(chunk.id);
      }
    }
  };
  await walk((await repo.readSnapshot(`s:${snapshot}`)).ref);
  return { keys, blobs, standalone };
}

function objectPath(server: TestServer, id: string): string {
  return join(server.dataDir, "blobs", "default", id.slice(0, 2), id);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function bexists(client: RespClient, id: string): Promise<boolean> {
  return asInteger(await client.call("BEXISTS", id)) === 1;
}

async function keyExists(client: RespClient, key: string): Promise<boolean> {
  return asInteger(await client.call("EXISTS", key)) === 1;
}

async function compareTrees(a: string, b: string): Promise<void> {
  for await (const entry of Deno.readDir(a)) {
    const left = join(a, entry.name);
    const right = join(b, entry.name);
    if (entry.isDirectory) await compareTrees(left, right);
    else assert.deepEqual(await Deno.readFile(right), await Deno.readFile(left), right);
  }
}

async function makeTree(root: string, unique: string): Promise<void> {
  await Deno.mkdir(join(root, "sub", "deeper"), { recursive: true });
  await Deno.writeTextFile(join(root, "shared.txt"), "the same in both trees\n");
  await Deno.writeTextFile(join(root, "sub", "deeper", "same.txt"), "same deep file\n");
  await Deno.writeFile(join(root, `${unique}-small.bin`), randomBytes(3000));
  await Deno.writeFile(join(root, "sub", `${unique}-big.bin`), randomBytes(3 * 1024 * 1024));
  await Deno.writeTextFile(join(root, "sub", `${unique}.txt`), `only in ${unique}\n`);
}

Deno.test("gc: a forgotten snapshot's own data goes; the other restores and checks clean", async () => {
  await withServer(async ({ server, dir, env, client }) => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await makeTree(a, "a");
    await makeTree(b, "b");
    const idA = await backup(env, a);
    const idB = await backup(env, b);
    const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 0);
    try {
      const ofA = await reachable(repo, idA);
      const ofB = await reachable(repo, idB);
      const goneKeys = [...ofB.keys].filter((k) => !ofA.keys.has(k));
      const goneBlobs = [...ofB.blobs].filter((id) => !ofA.blobs.has(id));
      assert.ok(
        goneKeys.some((k) => k.startsWith("d:")) && goneKeys.some((k) => k.startsWith("c:")),
      );
      assert.ok([...ofB.standalone].some((id) => goneBlobs.includes(id)), "a big file's chunks");
      assert.ok(ofA.blobs.has(sha256(new TextEncoder().encode("the same in both trees\n"))));

      const forget = await runDdb(["forget", idB], env);
      assert.equal(forget.code, 0, forget.stderr);
      // Everything was stored just now: with the default grace nothing goes yet.
      const early = await gc(env, ["--json"]);
      assert.equal(early.code, 0, early.stderr);
      assert.equal(early.report.blobs_deleted, 0);
      assert.equal(early.report.blobs_young, goneBlobs.length);
      assert.equal(early.report.keys_deleted, goneKeys.length, "metadata has no grace");
      for (const id of goneBlobs) assert.ok(await bexists(client, id));

      const dry = await gc(env, ["--json", "--dry-run", "--grace", "0"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.report.dry_run, 1);
      assert.equal(dry.report.blobs_deleted, goneBlobs.length);
      for (const id of goneBlobs) assert.ok(await bexists(client, id), "a dry run deletes nothing");

      const run = await gc(env, ["--json", "--grace", "0"]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.report.snapshots, 1);
      assert.equal(run.report.blobs_deleted, goneBlobs.length);
      assert.equal(run.report.keys_deleted, 0, "the first run deleted the keys");
      for (const id of goneBlobs) {
        assert.ok(!(await bexists(client, id)), `blob ${id} is gone`);
        if (ofB.standalone.has(id)) assert.ok(!(await exists(objectPath(server, id))));
      }
      for (const key of [...goneKeys, `s:${idB}`]) {
        assert.ok(!(await keyExists(client, key)), `${key} is gone`);
      }
      for (const id of ofA.blobs) assert.ok(await bexists(client, id), `blob ${id} stays`);
      for (const id of ofA.standalone) assert.ok(await exists(objectPath(server, id)));
      for (const key of ofA.keys) assert.ok(await keyExists(client, key), `${key} stays`);
    } finally {
      await repo.close();
    }

    const again = await gc(env, ["--json", "--grace", "0"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.report.blobs_deleted + again.report.keys_deleted, 0, "nothing left");

    const target = join(dir, "restored");
    const restored = await runDdb(["restore", idA.slice(0, 8), target], env);
    assert.equal(restored.code, 0, restored.stderr);
    await compareTrees(a, target);
    const check = await runDdb(["check", "--read-data"], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    // The human summary.
    const text = await gc(env, ["--grace", "0"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Garbage collection of database "default" took/);
    assert.match(text.stdout, /blobs +\d+ +0 \(0 B\)/);
  });
});

Deno.test("gc: an unreferenced blob stored just now survives the grace period", async () => {
  await withServer(async ({ env, client }) => {
    const id = asText(await client.call("BPUT", "an upload whose snapshot is not committed yet"));
    const kept = await gc(env, ["--json"]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(kept.report.blobs_young, 1);
    assert.ok(await bexists(client, id));
    const gone = await gc(env, ["--json", "--grace", "0"]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal(gone.report.blobs_deleted, 1);
    assert.ok(!(await bexists(client, id)));
    const bad = await gc(env, ["--grace", "1w"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Cannot parse duration "1w"/);
  });
});

Deno.test("gc: refused while a backup lease is held; deletes nothing", async () => {
  await withServer(async ({ env, client }) => {
    const id = asText(await client.call("BPUT", "garbage"));
    const keys = asInteger(await client.call("DBSIZE"));
    await client.call("LEASE", "ACQUIRE", "backup", "nightly-1", "60000");
    const refused = await gc(env, ["--grace", "0"]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /backups are running: backup lease "nightly-1" until \S+Z/);
    assert.match(refused.stderr, /nothing was deleted/);
    assert.ok(await bexists(client, id));
    assert.equal(asInteger(await client.call("DBSIZE")), keys);
    assert.equal(asInteger(await client.call("LEASE", "RELEASE", "nightly-1")), 1);
    const run = await gc(env, ["--json", "--grace", "0"]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!(await bexists(client, id)));
  });
});

Deno.test("gc: refused while a real backup runs", async () => {
  await withServer(async ({ dir, env, client }) => {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    for (let i = 0; i < 2000; i++) await Deno.writeTextFile(join(src, `f${i}`), `file ${i}\n`);
    await Deno.writeFile(join(src, "big"), randomBytes(32 * 1024 * 1024));
    const child = spawnDdb(["backup", "--quiet", src], env);
    let done = false;
    const finished = child.output().finally(() => done = true);
    // The lease is taken before the backup reads anything.
    while (asArray(await client.call("LEASE", "LIST")).length === 0 && !done) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const refused = await gc(env, ["--grace", "0"]);
    // A backup still running after the gc returned held its lease all along.
    const overlapped = !done;
    const out = await finished;
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    if (overlapped) {
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /backups are running: backup lease "backup:/);
    }
    const check = await runDdb(["check"], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });
});

Deno.test("gc: a backup waits while a gc holds the database, then goes on", async () => {
  await withServer(async ({ dir, env, client }) => {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await Deno.writeTextFile(join(src, "file.txt"), "hello\n");
    await client.call("LEASE", "ACQUIRE", "gc", "manual-gc", "60000");
    const child = spawnDdb(["backup", src], env);
    const decoder = new TextDecoder();
    let stderr = "";
    const reader = child.stderr.getReader();
    while (!stderr.includes("waiting for a garbage collection")) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value, { stream: true });
    }
    assert.match(
      stderr,
      /ddb backup: waiting for a garbage collection to end: .*gc lease "manual-gc"/,
    );
    const listed = asArray(await client.call("LEASE", "LIST")).map((l) =>
      asArray(l).map((v) => typeof v === "number" ? String(v) : asText(v))
    );
    assert.deepEqual(listed.map((l) => [l[1], l[3]]), [["gc", "manual-gc"]], "the backup waits");
    assert.equal(asInteger(await client.call("LEASE", "RELEASE", "manual-gc")), 1);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value, { stream: true });
    }
    const [status, stdout] = await Promise.all([
      child.status,
      new Response(child.stdout).text(),
    ]);
    assert.equal(status.code, 0, stderr);
    assert.match(stdout, /snapshot [0-9a-f]{8}: 1 files/);
    assert.equal(stderr.match(/waiting for a garbage collection/g)?.length, 1, "said once");
    assert.deepEqual(asArray(await client.call("LEASE", "LIST")), [], "released at the end");
  });
});

Deno.test("gc: a pack with dead blobs is rewritten; metadata backups and young orphans stay", async () => {
  await withServer(async ({ server, env, client }) => {
    const encoder = new TextEncoder();
    const [x, y, z] = ["kept small file", "dead small file one", "dead small file two"].map((s) =>
      encoder.encode(s)
    );
    // One pipeline: the three blobs share one pack.
    await Promise.all([x, y, z].map((data) => client.call("BPUT", data)));
    const root = join(server.dataDir, "blobs", "default");
    const objects = async () => {
      const found: string[] = [];
      for await (const shard of Deno.readDir(root)) {
        if (!/^[0-9a-f]{2}$/.test(shard.name)) continue;
        for await (const entry of Deno.readDir(join(root, shard.name))) found.push(entry.name);
      }
      return found.sort();
    };
    const [pack] = await objects();
    assert.equal((await objects()).length, 1, "one pack object");
    assert.ok(![x, y, z].map(sha256).includes(pack));

    // A metadata backup (manifest and pieces, named by no index record) and
    // an object a crashed writer left, written straight into the directory.
    await client.call("METABACKUP");
    const orphanBytes = encoder.encode("a pack whose records a crash lost");
    const orphan = sha256(orphanBytes);
    await Deno.mkdir(join(root, orphan.slice(0, 2)), { recursive: true });
    await Deno.writeFile(join(root, orphan.slice(0, 2), orphan), orphanBytes);
    const kept = (await objects()).filter((id) => id !== pack);
    assert.ok(kept.length >= 3, "manifest, piece(s), orphan");

    const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 1);
    try {
      const ref = await writeTree(repo, {
        type: "dir",
        name: "d",
        children: [{ type: "file", name: "x", chunks: [x] }],
      });
      await commitTree(repo, ref, { dirs: 1, files: 1 });
      const dry = await gc(env, ["--dry-run", "--grace", "0"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(
        dry.stdout,
        /packs to rewrite: 1 \(1 live blobs into 1 new packs, \d+ B to free\)/,
      );
      assert.match(dry.stdout, /1 storage objects \(33 B\) named by no record: 0 to delete/);

      const partly = await gc(env, ["--json", "--grace", "0"]);
      assert.equal(partly.code, 0, partly.stderr);
      assert.equal(partly.report.blobs_deleted, 2);
      assert.equal(partly.report.packs_deleted, 0);
      assert.equal(partly.report.packs_repacked, 1);
      assert.equal(partly.report.repack_blobs, 1);
      assert.equal(partly.report.repack_bytes_reclaimed, y.length + z.length + 2 * 36);
      assert.equal(partly.report.packs_partly_dead, 0);
      assert.equal(partly.report.orphans, 1);
      assert.equal(partly.report.orphans_deleted, 0, "seen for the first time");
      assert.equal(partly.report.dump_manifests, 1);
      assert.equal(partly.report.dump_objects, kept.length - 1);
      const after = await objects();
      assert.ok(!after.includes(pack), "the old pack is gone");
      for (const id of kept) assert.ok(after.includes(id), `${id} stays`);
      const [rewritten] = after.filter((id) => !kept.includes(id));
      assert.ok(!(await bexists(client, sha256(y))) && !(await bexists(client, sha256(z))));
      assert.deepEqual(await repo.getBlob(sha256(x)), x, "the live blob reads from the new pack");

      await repo.removeSnapshots(await repo.listSnapshots());
      const all = await gc(env, ["--json", "--grace", "0"]);
      assert.equal(all.code, 0, all.stderr);
      assert.equal(all.report.blobs_deleted, 1);
      assert.equal(all.report.packs_deleted, 1);
      assert.equal(all.report.objects_deleted, 1);
      assert.ok(!(await objects()).includes(rewritten), "the new pack went with its last blob");
      assert.deepEqual(await objects(), kept, "the metadata backup and the orphan stay");
    } finally {
      await repo.close();
    }
  });
});

Deno.test("gc: an expired backup lease no longer blocks, and cannot be renewed after a gc", async () => {
  await withServer(async ({ env, client }) => {
    await client.call("LEASE", "ACQUIRE", "backup", "crashed", "1");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(asArray(await client.call("LEASE", "LIST")), []);
    const run = await gc(env, ["--json"]);
    assert.equal(run.code, 0, run.stderr);
    await assert.rejects(
      client.call("LEASE", "RENEW", "crashed", "60000"),
      /ERR LEASE Cannot renew lease "crashed" on database "default": it is not held/,
    );
  });
});

/** Waits until the server lists no lease (it notices a closed connection at its next read). */
async function noLeases(client: RespClient): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (asArray(await client.call("LEASE", "LIST")).length > 0) {
    assert.ok(Date.now() < deadline, "the lease outlived its connection");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("gc: a backup lease ends with the connection that took it", async () => {
  await withServer(async ({ server, env, client }) => {
    const id = asText(await client.call("BPUT", "garbage a crashed backup left"));
    // A raw client takes a backup lease (two minutes) and closes its socket.
    const raw = await RawConnection.open(server.port);
    const taken = await raw.command("LEASE", "ACQUIRE", "backup", "closed-backup", "120000");
    assert.deepEqual(taken, { kind: "simple", value: "OK" });
    const refused = await gc(env, ["--grace", "0"]);
    assert.equal(refused.code, 1, refused.stdout);
    raw.close();
    await noLeases(client);
    const run = await gc(env, ["--json", "--grace", "0"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.report.blobs_deleted, 1);
    assert.ok(!(await bexists(client, id)));
    assert.match(server.log(), /lease\.closed.*closed-backup/);

    // A process killed outright: the kernel closes its socket.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const c = await Deno.connect({ hostname: "127.0.0.1", port: ${server.port} });
         await c.write(new TextEncoder().encode(
           "*5\\r\\n$5\\r\\nLEASE\\r\\n$7\\r\\nACQUIRE\\r\\n$6\\r\\nbackup\\r\\n" +
           "$6\\r\\nkilled\\r\\n$6\\r\\n120000\\r\\n"));
         const buf = new Uint8Array(16);
         const n = await c.read(buf);
         console.log(new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
         await new Promise((resolve) => setTimeout(resolve, 600_000));`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await lines.read()).value?.trim(), "+OK");
    assert.equal(asArray(await client.call("LEASE", "LIST")).length, 1);
    holder.kill("SIGKILL");
    await holder.status;
    await lines.cancel();
    await noLeases(client);
    const after = await gc(env, ["--json", "--grace", "0"]);
    assert.equal(after.code, 0, after.stderr);
    // A renewal from a new connection fails now: a gc took the database.
    await assert.rejects(
      client.call("LEASE", "RENEW", "killed", "60000"),
      /ERR LEASE Cannot renew lease "killed"/,
    );
  });
});
