import assert from "node:assert/strict";
import { decodeDigestKey, DigestKeyMap } from "./digest_key_map.ts";

const hex = (byte: number) => byte.toString(16).padStart(2, "0").repeat(32);

Deno.test("decodeDigestKey: the prefix then 64 lowercase hex digits, nothing else", () => {
  const out = new Uint8Array(32);
  assert.equal(decodeDigestKey(`c:${hex(0xab)}`, "c:", out), true);
  assert.deepEqual(out, new Uint8Array(32).fill(0xab));
  assert.equal(decodeDigestKey(hex(0x01), "", out), true);
  assert.equal(out[31], 1);
  assert.equal(decodeDigestKey(`m:${hex(0xab)}`, "c:", out), false, "another prefix");
  assert.equal(decodeDigestKey(`c:${hex(0xab).toUpperCase()}`, "c:", out), false, "uppercase");
  assert.equal(decodeDigestKey(`c:${hex(0xab)}0`, "c:", out), false, "too long");
  assert.equal(decodeDigestKey(`c:${hex(0xab).slice(2)}zz`, "c:", out), false, "not hex");
});

Deno.test("DigestKeyMap: digest-named and other keys, each exact", () => {
  const map = new DigestKeyMap("m:", 2);
  const a = `m:${hex(0xab)}`;
  const upper = `m:${hex(0xab).toUpperCase()}`;
  map.set(a, 3, 4);
  map.set(upper, 5);
  map.set("m:odd");
  assert.equal(map.size, 3);
  assert.equal(map.has(a), true);
  assert.equal(map.get(a, 0), 3);
  assert.equal(map.get(a, 1), 4);
  assert.equal(map.get(upper, 0), 5, "uppercase names another key");
  assert.equal(map.get(upper, 1), 0);
  assert.equal(map.get("m:odd", 1), 0);
  assert.equal(map.get(`m:${hex(0x12)}`, 0), undefined);
  assert.equal(map.has("m:other"), false);
  assert.equal(map.update(a, 1, 9), true);
  assert.equal(map.get(a, 1), 9);
  assert.equal(map.update("m:odd", 0, 7), true);
  assert.equal(map.get("m:odd", 0), 7);
  assert.equal(map.update(`m:${hex(0x12)}`, 0, 1), false);
  assert.equal(map.update("m:none", 0, 1), false);
  assert.throws(() => map.set(a, 1, 2, 3), RangeError);
  assert.ok(map.byteLength > 0);
});
