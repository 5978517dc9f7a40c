import assert from "node:assert/strict";
import { SharedSlabs, type SlabMessage } from "./shared_slabs.ts";

Deno.test("SharedSlabs sends each slab to a worker once and reuses released ones", () => {
  const slabs = new SharedSlabs(1024);
  const sent: [string, SlabMessage][] = [];
  const worker = (name: string) => ({ postMessage: (m: SlabMessage) => sent.push([name, m]) });
  const a = worker("a");
  const b = worker("b");
  const givenA = new Set<number>();
  const givenB = new Set<number>();

  const first = slabs.lend(a, givenA);
  const second = slabs.lend(a, givenA);
  assert.notEqual(first, second);
  assert.deepEqual(sent.map(([name, m]) => [name, m.index]), [["a", first], ["a", second]]);
  assert.equal(sent[0][1].buffer, slabs.bytes(first).buffer);
  assert.equal(slabs.bytes(first).length, 1024);

  // Released and lent again: to the same worker without a message, to another with one.
  slabs.release(first);
  assert.equal(slabs.lend(a, givenA), first);
  assert.equal(sent.length, 2);
  slabs.release(first);
  assert.equal(slabs.lend(b, givenB), first);
  assert.deepEqual(sent.at(-1)?.[0], "b");
  assert.deepEqual([...givenB], [first]);

  assert.throws(() => slabs.bytes(99), RangeError);
  assert.throws(() => new SharedSlabs(0), RangeError);
});
