import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DigestMap } from "./digest_map.ts";

function digest(i: number): Uint8Array {
  return new Uint8Array(createHash("sha256").update(String(i)).digest());
}

Deno.test("DigestMap: values follow their digests across growth", () => {
  const map = new DigestMap(2, 4);
  for (let i = 0; i < 20_000; i += 2) {
    const h = map.insert(digest(i));
    map.set(h, 0, i);
    map.set(h, 1, -i / 2);
  }
  assert.equal(map.size, 10_000);
  for (let i = 0; i < 20_000; i++) {
    const h = map.find(digest(i));
    if (i % 2 === 1) {
      assert.equal(h, -1, `${i}`);
      continue;
    }
    assert.ok(h >= 0, `${i}`);
    assert.equal(map.get(h, 0), i);
    assert.equal(map.get(h, 1), -i / 2);
  }
  assert.ok(map.byteLength <= 10_000 * (43 + 16) + 4096 * 48, "43 bytes and the values each");
});

Deno.test("DigestMap: inserting a digest again keeps its entry and values", () => {
  const map = new DigestMap(1);
  const a = new Uint8Array(32);
  map.set(map.insert(a), 0, 7);
  const b = a.slice();
  b[31] = 1;
  assert.equal(map.find(b), -1, "one byte apart");
  assert.equal(map.get(map.insert(a.slice()), 0), 7);
  assert.equal(map.size, 1);
  assert.equal(map.has(new Uint8Array(31)), false);
  assert.throws(() => map.insert(new Uint8Array(33)), RangeError);
  assert.throws(() => new DigestMap(-1), RangeError);
});

Deno.test("DigestMap: width 0 is a set; counters as digests (not random) are found too", () => {
  const map = new DigestMap(0, 100_000);
  const d = new Uint8Array(32);
  const view = new DataView(d.buffer);
  for (let i = 0; i < 100_000; i++) {
    view.setUint32(0, i);
    map.insert(d);
  }
  assert.equal(map.size, 100_000);
  assert.ok(map.byteLength / map.size <= 44, `${map.byteLength / map.size} bytes each`);
  view.setUint32(0, 100_000);
  assert.equal(map.has(d), false);
  view.setUint32(0, 99_999);
  assert.equal(map.has(d), true);
});
