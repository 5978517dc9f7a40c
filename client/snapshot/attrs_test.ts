import assert from "node:assert/strict";
import { AttrsError, decodeAttrs, encodeAttrs } from "./attrs.ts";
import type { NodeMeta } from "./schema.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const hex = (data: Uint8Array) => Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text: string) =>
  new Uint8Array(text.match(/../g)!.map((pair) => parseInt(pair, 16)));

const FILE: NodeMeta = {
  name: bytes("a.txt"),
  type: "file",
  size: 300,
  mode: 0o644,
  uid: 1000,
  gid: 100,
  mtimeNs: 1_700_000_000_123_456_789n,
  ref: "c:ignored",
};

Deno.test("encodeAttrs writes the documented layout (pinned: ids depend on it)", () => {
  // 02 format, 66 'f', ac02 = 300, a403 = 0o644, e807 = 1000, 64 = 100,
  // zigzag mtime, 05 "a.txt".
  assert.equal(
    hex(encodeAttrs(FILE)),
    "0266ac02a403e80764aab4aed8c7bfce972f05612e747874",
  );
  const link = encodeAttrs({
    ...FILE,
    type: "symlink",
    size: 0,
    mode: 0o777,
    mtimeNs: -5n,
    target: bytes("../x"),
    links: "1:2",
  });
  // 6c 'l', 00 size, ff03 = 0o777, 09 = zigzag(-5), then 't' "../x" and 'k' "1:2".
  assert.equal(hex(link), "026c00ff03e807640905612e74787474042e2e2f786b03313a32");
});

Deno.test("decodeAttrs reads back every attribute, ref aside", () => {
  const odd: NodeMeta = {
    name: new Uint8Array([0xff, 0x0a, 0x00, 0x2f]),
    type: "fifo",
    size: Number.MAX_SAFE_INTEGER,
    mode: 0o7777,
    uid: 2 ** 32 - 2,
    gid: 0,
    mtimeNs: -(2n ** 62n),
  };
  assert.deepEqual(decodeAttrs(encodeAttrs(odd)), odd);
  const { ref: _, ...rest } = FILE;
  assert.deepEqual(decodeAttrs(encodeAttrs(FILE)), rest);
  const link = { ...rest, type: "symlink" as const, target: bytes("t"), links: "5:6" };
  assert.deepEqual(decodeAttrs(encodeAttrs(link)), link);
});

Deno.test("decodeAttrs reads integers of every varint length", () => {
  // Up to 7 groups are read as a number, longer ones with BigInt: both agree.
  for (let k = 0; k <= 53; k++) {
    for (const size of [2 ** k - 1, Math.min(2 ** k, Number.MAX_SAFE_INTEGER)]) {
      const meta: NodeMeta = { ...FILE, size, uid: size, ref: undefined };
      delete meta.ref;
      assert.deepEqual(decodeAttrs(encodeAttrs(meta)), meta, `size ${size}`);
    }
  }
  for (let k = 0n; k <= 62n; k++) {
    for (const mtimeNs of [2n ** k - 1n, 2n ** k, -(2n ** k)]) {
      const { ref: _, ...meta } = { ...FILE, mtimeNs };
      assert.deepEqual(decodeAttrs(encodeAttrs(meta)), meta, `mtime ${mtimeNs}`);
    }
  }
});

Deno.test("decodeAttrs refuses malformed bytes with AttrsError", () => {
  const good = encodeAttrs(FILE);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(), /truncated before the format/],
    [unhex("0166"), /unknown format 1/],
    [unhex("0278"), /unknown type code/],
    [good.subarray(0, good.length - 1), /truncated in the name/],
    [new Uint8Array([...good, 0x74]), /truncated before the length of the symlink target/],
    [new Uint8Array([...good, 0x99, 0x00]), /unknown tag/],
    [new Uint8Array([...good, 0x6b, 0x00, 0x74, 0x00]), /out of order/],
    [unhex("0266ac0280"), /truncated before the mode/],
    [unhex("02668000"), /not minimally encoded/],
    [unhex("0266ffffffffffffff00"), /the size is not minimally encoded/],
    [unhex("0266808080808080808080808001"), /the size is longer than 10 bytes/],
    [unhex("02668080808080808010"), /the size is too large/],
    [unhex("0266ffffffffffffff"), /truncated before the size/],
    [unhex("026600ffff03"), /more than permission bits/],
  ];
  for (const [data, message] of cases) {
    assert.throws(
      () => decodeAttrs(data),
      (e) => e instanceof AttrsError && message.test(e.message),
    );
  }
});

Deno.test("encodeAttrs refuses sizes and owners that are not safe integers", () => {
  assert.throws(() => encodeAttrs({ ...FILE, size: -1 }), RangeError);
  assert.throws(() => encodeAttrs({ ...FILE, uid: 1.5 }), RangeError);
});
