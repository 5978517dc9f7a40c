import assert from "node:assert/strict";
import {
  blobIndexHash,
  blobIndexKey,
  blobIndexKeyOfId,
  compareBytes,
  counterKey,
  dataPrefix,
  dataSuffix,
  decodeRegistryValue,
  decodeUint64,
  encodeRegistryValue,
  encodeUint64,
  hashFieldKey,
  keyAfter,
  listIndexOf,
  listItemKey,
  prefixEnd,
  REGISTRY_END,
  REGISTRY_START,
  registryKey,
  registryName,
  setMemberKey,
  stringKey,
  typeByte,
  typeOfByte,
  UINT64_MAX,
} from "./keys.ts";

const enc = new TextEncoder();
const b = (...bytes: number[]) => Uint8Array.from(bytes);
const s = (text: string) => enc.encode(text);
const hex = (bytes: Uint8Array) => bytes.toHex();

function assertSorted(keys: Uint8Array[], what: string): void {
  for (let i = 1; i < keys.length; i++) {
    assert.ok(
      compareBytes(keys[i - 1], keys[i]) < 0,
      `${what}: ${hex(keys[i - 1])} should sort before ${hex(keys[i])}`,
    );
  }
}

function within(key: Uint8Array, prefix: Uint8Array): boolean {
  const end = prefixEnd(prefix);
  return compareBytes(key, prefix) >= 0 && (end === undefined || compareBytes(key, end) < 0);
}

Deno.test("compareBytes is memcmp with shorter first", () => {
  assertSorted(
    [b(), b(0), b(0, 0), b(0, 1), b(0x7f), b(0x7f, 0), b(0x80), b(0xff), b(0xff, 0)],
    "",
  );
  assert.equal(compareBytes(s("ab"), s("ab")), 0);
});

Deno.test("examples of each encoding in hex", () => {
  assert.equal(hex(registryKey(s("ab"))), "4b6162");
  assert.equal(hex(stringKey(s("ab"))), "73000000026162");
  assert.equal(hex(hashFieldKey(s("ab"), s("f"))), "68000000026162" + "66");
  assert.equal(hex(setMemberKey(s("ab"), s("m"))), "53000000026162" + "6d");
  assert.equal(hex(listItemKey(s("ab"), 258n)), "6c000000026162" + "0000000000000102");
  assert.equal(hex(encodeRegistryValue("hash", 3)), "680000000000000003");
  assert.equal(hex(counterKey("gen")), "0063" + "67656e");
  const hash = new Uint8Array(32).fill(0xab);
  assert.equal(hex(blobIndexKey(hash)), "0062" + "ab".repeat(32));
  assert.deepEqual(blobIndexHash(blobIndexKey(hash)), hash);
  assert.deepEqual(blobIndexKeyOfId("ab".repeat(32)), blobIndexKey(hash));
});

Deno.test("registry keys sort by name in byte order and stay in the registry range", () => {
  const names = [b(), b(0), b(0, 0), s("a"), s("a\0"), s("ab"), s("b"), b(0x7f), b(0x80), b(0xff)];
  const keys = names.map(registryKey);
  assertSorted(keys, "registry");
  for (const [i, key] of keys.entries()) {
    assert.ok(compareBytes(key, REGISTRY_START) >= 0 && compareBytes(key, REGISTRY_END) < 0);
    assert.deepEqual(registryName(key), names[i]);
  }
});

Deno.test("fields of one hash sort in byte order within the hash's range", () => {
  const fields = [b(), b(0), b(0, 0), b(1), s("\r\n"), s("a"), s("ab"), b(0x7f), b(0x80), b(0xff)];
  const name = s("h");
  const prefix = dataPrefix("hash", name);
  const keys = fields.map((f) => hashFieldKey(name, f));
  assertSorted(keys, "fields");
  for (const [i, key] of keys.entries()) {
    assert.ok(within(key, prefix));
    assert.deepEqual(dataSuffix(key, prefix.length), fields[i]);
  }
});

Deno.test("list indexes sort numerically and round-trip", () => {
  const indexes = [0n, 1n, 255n, 256n, 65535n, 65536n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n];
  indexes.push(UINT64_MAX - 1n, UINT64_MAX);
  const name = s("l");
  const prefix = dataPrefix("list", name);
  const keys = indexes.map((i) => listItemKey(name, i));
  assertSorted(keys, "list");
  for (const [i, key] of keys.entries()) {
    assert.ok(within(key, prefix));
    assert.equal(listIndexOf(key, prefix.length), indexes[i]);
  }
  assert.throws(() => listItemKey(name, -1n), RangeError);
  assert.throws(() => listItemKey(name, UINT64_MAX + 1n), RangeError);
});

Deno.test("different keys never interleave, including names that prefix each other", () => {
  const names = [b(), b(0), b(0, 0), s("a"), s("a\0"), s("a\xff"), s("ab"), s("abc"), b(0xff)];
  const suffixes = [b(), b(0), s("a"), s("ab"), b(0xff), b(0xff, 0xff), new Uint8Array(300)];
  for (const type of ["hash", "set"] as const) {
    for (const x of names) {
      for (const y of names) {
        if (compareBytes(x, y) === 0) continue;
        const py = dataPrefix(type, y);
        for (const suffix of suffixes) {
          const key = type === "hash" ? hashFieldKey(x, suffix) : setMemberKey(x, suffix);
          assert.ok(!within(key, py), `${hex(key)} must not fall in the range of ${hex(py)}`);
        }
      }
    }
  }
  // Whole ranges are disjoint and ordered like their prefixes.
  const prefixes = names.map((n) => dataPrefix("hash", n)).sort(compareBytes);
  for (let i = 1; i < prefixes.length; i++) {
    assert.ok(compareBytes(prefixEnd(prefixes[i - 1])!, prefixes[i]) <= 0);
  }
});

Deno.test("types live in separate ranges, apart from the registry and system area", () => {
  const name = s("x");
  const starts = [
    counterKey("z"),
    blobIndexKey(new Uint8Array(32).fill(0xff)),
    registryKey(b(0xff, 0xff)),
  ];
  for (const start of starts) {
    for (const type of ["string", "hash", "set", "list"] as const) {
      assert.ok(compareBytes(start, dataPrefix(type, name)) < 0);
    }
  }
  assert.deepEqual([..."sShl"].map((c) => typeOfByte(c.charCodeAt(0))), [
    "string",
    "set",
    "hash",
    "list",
  ]);
  assert.equal(typeByte("set"), 0x53);
  assert.throws(() => typeOfByte(0x78), RangeError);
});

Deno.test("prefixEnd and keyAfter bound exactly", () => {
  assert.deepEqual(prefixEnd(b(1, 2)), b(1, 3));
  assert.deepEqual(prefixEnd(b(1, 0xff)), b(2));
  assert.deepEqual(prefixEnd(b(1, 0xff, 0xff)), b(2));
  assert.equal(prefixEnd(b(0xff, 0xff)), undefined);
  assert.equal(prefixEnd(b()), undefined);
  assert.deepEqual(keyAfter(b(1, 0xff)), b(1, 0xff, 0));
  const prefix = b(1, 0xff);
  assert.ok(within(b(1, 0xff, 0xff, 0xff), prefix));
  assert.ok(!within(b(2), prefix));
  assert.ok(!within(b(1, 0xfe, 0xff), prefix));
});

Deno.test("registry values round-trip", () => {
  for (const count of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    assert.deepEqual(decodeRegistryValue(encodeRegistryValue("list", count)), {
      type: "list",
      count,
    });
  }
  assert.throws(() => encodeRegistryValue("set", -1), RangeError);
  assert.throws(() => encodeRegistryValue("set", 1.5), RangeError);
  assert.throws(() => decodeRegistryValue(b(0x68)), RangeError);
  assert.throws(() => decodeRegistryValue(b(0x78, 0, 0, 0, 0, 0, 0, 0, 0)), RangeError);
});

Deno.test("uint64 values round-trip, also from views", () => {
  for (const value of [0n, 1n, 256n, 2n ** 53n + 1n, UINT64_MAX]) {
    const bytes = encodeUint64(value);
    assert.equal(decodeUint64(bytes), value);
    const padded = new Uint8Array(11);
    padded.set(bytes, 3);
    assert.equal(decodeUint64(padded.subarray(1), 2), value);
  }
  assert.throws(() => decodeUint64(b(1, 2, 3)), RangeError);
  assert.throws(() => blobIndexKey(new Uint8Array(31)), RangeError);
  assert.throws(() => blobIndexKeyOfId("ab".repeat(31)), RangeError);
  assert.throws(() => blobIndexKeyOfId("AB".repeat(32)), RangeError);
  assert.throws(() => blobIndexHash(counterKey("x")), RangeError);
  assert.throws(() => registryName(stringKey(s("x"))), RangeError);
});
