import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DigestSet } from "./digest_set.ts";

function digest(i: number): Uint8Array {
  return new Uint8Array(createHash("sha256").update(String(i)).digest());
}

Deno.test("DigestSet: exact membership across growth", () => {
  const set = new DigestSet(4);
  for (let i = 0; i < 10_000; i += 2) assert.equal(set.add(digest(i)), true);
  assert.equal(set.size, 5000);
  for (let i = 0; i < 10_000; i++) assert.equal(set.has(digest(i)), i % 2 === 0, `${i}`);
  assert.equal(set.add(digest(0)), false, "already there");
  assert.equal(set.size, 5000);
  assert.ok(set.byteLength <= 5000 * 43 + 4096 * 32, "43 bytes each, and a partly used chunk");
});

Deno.test("DigestSet: digests differing in one byte are told apart; other lengths refused", () => {
  const set = new DigestSet();
  const a = new Uint8Array(32);
  const b = new Uint8Array(32);
  b[31] = 1;
  set.add(a);
  assert.equal(set.has(a), true);
  assert.equal(set.has(b), false);
  assert.equal(set.has(new Uint8Array(31)), false);
  assert.throws(() => set.add(new Uint8Array(33)), RangeError);
});
