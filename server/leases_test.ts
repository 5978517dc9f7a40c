import assert from "node:assert/strict";
import { LeaseConflictError, LeaseNotHeldError, LeaseTable, TOMBSTONE_MS } from "./leases.ts";

function table(): { leases: LeaseTable; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { leases: new LeaseTable("db1", () => clock.now), clock };
}

Deno.test("leases: backups share; gc excludes them and other gcs", () => {
  const { leases, clock } = table();
  leases.acquire("backup", "b1", 1000);
  leases.acquire("backup", "b2", 2000);
  assert.throws(
    () => leases.acquire("gc", "g1", 1000),
    (error: unknown) =>
      error instanceof LeaseConflictError && error.holders.length === 2 &&
      /Cannot take gc lease "g1" on database "db1": backups are running: backup lease "b1" until 1970-01-01T00:16:41\.000Z \(1s from now\), backup lease "b2"/
        .test(error.message),
  );
  assert.equal(leases.release("b1"), true);
  assert.equal(leases.release("b1"), false);
  clock.now += 2000;
  // b2 has expired: the gc goes ahead.
  leases.acquire("gc", "g1", Infinity);
  assert.throws(
    () => leases.acquire("backup", "b3", 1000),
    /a garbage collection is running: gc lease "g1" until it ends/,
  );
  assert.throws(() => leases.acquire("gc", "g2", 1000), /gc lease "g1"/);
  assert.deepEqual(leases.list().map((l) => [l.kind, l.id]), [["gc", "g1"]]);
  leases.release("g1");
  leases.acquire("backup", "b3", 1000);
  assert.deepEqual(leases.list().map((l) => l.id), ["b3"]);
});

Deno.test("leases: an expired lease renews until the other kind is taken", () => {
  const { leases, clock } = table();
  leases.acquire("backup", "slow", 100);
  clock.now += 500;
  assert.equal(leases.holds("slow"), false);
  assert.deepEqual(leases.list(), []);
  // Nothing happened meanwhile: the late renewal is fine.
  assert.equal(leases.renew("slow", 100).expiresAt, clock.now + 100);
  assert.equal(leases.holds("slow"), true);
  clock.now += 500;
  leases.acquire("gc", "g", 100);
  assert.throws(
    () => leases.renew("slow", 100),
    (error: unknown) =>
      error instanceof LeaseNotHeldError && error.id === "slow" &&
      /Cannot renew lease "slow" on database "db1": it is not held/.test(error.message),
  );
  // And the other way round: a gc that lost its lease to a backup cannot renew.
  clock.now += 500;
  leases.acquire("backup", "next", 100);
  assert.throws(() => leases.renew("g", 100), LeaseNotHeldError);
});

Deno.test("leases: same holder extends; an id keeps its kind; tombstones are dropped in time", () => {
  const { leases, clock } = table();
  const first = leases.acquire("backup", "b", 100);
  clock.now += 50;
  const again = leases.acquire("backup", "b", 100);
  assert.equal(again.acquiredAt, first.acquiredAt);
  assert.equal(again.expiresAt, clock.now + 100);
  assert.throws(() => leases.acquire("gc", "b", 100), /the id already names a backup lease/);
  clock.now += TOMBSTONE_MS + 1000;
  leases.acquire("backup", "other", 100);
  assert.throws(() => leases.renew("b", 100), LeaseNotHeldError);
});

/** A connection as leases see it: closing runs the hooks. */
class Owner {
  #hooks: (() => void)[] = [];
  onClose(hook: () => void): void {
    this.#hooks.push(hook);
  }
  close(): void {
    for (const hook of this.#hooks.splice(0)) hook();
  }
  get hooks(): number {
    return this.#hooks.length;
  }
}

Deno.test("leases: a connection's leases expire when it closes, and renew from another", () => {
  const { leases, clock } = table();
  const crashed = new Owner();
  const ended: string[][] = [];
  leases.acquire("backup", "b1", 120_000, crashed);
  leases.watch(crashed, (l) => ended.push(l.map((x) => x.id)));
  leases.acquire("backup", "b2", 120_000, crashed);
  leases.renew("b2", 120_000, crashed);
  leases.watch(crashed, () => assert.fail("watched once per owner"));
  assert.equal(crashed.hooks, 1);
  const other = new Owner();
  leases.acquire("backup", "theirs", 120_000, other);
  leases.acquire("backup", "unowned", 120_000);
  leases.release("b1");
  leases.acquire("backup", "b1", 120_000, crashed);

  crashed.close();
  assert.deepEqual(ended.map((ids) => ids.sort()), [["b1", "b2"]]);
  assert.deepEqual(leases.list().map((l) => l.id), ["theirs", "unowned"]);
  // A tombstone: the holder may renew it from a new connection while no gc ran.
  const reconnected = new Owner();
  leases.renew("b2", 120_000, reconnected);
  assert.equal(leases.holds("b2"), true);
  crashed.close();
  assert.equal(leases.holds("b2"), true, "b2 now belongs to the new connection");

  other.close();
  reconnected.close();
  clock.now += 120_001;
  leases.acquire("gc", "g", Infinity);
  assert.throws(() => leases.renew("b1", 100), LeaseNotHeldError, "a gc ran: b1 is gone");
  assert.deepEqual(leases.list().map((l) => l.id), ["g"]);
});

Deno.test("leases: a closed connection's backup lease lets gc in at once", () => {
  const { leases } = table();
  const backup = new Owner();
  leases.acquire("backup", "b", 120_000, backup);
  leases.watch(backup, () => {});
  assert.throws(() => leases.acquire("gc", "g", Infinity), LeaseConflictError);
  backup.close();
  leases.acquire("gc", "g", Infinity);
  assert.throws(() => leases.renew("b", 100), LeaseNotHeldError);
});
