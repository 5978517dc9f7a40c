import assert from "node:assert/strict";
import { GroupCommitter } from "./group_commit.ts";
import { SqliteKvStore } from "./kv/sqlite_kv_store.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("GroupCommitter runs jobs of one turn in one transaction, in order", async () => {
  const kv = SqliteKvStore.open(":memory:");
  try {
    const committer = new GroupCommitter(kv);
    const order: number[] = [];
    const results = await Promise.all([1, 2, 3].map((n) =>
      committer.submit(() => {
        assert.ok(kv.inTransaction);
        order.push(n);
        kv.set(bytes(`k${n}`), bytes(`v${n}`));
        return n * 10;
      })
    ));
    assert.deepEqual(order, [1, 2, 3]);
    assert.deepEqual(results, [10, 20, 30]);
    assert.deepEqual(kv.get(bytes("k2")), bytes("v2"));
  } finally {
    kv.close();
  }
});

Deno.test("GroupCommitter: a failing job or a failed commit fails the whole group", async () => {
  const kv = SqliteKvStore.open(":memory:");
  try {
    const committer = new GroupCommitter(kv);
    const settled = await Promise.allSettled([
      committer.submit(() => kv.set(bytes("a"), bytes("1"))),
      committer.submit(() => {
        throw new Error("job failed");
      }),
    ]);
    assert.deepEqual(settled.map((o) => o.status), ["rejected", "rejected"]);
    assert.equal(kv.get(bytes("a")), undefined, "the group was rolled back");

    // A commit that fails (disk full, I/O error) rejects every job of its group.
    const failingCommit = Object.create(kv, {
      transaction: {
        value<T>(fn: () => T): T {
          kv.transaction(() => {
            fn();
            throw new Error("disk I/O error");
          });
          throw new Error("unreachable");
        },
      },
    });
    const failing = new GroupCommitter(failingCommit);
    const outcome = await Promise.allSettled([
      failing.submit(() => kv.set(bytes("b"), bytes("2"))),
      failing.submit(() => 1),
    ]);
    assert.deepEqual(outcome.map((o) => o.status), ["rejected", "rejected"]);
    assert.equal(kv.get(bytes("b")), undefined, "nothing of the failed group is committed");
  } finally {
    kv.close();
  }
});
