import assert from "node:assert/strict";
import { compareBytes } from "./keys.ts";
import { type KeySource, PresenceFilter } from "./presence_filter.ts";

const encoder = new TextEncoder();
const key = (n: number) => encoder.encode(`k:${String(n).padStart(8, "0")}`);

/** A sorted set of keys that counts its reads. */
class Keys implements KeySource {
  keys: Uint8Array[] = [];
  reads = 0;
  insert(k: Uint8Array): void {
    this.keys.push(k);
    this.keys.sort(compareBytes);
  }
  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    this.reads++;
    const from = after === undefined ? 0 : this.keys.findIndex((k) => compareBytes(k, after) > 0);
    return from < 0 ? [] : this.keys.slice(from, from + limit);
  }
}

/** A scheduler run by hand: `run()` does what waits, in order. */
class Tasks {
  #queue: (() => void)[] = [];
  schedule = (task: () => void) => {
    this.#queue.push(task);
    return () => {
      this.#queue = this.#queue.filter((t) => t !== task);
    };
  };
  get waiting(): number {
    return this.#queue.length;
  }
  run(): void {
    while (this.#queue.length > 0) this.#queue.shift()!();
  }
}

Deno.test("PresenceFilter of a small store is ready at once and never misses a key", () => {
  const source = new Keys();
  for (let i = 0; i < 100; i++) source.insert(key(i));
  const tasks = new Tasks();
  const filter = new PresenceFilter(source, { pageKeys: 1000, schedule: tasks.schedule });
  assert.equal(filter.ready, true);
  assert.equal(tasks.waiting, 0);
  for (let i = 0; i < 100; i++) assert.equal(filter.mayContain(key(i)), true);
  let positives = 0;
  for (let i = 100; i < 10_100; i++) if (filter.mayContain(key(i))) positives++;
  assert.ok(positives < 200, `${positives} false positives of 10,000`);
  filter.add(key(5000));
  assert.equal(filter.mayContain(key(5000)), true);
});

Deno.test("PresenceFilter answers maybe until its scan is done, and adds keys written meanwhile", () => {
  const source = new Keys();
  for (let i = 0; i < 1000; i += 2) source.insert(key(i));
  const tasks = new Tasks();
  const filter = new PresenceFilter(source, { pageKeys: 100, schedule: tasks.schedule });
  assert.equal(filter.ready, false);
  assert.equal(filter.mayContain(key(1)), true, "unready: every key may be stored");
  // Written during the scan: one behind the scan's position, one ahead.
  for (const n of [1, 999]) {
    filter.add(key(n));
    source.insert(key(n));
  }
  tasks.run();
  assert.equal(filter.ready, true);
  for (const k of source.keys) assert.equal(filter.mayContain(k), true);
  filter.close();
});

Deno.test("PresenceFilter grows in a task of its own, answering from the full filter meanwhile", () => {
  const source = new Keys();
  const tasks = new Tasks();
  const filter = new PresenceFilter(source, {
    expectedKeys: 1024,
    pageKeys: 500,
    schedule: tasks.schedule,
  });
  assert.equal(filter.ready, true);
  const readsBefore = source.reads;
  for (let i = 0; i < 5000; i++) {
    // As a store does: the key is added first, written to SQLite later (a
    // scan inside the caller's transaction would not see it yet).
    filter.add(key(i));
    source.insert(key(i));
  }
  assert.equal(source.reads, readsBefore, "no scan while keys are being added");
  assert.ok(tasks.waiting > 0, "a bigger filter is on its way");
  for (let i = 0; i < 5000; i++) assert.equal(filter.mayContain(key(i)), true);
  tasks.run();
  for (let i = 0; i < 5000; i++) assert.equal(filter.mayContain(key(i)), true);
  let positives = 0;
  for (let i = 5000; i < 15_000; i++) if (filter.mayContain(key(i))) positives++;
  assert.ok(positives < 300, `${positives} false positives of 10,000 after growing`);
});

Deno.test("PresenceFilter.reset sees keys another writer stored; close stops the scan", () => {
  const source = new Keys();
  const tasks = new Tasks();
  const filter = new PresenceFilter(source, { pageKeys: 10, schedule: tasks.schedule });
  assert.equal(filter.mayContain(key(7)), false);
  for (let i = 0; i < 50; i++) source.insert(key(i)); // behind the filter's back
  filter.reset();
  assert.equal(filter.ready, false);
  assert.equal(filter.mayContain(key(7)), true);
  tasks.run();
  assert.equal(filter.ready, true);
  for (let i = 0; i < 50; i++) assert.equal(filter.mayContain(key(i)), true);

  filter.reset();
  assert.equal(tasks.waiting, 1);
  filter.close();
  assert.equal(tasks.waiting, 0);
  assert.equal(filter.mayContain(key(1000)), true, "closed unready: still never a miss");
});

Deno.test("PresenceFilter does not grow when the same few keys are written over and over", () => {
  const source = new Keys();
  for (let i = 0; i < 10; i++) source.insert(key(i));
  const tasks = new Tasks();
  const filter = new PresenceFilter(source, {
    expectedKeys: 1024,
    pageKeys: 500,
    schedule: tasks.schedule,
  });
  for (let round = 0; round < 1000; round++) {
    for (let i = 0; i < 10; i++) filter.add(key(i));
    tasks.run();
  }
  assert.equal(filter.capacity, 1024);
  for (let i = 0; i < 10; i++) assert.equal(filter.mayContain(key(i)), true);
});
