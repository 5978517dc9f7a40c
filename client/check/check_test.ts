import assert from "node:assert/strict";
import { startServer, type TestServer } from "../../tests/_server.ts";
import { Repository } from "../repo/repository.ts";
import { commitTree, sha256, writeTree } from "../snapshot/_testing/write_tree.ts";
import { metaFields, type NodeMeta } from "../snapshot/schema.ts";
import { check, type CheckResult } from "./check.ts";

const encoder = new TextEncoder();

async function withRepo(
  fn: (repo: Repository, server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startServer();
  const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 1);
  try {
    await fn(repo, server);
  } finally {
    await repo.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
}

/** "kind key-prefix: snapshot-prefix path, …" per problem, sorted. */
function show(result: CheckResult): string[] {
  return result.problems.map((p) =>
    `${p.kind} ${p.key.slice(0, 6)}: ${
      p.places.map((place) => `${place.snapshot.slice(0, 6)} ${place.path}`).sort().join(", ")
    }`
  ).sort();
}

const bytes = (text: string) => encoder.encode(text);

Deno.test("check(): a missing blob is checked once and placed at every file that needs it", async () => {
  await withRepo(async (repo) => {
    const lost = bytes("lost chunk");
    const id = sha256(lost);
    const tree = (extra: string) =>
      writeTree(repo, {
        type: "dir",
        name: "root",
        children: [
          { type: "file", name: "ok.txt", chunks: [bytes("fine")] },
          { type: "file", name: "a.bin", chunks: [bytes("x"), lost], missing: [id] },
          {
            type: "dir",
            name: "sub",
            children: [{ type: "file", name: "b.bin", chunks: [lost], missing: [id] }],
          },
          { type: "file", name: extra, chunks: [bytes(extra)] },
        ],
      });
    const one = await commitTree(repo, await tree("one"), { files: 4, dirs: 2, bytes: 28 });
    const two = await commitTree(repo, await tree("two"), {
      files: 4,
      dirs: 2,
      bytes: 28,
      timeUs: 1_800_000_000_000_000n,
    });
    const result = await check(repo);
    assert.deepEqual(show(result), [
      `blob-missing ${id.slice(0, 6)}: ${
        [
          `${one.slice(0, 6)} /a.bin`,
          `${one.slice(0, 6)} /sub/b.bin`,
          `${two.slice(0, 6)} /a.bin`,
          `${two.slice(0, 6)} /sub/b.bin`,
        ].sort().join(", ")
      }`,
    ]);
    assert.equal(result.counts.snapshots, 2);
    assert.equal(result.counts.blobs, 5, "fine, x, lost, one, two: each once");
    assert.equal(result.counts.dirs, 3, "root twice (different), sub once");
    assert.equal(result.counts.contents, 5);
  });
});

Deno.test("check(): a directory met twice in one snapshot and again in the next is judged alike", async () => {
  await withRepo(async (repo) => {
    const lost = bytes("gone");
    const id = sha256(lost);
    // The same `sub` (same meta key) under /a and /b; /a again in the second snapshot.
    const sub = {
      type: "dir" as const,
      name: "sub",
      children: [{ type: "file" as const, name: "f", chunks: [lost], missing: [id] }],
    };
    const one = await commitTree(
      repo,
      await writeTree(repo, {
        type: "dir",
        name: "root",
        children: [
          { type: "dir", name: "a", children: [sub] },
          { type: "dir", name: "b", children: [sub] },
        ],
      }),
      { files: 2, dirs: 5, bytes: 8 },
    );
    const two = await commitTree(
      repo,
      await writeTree(repo, {
        type: "dir",
        name: "root",
        children: [
          { type: "dir", name: "a", children: [sub] },
          { type: "file", name: "new", chunks: [bytes("new")] },
        ],
      }),
      { files: 2, dirs: 3, bytes: 7, timeUs: 1_800_000_000_000_000n },
    );
    const result = await check(repo);
    assert.deepEqual(show(result), [
      `blob-missing ${id.slice(0, 6)}: ${
        [
          `${one.slice(0, 6)} /a/sub/f`,
          `${one.slice(0, 6)} /b/sub/f`,
          `${two.slice(0, 6)} /a/sub/f`,
        ].sort().join(", ")
      }`,
    ]);
    assert.equal(result.counts.blobs, 2, "gone, new");
    assert.equal(result.counts.dirs, 6, "root, a, b, sub twice; then the second root only");
    assert.equal(result.counts.files, 3, "f twice, then new");
  });
});

Deno.test("check(): altered records, wrong sizes and counts are found and placed", async () => {
  await withRepo(async (repo) => {
    const file = await writeTree(repo, { type: "file", name: "f", chunks: [bytes("data")] });
    const meta: NodeMeta = await repo.readMeta(file);
    // The same meta under a key it does not hash to (as if edited in place).
    const forged = "m:" + "0".repeat(64);
    await repo.writeMeta(forged, metaFields({ ...meta, name: bytes("forged") }));
    const wrongSize = await writeTree(repo, {
      type: "file",
      name: "short",
      chunks: [bytes("12345")],
      size: 3,
    });
    const dirKey = "d:" + "1".repeat(64);
    await repo.writeDir(dirKey, [forged, wrongSize]);
    const rootMeta: NodeMeta = { ...meta, type: "dir", name: bytes("root"), ref: dirKey, size: 0 };
    const root = "m:" + "2".repeat(64);
    await repo.writeMeta(root, metaFields(rootMeta));
    const snapshot = await commitTree(repo, root, { files: 1, dirs: 1, bytes: 0 });
    const s = snapshot.slice(0, 6);
    assert.deepEqual(
      show(await check(repo)),
      [
        `dir-mismatch d:1111: ${s} /`,
        `meta-mismatch m:0000: ${s} /forged`,
        `meta-mismatch m:2222: ${s} /`,
        `size-mismatch ${wrongSize.slice(0, 6)}: ${s} /short`,
        `snapshot-counts ${snapshot.slice(0, 6)}: ${s} /`,
      ].sort(),
    );
  });
});

Deno.test("check(): a directory that contains itself is reported, not walked forever", async () => {
  await withRepo(async (repo) => {
    const dirKey = "d:" + "3".repeat(64);
    const self = "m:" + "4".repeat(64);
    const meta: NodeMeta = {
      name: bytes("loop"),
      type: "dir",
      size: 0,
      mode: 0o755,
      uid: 0,
      gid: 0,
      mtimeNs: 0n,
      ref: dirKey,
    };
    await repo.writeMeta(self, metaFields(meta));
    await repo.writeDir(dirKey, [self]);
    await commitTree(repo, self, { dirs: 1 });
    const kinds = (await check(repo)).problems.map((p) => p.kind).sort();
    // The loop is listed once as an entry (not entered), so the counts differ too.
    assert.deepEqual(kinds, ["cycle", "dir-mismatch", "meta-mismatch", "snapshot-counts"]);
  });
});

Deno.test("check(): readData downloads each chosen blob once", async () => {
  await withRepo(async (repo) => {
    const chunks = ["a", "b", "c", "a"].map(bytes);
    const ref = await writeTree(repo, {
      type: "dir",
      name: "root",
      children: [
        { type: "file", name: "x", chunks },
        { type: "file", name: "y", chunks: chunks.slice(1) },
      ],
    });
    await commitTree(repo, ref, { files: 2, dirs: 1, bytes: 7 });
    const chosen: string[] = [];
    const result = await check(repo, {
      readData: (id) => {
        chosen.push(id);
        return true;
      },
    });
    assert.deepEqual(result.problems, []);
    assert.equal(result.counts.blobsRead, 3);
    assert.equal(result.counts.bytesRead, 3);
    assert.deepEqual(chosen.sort(), ["a", "b", "c"].map((c) => sha256(bytes(c))).sort());
  });
});
