import assert from "node:assert/strict";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { decodeRegistryValue, registryKey } from "../kv/keys.ts";
import { get, getset, range, set } from "./strings.ts";
import { hget, hset } from "./hashes.ts";
import { sadd } from "./sets.ts";
import { typeOf } from "./keyspace.ts";
import { WrongTypeError } from "./errors.ts";

const enc = new TextEncoder();
const s = (text: string) => enc.encode(text);
const texts = (values: Uint8Array[]) => values.map((v) => new TextDecoder().decode(v));

Deno.test("set and get, including empty and binary values and names", () => {
  const kv = SqliteKvStore.open(":memory:");
  assert.equal(get(kv, s("k")), undefined);
  set(kv, s("k"), s("v1"));
  set(kv, s("k"), s("value 2"));
  assert.deepEqual(get(kv, s("k")), s("value 2"));
  assert.deepEqual(decodeRegistryValue(kv.get(registryKey(s("k")))!), { type: "string", count: 7 });
  set(kv, s(""), s(""));
  assert.deepEqual(get(kv, s("")), s(""));
  assert.equal(typeOf(kv, s("")), "string");
  const binary = Uint8Array.of(0, 13, 10, 0xff, 0);
  set(kv, binary, binary);
  assert.deepEqual(get(kv, binary), binary);
  assert.equal(get(kv, binary.subarray(0, 4)), undefined);
  kv.close();
});

Deno.test("getset returns the old value and refuses other types", () => {
  const kv = SqliteKvStore.open(":memory:");
  assert.equal(getset(kv, s("k"), s("a")), undefined);
  assert.deepEqual(getset(kv, s("k"), s("b")), s("a"));
  assert.deepEqual(get(kv, s("k")), s("b"));
  hset(kv, s("h"), [[s("f"), s("v")]]);
  assert.throws(() => getset(kv, s("h"), s("x")), WrongTypeError);
  assert.deepEqual(hget(kv, s("h"), s("f")), s("v"));
  kv.close();
});

Deno.test("get of another type is WRONGTYPE; set replaces another type (as Redis)", () => {
  const kv = SqliteKvStore.open(":memory:");
  hset(kv, s("h"), [[s("f"), s("v")], [s("g"), s("w")]]);
  assert.throws(() => get(kv, s("h")), {
    name: "WrongTypeError",
    message: "WRONGTYPE Operation against a key holding the wrong kind of value",
  });
  set(kv, s("h"), s("now a string"));
  assert.equal(typeOf(kv, s("h")), "string");
  assert.deepEqual(get(kv, s("h")), s("now a string"));
  assert.equal(kv.count(Uint8Array.of(0x68), Uint8Array.of(0x69)), 0, "hash fields are gone");
  assert.throws(() => hget(kv, s("h"), s("f")), WrongTypeError);
  kv.close();
});

Deno.test("range returns values of string keys named in [start, end]", () => {
  const kv = SqliteKvStore.open(":memory:");
  for (const name of ["a", "b", "c", "d"]) set(kv, s(name), s(name.toUpperCase()));
  hset(kv, s("bb"), [[s("f"), s("hash value")]]);
  sadd(kv, s("c0"), [s("m")]);
  assert.deepEqual(texts(range(kv, s("b"), s("d"), 0)), ["B", "C", "D"]);
  assert.deepEqual(texts(range(kv, s("b"), s("d"), 2)), ["B", "C"]);
  assert.deepEqual(texts(range(kv, s("a0"), s("c"), 0)), ["B", "C"]);
  assert.deepEqual(range(kv, s("x"), s("z"), 0), []);
  assert.deepEqual(range(kv, s("d"), s("a"), 0), []);
  kv.close();
});

Deno.test("a failed write inside a transaction leaves nothing behind", () => {
  const kv = SqliteKvStore.open(":memory:");
  set(kv, s("k"), s("old"));
  assert.throws(() =>
    kv.transaction(() => {
      set(kv, s("k"), s("new"));
      set(kv, s("other"), s("x"));
      throw new Error("abort");
    })
  );
  assert.deepEqual(get(kv, s("k")), s("old"));
  assert.equal(typeOf(kv, s("other")), undefined);
  kv.close();
});
