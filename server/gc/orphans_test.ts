import assert from "node:assert/strict";
import { join } from "node:path";
import { blobIdOf } from "../../storage/blob_id.ts";
import * as blobIndex from "../blob_index.ts";
import { listManifests, readDump, writeMetaBackup } from "../dump/meta_backup.ts";
import { SIGHTINGS_END, SIGHTINGS_START } from "./orphan_sightings.ts";
import { blob, HOUR, NOW, type Repo, withRepo } from "./_test_repo.ts";

/** Writes `data` straight into the storage directory, as a crashed writer would leave it. */
async function plant(repo: Repo, data: Uint8Array): Promise<string> {
  const id = blobIdOf(data);
  await Deno.mkdir(join(repo.blobsDir, id.slice(0, 2)), { recursive: true });
  await Deno.writeFile(join(repo.blobsDir, id.slice(0, 2), id), data);
  return id;
}

function sightings(repo: Repo): number {
  return repo.kv.count(SIGHTINGS_START, SIGHTINGS_END);
}

/** A snapshot that keeps one packed blob live (the index is not empty). */
async function liveBlob(repo: Repo): Promise<string> {
  const { ids: [id] } = await repo.packed([blob("live")]);
  repo.snapshot(repo.dir("root", [repo.file("f", [id])]), "one");
  return id;
}

Deno.test("orphans: go when a gc an hour on finds them unnamed again; dumps and young ones stay", async () => {
  await withRepo(async (repo) => {
    const live = await liveBlob(repo);
    const old = await plant(repo, blob("a pack written just before a crash", 5000));
    const backup = await writeMetaBackup({
      kvPath: repo.kvPath,
      database: "test",
      storage: repo.local,
      now: () => NOW,
    });
    const dumpObjects = [backup.id, ...backup.manifest.pieces.map((p) => p.id)];

    const first = await repo.gc({ graceMs: 0 });
    assert.equal(first.orphans, 1);
    assert.equal(first.orphanBytes, 5000);
    assert.equal(first.orphansDeleted, 0, "first seen now");
    assert.equal(first.dumpManifests, 1);
    assert.equal(first.dumpObjects, dumpObjects.length);
    assert.equal(sightings(repo), 1);

    const dry = await repo.gc({ graceMs: 0, dryRun: true, now: () => NOW + 2 * HOUR });
    assert.equal(dry.orphansDeleted, 1);
    assert.equal(dry.orphanBytesDeleted, 5000);
    assert.ok((await repo.objects()).includes(old), "a dry run deletes nothing");

    const young = await plant(repo, blob("an orphan seen first at the second run", 3000));
    const second = await repo.gc({ graceMs: 0, now: () => NOW + 2 * HOUR });
    assert.equal(second.orphans, 2);
    assert.equal(second.orphansDeleted, 1);
    assert.equal(second.orphanBytesDeleted, 5000);
    let objects = await repo.objects();
    assert.ok(!objects.includes(old), "the old orphan is gone");
    assert.ok(objects.includes(young), "the young one stays");
    for (const id of dumpObjects) assert.ok(objects.includes(id), `dump object ${id} stays`);

    // Within the grace period of its first sighting it stays; then it goes.
    const third = await repo.gc({ graceMs: 2 * HOUR, now: () => NOW + 3 * HOUR });
    assert.equal(third.orphansDeleted, 0);
    const fourth = await repo.gc({ graceMs: 2 * HOUR, now: () => NOW + 5 * HOUR });
    assert.equal(fourth.orphansDeleted, 1);
    objects = await repo.objects();
    assert.ok(!objects.includes(young));
    assert.equal(sightings(repo), 0);

    const [found] = await listManifests(repo.local, "test");
    assert.equal(found.id, backup.id);
    let bytes = 0;
    for await (const piece of readDump(repo.local, found.manifest)) bytes += piece.length;
    assert.equal(bytes, found.manifest.bytes, "the dump reads whole");
    assert.deepEqual(await repo.readPacked(live), blob("live"));
  });
});

Deno.test("orphans: a pack no record names gives back the blobs snapshots need", async () => {
  await withRepo(async (repo) => {
    await liveBlob(repo);
    // As after a recovery from a metadata backup older than a rewrite of
    // packs: the records of the pack's blobs were dropped.
    const { ids: [needed, unneeded], pack } = await repo.packed([
      blob("needed", 2000),
      blob("unneeded", 2000),
    ]);
    repo.snapshot(repo.dir("root", [repo.file("g", [needed])]), "two");
    repo.kv.transaction(() => {
      blobIndex.remove(repo.kv, needed);
      blobIndex.remove(repo.kv, unneeded);
    });

    const first = await repo.gc({ graceMs: 0 });
    assert.equal(first.orphans, 1);
    assert.equal(first.orphanBlobsAdopted, 1);
    assert.equal(first.orphansDeleted, 0);
    assert.equal(blobIndex.has(repo.kv, unneeded), false);
    assert.deepEqual(blobIndex.locate(repo.kv, needed), { pack, offset: 0, length: 2000 });
    assert.deepEqual(await repo.readPacked(needed), blob("needed", 2000));
    assert.equal(sightings(repo), 0, "named again");

    // The next collection sees a pack with a dead blob, and rewrites it.
    const second = await repo.gc({ graceMs: 0, now: () => NOW + 2 * HOUR });
    assert.equal(second.orphans, 0);
    assert.equal(second.packsRepacked, 1);
    assert.ok(!(await repo.objects()).includes(pack));
    assert.deepEqual(await repo.readPacked(needed), blob("needed", 2000));
  });
});

Deno.test("orphans: left alone when they are most of the storage, or nothing is indexed", async () => {
  await withRepo(async (repo) => {
    const planted: string[] = [];
    for (let i = 0; i < 70; i++) planted.push(await plant(repo, blob(`stray ${i}`)));
    const empty = await repo.gc({ graceMs: 0 });
    assert.equal(empty.orphans, 70);
    assert.equal(empty.orphansHeld, 1, "no blob indexed");
    await liveBlob(repo);
    await repo.gc({ graceMs: 0, now: () => NOW + HOUR });
    const later = await repo.gc({ graceMs: 0, now: () => NOW + 3 * HOUR });
    assert.equal(later.orphans, 70);
    assert.equal(later.orphansHeld, 1, "70 of 71 objects");
    assert.equal(later.orphansDeleted, 0);
    assert.equal((await repo.objects()).length, 71);
    assert.match(repo.lines.join("\n"), /gc\.orphans_held.*named by no record/);
  });
});
