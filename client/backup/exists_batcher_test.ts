import assert from "node:assert/strict";
import { ExistsBatcher } from "./exists_batcher.ts";

Deno.test("ExistsBatcher answers questions of one turn with one call", async () => {
  const calls: string[][] = [];
  const batcher = new ExistsBatcher((ids) => {
    calls.push([...ids]);
    return Promise.resolve(ids.map((id) => id.startsWith("y")));
  });
  const answers = await Promise.all(["y1", "n1", "y2"].map((id) => batcher.has(id)));
  assert.deepEqual(answers, [true, false, true]);
  assert.deepEqual(calls, [["y1", "n1", "y2"]]);
});

Deno.test("ExistsBatcher sends a full batch at once and splits larger ones", async () => {
  const calls: number[] = [];
  const batcher = new ExistsBatcher((ids) => {
    calls.push(ids.length);
    return Promise.resolve(ids.map(() => false));
  }, 4);
  const ids = Array.from({ length: 10 }, (_, i) => `id${i}`);
  const answers = await Promise.all(ids.map((id) => batcher.has(id)));
  assert.equal(answers.length, 10);
  assert.deepEqual(calls, [4, 4, 2]);
});

Deno.test("ExistsBatcher rejects every question of a failed call", async () => {
  const batcher = new ExistsBatcher(() => Promise.reject(new Error("connection lost")));
  const results = await Promise.allSettled([batcher.has("a"), batcher.has("b")]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
});

Deno.test("ExistsBatcher refuses an answer of the wrong length", async () => {
  const batcher = new ExistsBatcher(() => Promise.resolve([true]));
  await assert.rejects(
    Promise.all([batcher.has("a"), batcher.has("b")]),
    /Cannot check 2 blobs: the server answered 1 times/,
  );
});

Deno.test("ExistsBatcher refuses a batch size that is not a positive integer", () => {
  assert.throws(() => new ExistsBatcher(() => Promise.resolve([]), 0), RangeError);
});
