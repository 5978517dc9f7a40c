import assert from "node:assert/strict";
import { join } from "node:path";
import { BlobCorruptError, type BlobStorage } from "../../storage/blob_storage.ts";
import type { LocalStorage } from "../../storage/local/local_storage.ts";
import { blobIdOf } from "../../storage/blob_id.ts";
import * as blobIndex from "../blob_index.ts";
import { countPendingDeletes } from "./pending_deletes.ts";
import { PackCandidates } from "./pack_candidates.ts";
import { plannedPacks, REPACK_TARGET_BYTES } from "./repack.ts";
import { blob, HOUR, NOW, type Repo, withRepo } from "./_test_repo.ts";

const encoder = new TextEncoder();

/** Packs `live` and `dead` blobs (labels) together; a snapshot references the live ones. */
async function packWith(
  repo: Repo,
  live: string[],
  dead: string[],
  size = 1000,
): Promise<{ pack: string; live: string[]; dead: string[] }> {
  const { ids, pack } = await repo.packed([...live, ...dead].map((l) => blob(l, size)));
  return { pack, live: ids.slice(0, live.length), dead: ids.slice(live.length) };
}

/** A snapshot of one file per blob id. */
function snapshotOf(repo: Repo, ids: string[], label: string): void {
  repo.snapshot(repo.dir("root", ids.map((id, i) => repo.file(`f${i}`, [id]))), label);
}

/** Whether any object of the storage holds the bytes of `label`. */
async function stored(repo: Repo, label: string): Promise<boolean> {
  const needle = encoder.encode(label);
  for (const id of await repo.objects()) {
    const bytes = await repo.local.get(id);
    outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return true;
    }
  }
  return false;
}

function labels(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

Deno.test("repack: partly dead packs are rewritten, live blobs read from the new ones, dead bytes leave", async () => {
  await withRepo(async (repo) => {
    // Half dead; a fifth dead (small: rewritten too); a large pack 5% dead (kept as it is).
    const a = await packWith(repo, labels("a-live", 5), labels("a-dead", 5));
    const b = await packWith(repo, labels("b-live", 8), labels("b-dead", 2));
    const c = await packWith(repo, labels("c-live", 19), labels("c-dead", 1), 100_000);
    const live = [...a.live, ...b.live, ...c.live];
    snapshotOf(repo, live, "one");
    const before = await repo.storedBytes();

    const dry = await repo.gc({ graceMs: 0, dryRun: true, repackTargetBytes: 6000 });
    assert.equal(dry.packsRepacked, 2);
    assert.equal(dry.repackBlobs, 13);
    assert.equal(dry.repackPacksWritten, 2);
    assert.equal(dry.repackBytesReclaimed, 7 * (1000 + 36));
    assert.equal(dry.packsPartlyDead, 1);
    assert.equal(dry.partlyDeadBytes, 100_000 + 36);
    assert.equal(await repo.storedBytes(), before, "a dry run changes nothing");

    const run = await repo.gc({ graceMs: 0, repackTargetBytes: 6000 });
    assert.equal(run.blobsDeleted, 8);
    assert.equal(run.packsRepacked, 2);
    assert.equal(run.repackBlobs, 13);
    assert.equal(run.repackPacksWritten, 2, "cut before 6000 bytes");
    assert.equal(run.repackDamaged, 0);
    assert.equal(run.packsPartlyDead, 1);
    assert.equal(run.partlyDeadBytes, 100_000 + 36);
    const objects = await repo.objects();
    assert.ok(!objects.includes(a.pack) && !objects.includes(b.pack), "the old packs are gone");
    assert.ok(objects.includes(c.pack), "the mostly live large pack stays");
    assert.equal(objects.length, 3, "the large pack and two new ones");
    // The 7 dead blobs of the two packs and their trailer entries.
    assert.equal(run.repackBytesReclaimed, 7 * 1036);
    assert.equal(before - (await repo.storedBytes()), 7 * 1036);
    for (const [i, id] of live.entries()) {
      const label = i < 5 ? `a-live-${i}` : i < 13 ? `b-live-${i - 5}` : `c-live-${i - 13}`;
      assert.deepEqual(await repo.readPacked(id), blob(label, i < 13 ? 1000 : 100_000));
    }
    for (const label of [...labels("a-dead", 5), ...labels("b-dead", 2)]) {
      assert.equal(await stored(repo, label), false, `${label} left the storage`);
    }
    assert.equal(countPendingDeletes(repo.kv), 0);
    assert.equal(blobIndex.count(repo.kv), live.length);

    const again = await repo.gc({ graceMs: 0 });
    assert.equal(again.packsRepacked, 0, "new packs hold no dead bytes");
    assert.equal(again.orphans, 0);
    assert.equal(again.packsPartlyDead, 1);
  });
});

/** A storage that fails (like a crash) at the step `failAt` picks, once. */
class FailingStorage implements BlobStorage {
  readonly displayUrl = "failing://";
  /** Fails the next matching operation (after doing it, for "put-after"). */
  failAt: ((op: "put" | "put-after" | "delete", id: string) => boolean) | undefined;

  constructor(readonly inner: LocalStorage) {}

  #fail(op: "put" | "put-after" | "delete", id: string): void {
    if (this.failAt?.(op, id)) {
      this.failAt = undefined;
      throw new Error(`injected failure: ${op} ${id}`);
    }
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    this.#fail("put", id);
    await this.inner.put(id, data);
    this.#fail("put-after", id);
  }
  get(id: string): Promise<Uint8Array> {
    return this.inner.get(id);
  }
  getRange(id: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.getRange(id, offset, length);
  }
  has(id: string): Promise<boolean> {
    return this.inner.has(id);
  }
  list() {
    return this.inner.list();
  }
  async delete(id: string): Promise<void> {
    this.#fail("delete", id);
    await this.inner.delete(id);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

for (const step of ["put", "put-after", "delete"] as const) {
  Deno.test(`repack: a failure at "${step}" loses nothing; the next gc completes`, async () => {
    let failing: FailingStorage | undefined;
    await withRepo(async (repo) => {
      const a = await packWith(repo, labels("live", 4), labels("dead", 4));
      snapshotOf(repo, a.live, "one");
      failing!.failAt = (op, id) => op === step && (op === "delete" ? id === a.pack : true);
      await assert.rejects(repo.gc({ graceMs: 0 }), /injected failure/);
      for (const [i, id] of a.live.entries()) {
        assert.deepEqual(await repo.readPacked(id), blob(`live-${i}`, 1000), `after ${step}`);
      }
      assert.equal(countPendingDeletes(repo.kv), step === "delete" ? 1 : 0);

      const second = await repo.gc({ graceMs: 0 });
      assert.equal(second.orphans, step === "put-after" ? 1 : 0, "the new pack of the first try");
      for (const [i, id] of a.live.entries()) {
        assert.deepEqual(await repo.readPacked(id), blob(`live-${i}`, 1000));
      }
      assert.equal(countPendingDeletes(repo.kv), 0);
      assert.ok(!(await repo.objects()).includes(a.pack), "the old pack is gone");
      if (step === "delete") {
        assert.equal(second.objectsDeleted, 1, "the pending deletion is finished");
        assert.equal(second.packsRepacked, 0);
      } else {
        assert.equal(second.packsRepacked, 1);
      }
      // A new pack written just before the failure is an orphan at worst: a
      // later collection deletes it, and every live blob still reads.
      const later = await repo.gc({ graceMs: 0, now: () => NOW + 2 * HOUR });
      assert.equal(later.orphans, 0);
      assert.equal((await repo.objects()).length, 1);
      for (const [i, id] of a.live.entries()) {
        assert.deepEqual(await repo.readPacked(id), blob(`live-${i}`, 1000));
      }
    }, (local) => failing = new FailingStorage(local));
  });
}

/** A storage whose first `get` of one id waits until released. */
class GatedStorage extends FailingStorage {
  gated: string | undefined;
  readonly events: string[] = [];
  readonly #gate = Promise.withResolvers<void>();

  open(): void {
    this.#gate.resolve();
  }

  override async get(id: string): Promise<Uint8Array> {
    if (id === this.gated) {
      this.gated = undefined;
      this.events.push("read waits");
      await this.#gate.promise;
      const bytes = await super.get(id);
      this.events.push("read done");
      return bytes;
    }
    return super.get(id);
  }

  override async delete(id: string): Promise<void> {
    this.events.push(`delete ${id.slice(0, 8)}`);
    await super.delete(id);
  }
}

Deno.test("repack: an old pack goes only after the reads that found it have ended", async () => {
  let gated: GatedStorage | undefined;
  await withRepo(async (repo) => {
    const a = await packWith(repo, labels("live", 3), labels("dead", 3));
    snapshotOf(repo, a.live, "one");
    gated!.gated = a.pack;
    // A BGET found the blob in the old pack; its read of the pack is slow.
    const reading = repo.readPacked(a.live[1]);
    const collecting = repo.gc({ graceMs: 0 });
    const location = () => blobIndex.locate(repo.kv, a.live[1]);
    while ((location() as { pack: string }).pack === a.pack) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok((await repo.objects()).includes(a.pack), "not deleted while a read is in flight");
    gated!.open();
    assert.deepEqual(await reading, blob("live-1", 1000));
    const summary = await collecting;
    assert.equal(summary.packsRepacked, 1);
    assert.deepEqual(gated!.events, ["read waits", "read done", `delete ${a.pack.slice(0, 8)}`]);
    assert.deepEqual(await repo.readPacked(a.live[1]), blob("live-1", 1000), "from the new pack");
  }, (local) => gated = new GatedStorage(local));
});

Deno.test("repack: a damaged blob is reported and left in its pack; the others move", async () => {
  await withRepo(async (repo) => {
    const a = await packWith(repo, ["good", "bad"], labels("dead", 2));
    snapshotOf(repo, a.live, "one");
    const where = blobIndex.locate(repo.kv, a.live[1]) as { offset: number };
    const path = join(repo.blobsDir, a.pack.slice(0, 2), a.pack);
    await Deno.chmod(path, 0o644);
    const file = await Deno.open(path, { write: true });
    await file.seek(where.offset + 10, Deno.SeekMode.Start);
    await file.write(Uint8Array.of(0xff));
    file.close();

    const summary = await repo.gc({ graceMs: 0 });
    assert.equal(summary.repackDamaged, 1);
    assert.equal(summary.repackBlobs, 1);
    assert.equal(summary.packsRepacked, 0, "the damaged blob's pack stays");
    assert.match(repo.lines.join("\n"), new RegExp(`gc\\.damaged.*${a.live[1]}`));
    assert.deepEqual(await repo.readPacked(a.live[0]), blob("good", 1000));
    const moved = blobIndex.locate(repo.kv, a.live[0]) as { pack: string };
    assert.notEqual(moved.pack, a.pack);
    await assert.rejects(repo.readPacked(a.live[1]), BlobCorruptError);
    assert.ok((await repo.objects()).includes(a.pack));
    assert.equal(countPendingDeletes(repo.kv), 0);
    assert.equal(blobIdOf(blob("good", 1000)), a.live[0]);
  });
});

Deno.test("plannedPacks: new packs are cut at the target bytes or at the target blobs", () => {
  const candidates = new PackCandidates();
  for (const liveBlobs of [40_000, 40_000, 10]) {
    candidates.add({
      id: new Uint8Array(32),
      size: 2e6,
      liveBlobs,
      liveBytes: 8e5,
      deadBytes: 1e6,
    });
  }
  assert.equal(plannedPacks(candidates), 2, "80,000 tiny blobs are more than one pack's");
  assert.equal(plannedPacks(candidates, REPACK_TARGET_BYTES, 100_000), 1);
  assert.equal(plannedPacks(candidates, 1e6, 100_000), 3);
});
