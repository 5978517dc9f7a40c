import assert from "node:assert/strict";
import { GroupSync } from "./group_sync.ts";

/** A flush whose runs the test ends by hand. */
class ManualFlush {
  readonly pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly flush = (): Promise<void> => {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.pending.push({ resolve, reject });
    return promise;
  };
  /** Ends the oldest unfinished run. */
  finish(error?: Error): void {
    const run = this.pending.shift();
    if (!run) throw new Error("Cannot finish a run: none is in progress");
    if (error) run.reject(error);
    else run.resolve();
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("GroupSync starts a run at once when idle", async () => {
  const flush = new ManualFlush();
  const group = new GroupSync(flush.flush);
  const done = group.sync();
  assert.equal(group.runs, 1);
  flush.finish();
  await done;
});

Deno.test("GroupSync coalesces callers arriving during a run into one next run", async () => {
  const flush = new ManualFlush();
  const group = new GroupSync(flush.flush);
  const order: string[] = [];
  const first = group.sync().then(() => order.push("first"));
  const later = Array.from({ length: 10 }, (_, i) => group.sync().then(() => order.push(`l${i}`)));
  assert.equal(group.runs, 1, "the queued run must not start while one is running");
  flush.finish();
  await first;
  await tick();
  assert.equal(group.runs, 2);
  assert.deepEqual(order, ["first"], "later callers wait for a run that started after them");
  flush.finish();
  await Promise.all(later);
  assert.equal(group.runs, 2);
  assert.equal(order.length, 11);
});

Deno.test("GroupSync: a caller during the queued run's flight waits for a third run", async () => {
  const flush = new ManualFlush();
  const group = new GroupSync(flush.flush);
  const a = group.sync();
  const b = group.sync();
  flush.finish();
  await a;
  await tick();
  assert.equal(group.runs, 2);
  let cDone = false;
  const c = group.sync().then(() => (cDone = true));
  flush.finish();
  await b;
  await tick();
  assert.equal(cDone, false);
  assert.equal(group.runs, 3);
  flush.finish();
  await c;
});

Deno.test("GroupSync rejects the waiters of a failed run and recovers", async () => {
  const flush = new ManualFlush();
  const group = new GroupSync(flush.flush);
  const a = group.sync();
  flush.finish(new Error("disk on fire"));
  await assert.rejects(a, /disk on fire/);
  const b = group.sync();
  assert.equal(group.runs, 2);
  flush.finish();
  await b;
});

Deno.test("GroupSync: a failed run still lets the queued run start", async () => {
  const flush = new ManualFlush();
  const group = new GroupSync(flush.flush);
  const a = group.sync();
  const b = group.sync();
  flush.finish(new Error("transient"));
  await assert.rejects(a, /transient/);
  await tick();
  flush.finish();
  await b;
  assert.equal(group.runs, 2);
});
