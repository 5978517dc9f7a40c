import assert from "node:assert/strict";
import * as blobIndex from "../blob_index.ts";
import { keyspace } from "../types/mod.ts";
import { Pacer } from "./pacer.ts";
import { addPendingDelete, countPendingDeletes } from "./pending_deletes.ts";
import { blob, HOUR, NOW, withRepo } from "./_test_repo.ts";

Deno.test("gc: keeps what snapshots reach, walks shared directories once, deletes the rest", async () => {
  await withRepo(async (repo) => {
    const big = await repo.standalone(blob("big", 600_000));
    const { ids: [kept, shared, dropped], pack } = await repo.packed(
      ["kept", "shared", "dropped"].map((s) => blob(s)),
    );
    const gone = await repo.standalone(blob("gone", 700_000));
    const sharedDir = repo.dir("common", [repo.file("s.txt", [shared, big])]);
    const oddDir = repo.dir("odd", [repo.file("o.txt", [kept])], "d:not-hex");
    const one = repo.snapshot(
      repo.dir("root", [sharedDir, oddDir, repo.meta("link", "symlink")]),
      "one",
    );
    const two = repo.snapshot(repo.dir("root", [sharedDir, repo.file("new.txt", [kept])]), "two");
    const oldRoot = repo.dir("root", [sharedDir, repo.file("old.txt", [dropped, gone])]);
    const old = repo.snapshot(oldRoot, "old");
    const stray = repo.snapshot(repo.dir("root", []), "stray", false);
    repo.forget(old);

    const summary = await repo.gc({ graceMs: HOUR });
    assert.equal(summary.snapshots, 2);
    assert.equal(summary.reachableDirs, 4, "two roots, the shared dir once, the odd one");
    assert.equal(summary.dangling, 0);
    assert.deepEqual(summary.snapshotRecords, { kept: 2, deleted: 2 });
    assert.deepEqual(summary.dirs, { kept: 4, deleted: 1 }, "old root's set (stray's is empty)");
    assert.equal(summary.contents.deleted, 1);
    assert.equal(summary.metas.deleted, 3, "old.txt, the old and the stray root");
    assert.equal(summary.blobsDeleted, 2);
    assert.equal(summary.blobBytesDeleted, 100 + 700_000);
    assert.equal(summary.objectsDeleted, 1, "the standalone one; the pack has live blobs");
    assert.equal(summary.packsRepacked, 1, "a small pack with a dead blob is rewritten");
    assert.equal(summary.repackBlobs, 2);
    assert.equal(summary.repackPacksWritten, 1);
    assert.equal(summary.repackBytesReclaimed, 100 + 36);
    assert.equal(summary.packsPartlyDead, 0);
    assert.equal(summary.partlyDeadBytes, 0);

    for (const key of [one, two, sharedDir, oddDir]) assert.ok(repo.has(key), key);
    for (const key of [old, stray, oldRoot]) assert.ok(!repo.has(key), key);
    assert.ok(repo.has("d:not-hex"));
    for (const id of [big, kept, shared]) assert.ok(blobIndex.has(repo.kv, id));
    for (const id of [dropped, gone]) assert.ok(!blobIndex.has(repo.kv, id));
    assert.equal(await repo.storage.has(gone), false);
    assert.equal(await repo.storage.has(pack), false, "rewritten");
    assert.deepEqual(await repo.readPacked(kept), blob("kept"));
    assert.deepEqual(await repo.readPacked(shared), blob("shared"));
    assert.equal(countPendingDeletes(repo.kv), 0);
    assert.equal(blobIndex.count(repo.kv), 3);

    const again = await repo.gc({ graceMs: 0 });
    assert.equal(again.blobsDeleted + again.metas.deleted + again.dirs.deleted, 0);
  });
});

Deno.test("gc: the grace period keeps young unreferenced blobs; a dry run changes nothing", async () => {
  await withRepo(async (repo) => {
    const young = await repo.standalone(blob("young", 600_000), NOW - HOUR + 1);
    const old = await repo.standalone(blob("old", 600_000), NOW - HOUR - 1);
    const { ids } = await repo.packed([blob("p1"), blob("p2")], NOW - 5000);
    repo.file("orphan.txt", [young, old]);

    const dry = await repo.gc({ dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.blobsYoung, 3);
    assert.equal(dry.blobsDeleted, 1);
    assert.equal(dry.objectsDeleted, 1);
    assert.equal(dry.metas.deleted, 1);
    assert.equal(dry.contents.deleted, 1);
    assert.equal(blobIndex.count(repo.kv), 4, "nothing removed");
    assert.equal(keyspace.dbsize(repo.kv), 2);

    const run = await repo.gc();
    assert.equal(run.blobsDeleted, 1);
    assert.equal(await repo.storage.has(old), false);
    assert.equal(await repo.storage.has(young), true);
    assert.equal(keyspace.dbsize(repo.kv), 0, "metadata has no grace period");

    const all = await repo.gc({ graceMs: 0 });
    assert.equal(all.blobsDeleted, 3);
    assert.equal(all.objectsDeleted, 2, "the young blob and the pack");
    assert.equal(all.packsDeleted, 1);
    for (const id of [young, ...ids]) assert.ok(!blobIndex.has(repo.kv, id));
    assert.equal(blobIndex.count(repo.kv), 0);
    assert.equal(blobIndex.totalBytes(repo.kv), 0);
  });
});

Deno.test("gc: finishes the object deletions an interrupted run left", async () => {
  await withRepo(async (repo) => {
    const orphan = await repo.standalone(blob("orphan", 600_000));
    const back = await repo.standalone(blob("stored again", 600_000), NOW);
    // As a run that stopped after removing the records: the objects are pending.
    repo.kv.transaction(() => {
      blobIndex.remove(repo.kv, orphan);
      addPendingDelete(repo.kv, Uint8Array.from(orphan.match(/../g)!, (h) => parseInt(h, 16)));
      addPendingDelete(repo.kv, Uint8Array.from(back.match(/../g)!, (h) => parseInt(h, 16)));
    });
    const summary = await repo.gc();
    assert.equal(summary.blobsDeleted, 0);
    assert.equal(summary.objectsDeleted, 1);
    assert.equal(await repo.storage.has(orphan), false);
    assert.equal(await repo.storage.has(back), true, "indexed again: kept");
    assert.equal(countPendingDeletes(repo.kv), 0);
  });
});

Deno.test("gc: an object that is a dead standalone blob and a live pack stays", async () => {
  await withRepo(async (repo) => {
    const { ids: [live], pack } = await repo.packed([blob("live in pack")]);
    // The pack's own bytes, stored as a blob (a backup of a ddb data directory).
    const packBytes = await repo.storage.get(pack);
    assert.equal(await repo.standalone(packBytes), pack);
    repo.snapshot(repo.dir("root", [repo.file("f", [live])]), "one");
    const summary = await repo.gc({ graceMs: 0 });
    assert.equal(summary.blobsDeleted, 1);
    assert.equal(summary.objectsDeleted, 0);
    assert.ok(!blobIndex.has(repo.kv, pack));
    assert.deepEqual(await repo.readPacked(live), blob("live in pack"));
  });
});

Deno.test("gc: pauses between slices so other work runs", async () => {
  await withRepo(async (repo) => {
    const files: string[] = [];
    for (let i = 0; i < 300; i++) files.push(repo.file(`f${i}`, []));
    repo.snapshot(repo.dir("root", files), "one");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      const pacer = new Pacer({ sliceMs: 0 });
      const summary = await repo.gc({ pacer, graceMs: 0 });
      assert.equal(summary.metaVisits, 301);
      assert.ok(pacer.pauses > 0);
      assert.ok(ticks > 0, "a timer ran during the collection");
    } finally {
      clearInterval(timer);
    }
  });
});

Deno.test("gc: a one-chunk file's b:<id> ref keeps its blob; a forgotten one's blob goes", async () => {
  await withRepo(async (repo) => {
    const { ids: [kept, dropped] } = await repo.packed([blob("kept"), blob("dropped")]);
    const keptFile = repo.oneChunkFile("kept.txt", kept);
    const one = repo.snapshot(repo.dir("root", [keptFile, repo.oneChunkFile("bad", "zz")]), "one");
    const old = repo.snapshot(repo.dir("root", [repo.oneChunkFile("old.txt", dropped)]), "old");
    repo.forget(old);

    const summary = await repo.gc({ graceMs: HOUR });
    assert.equal(summary.snapshots, 1);
    assert.equal(summary.dangling, 1, "b:zz names no blob");
    assert.equal(summary.contents.deleted, 0, "no content lists at all");
    assert.equal(summary.blobsDeleted, 1);
    assert.ok(repo.has(one) && repo.has(keptFile));
    assert.ok(blobIndex.has(repo.kv, kept));
    assert.ok(!blobIndex.has(repo.kv, dropped));
    assert.deepEqual(await repo.readPacked(kept), blob("kept"));
  });
});
