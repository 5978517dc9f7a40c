/**
 * End-to-end tests of `ddb check` against a real `ddb serve` holding
 * snapshots made by the real `ddb backup`: a sound repository passes; a
 * corrupted blob file, a deleted blob file and deleted metadata keys are
 * each reported with the snapshots and paths they affect, and exit 3.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { redisCli, runDdb, startServer, type TestServer } from "./_server.ts";
import { canRunWith } from "./_skip.ts";
import { Repository } from "../client/repo/repository.ts";
import { resolvePath } from "../client/snapshot/walk.ts";
import { seededBytes } from "./_seeded_bytes.ts";
import { isolatedEnv } from "./_client_env.ts";

interface Place {
  snapshot: string;
  source: string | null;
  path: string;
}

interface Problem {
  kind: string;
  key: string;
  message: string;
  places: Place[];
  placeCount: number;
}

interface Summary {
  type: "summary";
  snapshots: number;
  dirs: number;
  files: number;
  contents: number;
  blobs: number;
  blobsRead: number;
  bytesRead: number;
  problems: Problem[];
}

interface Fixture {
  server: TestServer;
  dir: string;
  env: Record<string, string>;
  src: string;
  /** Snapshot ids, oldest first. */
  snapshots: string[];
}

const encoder = new TextEncoder();

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(typeof data === "string" ? encoder.encode(data) : data)
    .digest("hex");
}

/** A server with two snapshots of one tree (the second with one more file). */
async function withRepo(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-check-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  try {
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      ...isolatedEnv(dir),
    };
    const src = join(dir, "src");
    await Deno.mkdir(join(src, "a", "b"), { recursive: true });
    await Deno.mkdir(join(src, "empty dir"));
    await Deno.writeTextFile(join(src, "a", "small.txt"), "hello\n");
    await Deno.writeTextFile(join(src, "a", "b", "other.txt"), "other\n");
    await Deno.writeFile(join(src, "a", "b", "big.bin"), seededBytes(3 * 1024 * 1024, 7));
    await Deno.writeFile(join(src, "same-1.bin"), seededBytes(200_000, 2));
    await Deno.writeFile(join(src, "same-2.bin"), seededBytes(200_000, 2));
    await Deno.writeFile(join(src, "empty"), new Uint8Array());
    await Deno.symlink("a/small.txt", join(src, "link"));
    const snapshots: string[] = [];
    for (const extra of ["first", "second"]) {
      await Deno.writeTextFile(join(src, `${extra}.txt`), extra);
      const run = await runDdb(["backup", "--json", "--host", "testhost", src], env);
      assert.equal(run.code, 0, run.stderr);
      const summary = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) =>
        JSON.parse(l)
      ).find((o) => o.type === "summary");
      snapshots.push(summary.snapshot);
    }
    await fn({ server, dir, env, src, snapshots });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function checkJson(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; summary: Summary; stderr: string }> {
  const run = await runDdb(["check", "--json", ...args], env);
  const summary = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    .find((o) => o.type === "summary");
  assert.ok(summary, `no summary in: ${run.stdout}\n${run.stderr}`);
  return { code: run.code, summary, stderr: run.stderr };
}

function blobPath(server: TestServer, id: string): string {
  return join(server.dataDir, "blobs", "default", id.slice(0, 2), id);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The storage object holding `bytes`: small blobs (< 512 KiB) live in packs
 * (docs/data-model.md), several to an object.
 */
async function objectHolding(server: TestServer, bytes: Uint8Array): Promise<{
  path: string;
  offset: number;
}> {
  const root = join(server.dataDir, "blobs", "default");
  for await (const shard of Deno.readDir(root)) {
    if (!/^[0-9a-f]{2}$/.test(shard.name)) continue;
    for await (const object of Deno.readDir(join(root, shard.name))) {
      const path = join(root, shard.name, object.name);
      const offset = indexOf(await Deno.readFile(path), bytes);
      if (offset >= 0) return { path, offset };
    }
  }
  throw new Error("no storage object holds the bytes");
}

/** Asserts the places of the problems about `key`, as "snapshot-id path", in any order. */
function assertPlaces(summary: Summary, key: string, expected: string[]): void {
  const actual = summary.problems.filter((p) => p.key === key)
    .flatMap((p) => p.places.map((place) => `${place.snapshot} ${place.path}`));
  assert.deepEqual(actual.sort(), [...expected].sort());
}

async function refOf(server: TestServer, snapshotId: string, path: string[]): Promise<{
  metaKey: string;
  ref?: string;
}> {
  const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 0);
  try {
    const snapshot = await repo.readSnapshot(`s:${snapshotId}`);
    const node = await resolvePath(repo, snapshot.ref, path);
    return { metaKey: node.metaKey, ref: node.meta.ref };
  } finally {
    await repo.close();
  }
}

Deno.test("check: a sound repository passes, with and without --read-data", async () => {
  await withRepo(async ({ env }) => {
    const plain = await runDdb(["check"], env);
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.match(plain.stdout, /checked 2 snapshots: .*\nno problems found/);

    const full = await checkJson(env, ["--read-data"]);
    assert.equal(full.code, 0, full.stderr);
    assert.deepEqual(full.summary.problems, []);
    assert.equal(full.summary.snapshots, 2);
    assert.ok(full.summary.blobs >= 6, `${full.summary.blobs} blobs`);
    assert.equal(full.summary.blobsRead, full.summary.blobs, "every blob is read once");
    assert.ok(full.summary.bytesRead > 3 * 1024 * 1024);
    // The second snapshot shares all but its root and new file: walked once.
    assert.equal(full.summary.dirs, 4 + 1, "src, a, a/b, empty dir; then the new root");

    let read = 0;
    for (const part of ["1/2", "2/2"]) {
      const half = await checkJson(env, ["--read-data-subset", part]);
      assert.equal(half.code, 0, half.stderr);
      read += half.summary.blobsRead;
    }
    assert.equal(read, full.summary.blobs, "the parts 1/2 and 2/2 read every blob once");

    const one = await checkJson(env, ["latest"]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.summary.snapshots, 1);
  });
});

Deno.test("check: a corrupted blob file is found by --read-data, with both snapshots and the path", async () => {
  await withRepo(async ({ server, env, snapshots }) => {
    // "hello\n" is a small blob, inside a pack: change one byte of it there.
    const id = sha256("hello\n");
    const { path, offset } = await objectHolding(server, encoder.encode("hello\n"));
    await Deno.chmod(path, 0o644);
    const pack = await Deno.readFile(path);
    pack[offset] = "j".charCodeAt(0);
    await Deno.writeFile(path, pack);

    // The blob index still lists it: only reading the data can tell.
    const quick = await runDdb(["check"], env);
    assert.equal(quick.code, 0, quick.stdout + quick.stderr);

    const text = await runDdb(["check", "--read-data"], env);
    assert.equal(text.code, 3, text.stdout + text.stderr);
    assert.match(text.stdout, new RegExp(`blob-unreadable: blob ${id}`));
    assert.match(
      text.stdout,
      new RegExp(`snapshot ${snapshots[0].slice(0, 8)} testhost:.*  /a/small.txt`),
    );
    assert.match(
      text.stdout,
      new RegExp(`snapshot ${snapshots[1].slice(0, 8)} testhost:.*  /a/small.txt`),
    );

    const json = await checkJson(env, ["--read-data"]);
    assert.equal(json.code, 3);
    assert.deepEqual(json.summary.problems.map((p) => [p.kind, p.key]), [["blob-unreadable", id]]);
    assertPlaces(json.summary, id, [
      `${snapshots[0]} /a/small.txt`,
      `${snapshots[1]} /a/small.txt`,
    ]);
    assert.match(json.summary.problems[0].message, /differ|hashes to/);

    // BGET verifies on the server; NOVERIFY sends the bytes as stored.
    const verified = await redisCli(server.port, ["BGET", id]);
    assert.match(verified.stdout, /ERR Cannot read blob/);
    const stored = await redisCli(server.port, ["BGET", id, "NOVERIFY"]);
    assert.equal(stored.stdout, "jello\n\n");
    // A restore asks for NOVERIFY and its own hash finds the damage: that
    // file is an error, the others are restored.
    const target = await Deno.makeTempDir({ prefix: "ddb_check_restore_" });
    try {
      const restored = await runDdb(["restore", "latest", join(target, "out")], env);
      assert.notEqual(restored.code, 0, restored.stdout + restored.stderr);
      assert.match(restored.stderr, new RegExp(`small\\.txt.*${id}`));
      await assert.rejects(Deno.lstat(join(target, "out", "a", "small.txt")), Deno.errors.NotFound);
      assert.ok((await Deno.lstat(join(target, "out", "a", "b", "big.bin"))).isFile);
    } finally {
      await Deno.remove(target, { recursive: true });
    }
  });
});

Deno.test("check: a deleted blob file is found by --read-data, with the path", async () => {
  await withRepo(async ({ server, env, snapshots }) => {
    // The chunks of big.bin are 512 KiB or more: each is a storage object of its own.
    const { ref } = await refOf(server, snapshots[1], ["a", "b", "big.bin"]);
    const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 0);
    const chunks = await repo.readContent(ref!).finally(() => repo.close());
    assert.ok(chunks.length >= 2 && chunks[0].size >= 512 * 1024, `${chunks.length} chunks`);
    const id = chunks[0].id;
    await Deno.remove(blobPath(server, id));
    const json = await checkJson(env, ["--read-data"]);
    assert.equal(json.code, 3, json.stderr);
    assert.deepEqual(json.summary.problems.map((p) => [p.kind, p.key]), [["blob-unreadable", id]]);
    assertPlaces(json.summary, id, [
      `${snapshots[0]} /a/b/big.bin`,
      `${snapshots[1]} /a/b/big.bin`,
    ]);
    assert.match(json.summary.problems[0].message, /Cannot find blob/);
    assert.equal(json.summary.blobsRead, json.summary.blobs - 1);
  });
});

Deno.test("check: a deleted directory set (redis-cli DEL) is reported at its path in both snapshots", async () => {
  if (!canRunWith("redis-cli", "redis-tools")) return;
  await withRepo(async ({ server, env, snapshots }) => {
    const { ref } = await refOf(server, snapshots[1], ["a", "b"]);
    assert.ok(ref?.startsWith("d:"));
    const del = await redisCli(server.port, ["DEL", ref!]);
    assert.equal(del.stdout.trim(), "1", del.stderr);

    const text = await runDdb(["check"], env);
    assert.equal(text.code, 3, text.stdout + text.stderr);
    assert.match(text.stdout, new RegExp(`dir-missing: directory set ${ref} is missing`));

    const json = await checkJson(env);
    assert.equal(json.code, 3);
    assertPlaces(json.summary, ref!, [
      `${snapshots[0]} /a/b`,
      `${snapshots[1]} /a/b`,
    ]);
    // The files below are gone from the tree, so the snapshots' counts disagree.
    for (const id of snapshots) {
      const counts = json.summary.problems.find((p) => p.key === `s:${id}`);
      assert.ok(counts?.kind === "snapshot-counts", JSON.stringify(counts));
      assert.deepEqual(counts.places.map((p) => p.path), ["/"]);
    }
  });
});

Deno.test("check: a deleted file meta and content list (redis-cli DEL) are reported with their paths", async () => {
  if (!canRunWith("redis-cli", "redis-tools")) return;
  await withRepo(async ({ server, env, snapshots }) => {
    const same = await refOf(server, snapshots[1], ["same-1.bin"]);
    // big.bin has several chunks, so a content list (a one-chunk file has a b:<id> ref).
    const other = await refOf(server, snapshots[1], ["a", "b", "big.bin"]);
    for (const key of [same.metaKey, other.ref!]) {
      const del = await redisCli(server.port, ["DEL", key]);
      assert.equal(del.stdout.trim(), "1", del.stderr);
    }
    const json = await checkJson(env);
    assert.equal(json.code, 3, json.stderr);
    const kinds = new Map(json.summary.problems.map((p) => [p.key, p.kind]));
    assert.equal(kinds.get(same.metaKey), "meta-missing");
    assert.equal(kinds.get(other.ref!), "content-missing");
    // An entry whose meta is gone is placed at its directory (its name is in the meta).
    assertPlaces(json.summary, same.metaKey, [
      `${snapshots[0]} /`,
      `${snapshots[1]} /`,
    ]);
    assertPlaces(json.summary, other.ref!, [
      `${snapshots[0]} /a/b/big.bin`,
      `${snapshots[1]} /a/b/big.bin`,
    ]);
  });
});

Deno.test("check: a missing snapshot record and a dangling group entry are reported", async () => {
  if (!canRunWith("redis-cli", "redis-tools")) return;
  await withRepo(async ({ server, env, snapshots }) => {
    const del = await redisCli(server.port, ["DEL", `s:${snapshots[0]}`]);
    assert.equal(del.stdout.trim(), "1", del.stderr);
    const json = await checkJson(env);
    assert.equal(json.code, 3, json.stderr);
    const missing = json.summary.problems.find((p) => p.key === `s:${snapshots[0]}`);
    assert.equal(missing?.kind, "snapshot-missing");
    const dangling = json.summary.problems.find((p) => p.kind === "group-dangling");
    assert.ok(dangling !== undefined, JSON.stringify(json.summary.problems));
    assert.ok(dangling.key.startsWith("g:testhost:"));
    assert.deepEqual(dangling.places.map((p) => p.snapshot), [snapshots[0]]);
    assert.equal(json.summary.snapshots, 1);
  });
});
