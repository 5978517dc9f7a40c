import assert from "node:assert/strict";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { hdel, hexists, hget, hgetall, hlen, hscan, hset } from "./hashes.ts";
import { set } from "./strings.ts";
import { sadd } from "./sets.ts";
import { dbsize, typeOf } from "./keyspace.ts";
import { WrongTypeError } from "./errors.ts";

const enc = new TextEncoder();
const s = (text: string) => enc.encode(text);
const dec = (v: Uint8Array) => new TextDecoder().decode(v);

Deno.test("hset counts new fields; hget, hexists, hlen", () => {
  const kv = SqliteKvStore.open(":memory:");
  assert.equal(hset(kv, s("h"), [[s("a"), s("1")], [s("b"), s("2")]]), 2);
  assert.equal(hset(kv, s("h"), [[s("b"), s("22")], [s("c"), s("3")], [s("c"), s("33")]]), 1);
  assert.equal(hset(kv, s("h"), []), 0);
  assert.equal(hlen(kv, s("h")), 3);
  assert.deepEqual(hget(kv, s("h"), s("b")), s("22"));
  assert.deepEqual(hget(kv, s("h"), s("c")), s("33"));
  assert.equal(hget(kv, s("h"), s("z")), undefined);
  assert.equal(hget(kv, s("nope"), s("a")), undefined);
  assert.equal(hexists(kv, s("h"), s("a")), true);
  assert.equal(hexists(kv, s("h"), s("z")), false);
  assert.equal(hlen(kv, s("nope")), 0);
  assert.equal(hset(kv, s("empty"), []), 0);
  assert.equal(typeOf(kv, s("empty")), undefined);
  kv.close();
});

Deno.test("hgetall returns fields in byte order, binary and empty ones included", () => {
  const kv = SqliteKvStore.open(":memory:");
  const fields = [[], [0], [0, 0], [13, 10], [0x41], [0x7f], [0x80], [0xff]].map((b) =>
    Uint8Array.from(b)
  );
  hset(kv, Uint8Array.of(0, 13, 10), fields.toReversed().map((f) => [f, f]));
  const all = hgetall(kv, Uint8Array.of(0, 13, 10));
  assert.deepEqual(all.map(([f]) => f.toHex()), fields.map((f) => f.toHex()));
  for (const [field, value] of all) assert.deepEqual(field, value);
  assert.deepEqual(hgetall(kv, s("nope")), []);
  // A hash named by a prefix of another name does not see its fields.
  hset(kv, Uint8Array.of(0, 13), [[s("x"), s("y")]]);
  assert.equal(hgetall(kv, Uint8Array.of(0, 13)).length, 1);
  kv.close();
});

Deno.test("hdel counts removed fields and deletes the key with its last field", () => {
  const kv = SqliteKvStore.open(":memory:");
  hset(kv, s("h"), [[s("a"), s("1")], [s("b"), s("2")], [s("c"), s("")]]);
  assert.equal(hdel(kv, s("h"), [s("a"), s("a"), s("z")]), 1);
  assert.equal(hlen(kv, s("h")), 2);
  assert.equal(hdel(kv, s("nope"), [s("a")]), 0);
  assert.equal(hdel(kv, s("h"), [s("b"), s("c")]), 2);
  assert.equal(typeOf(kv, s("h")), undefined);
  assert.equal(dbsize(kv), 0);
  assert.equal(kv.count(new Uint8Array(1), Uint8Array.of(0xff)), 0);
  kv.close();
});

Deno.test("every hash operation on another type is WRONGTYPE and changes nothing", () => {
  const kv = SqliteKvStore.open(":memory:");
  set(kv, s("str"), s("v"));
  sadd(kv, s("set"), [s("a")]);
  for (const name of [s("str"), s("set")]) {
    assert.throws(() => hset(kv, name, [[s("a"), s("1")]]), WrongTypeError);
    assert.throws(() => hget(kv, name, s("a")), WrongTypeError);
    assert.throws(() => hgetall(kv, name), WrongTypeError);
    assert.throws(() => hlen(kv, name), WrongTypeError);
    assert.throws(() => hdel(kv, name, [s("a")]), WrongTypeError);
    assert.throws(() => hexists(kv, name, s("a")), WrongTypeError);
  }
  assert.equal(kv.count(Uint8Array.of(0x68), Uint8Array.of(0x69)), 0);
  assert.equal(typeOf(kv, s("set")), "set");
  kv.close();
});

Deno.test("hscan lists hash key names in [start, end]", () => {
  const kv = SqliteKvStore.open(":memory:");
  for (const name of ["a", "b", "c"]) hset(kv, s(name), [[s("f"), s(name)]]);
  set(kv, s("b1"), s("string"));
  assert.deepEqual(hscan(kv, s("a"), s("c"), 0).map(dec), ["a", "b", "c"]);
  assert.deepEqual(hscan(kv, s("a"), s("c"), 2).map(dec), ["a", "b"]);
  assert.deepEqual(hscan(kv, s("b"), s("b1"), 0).map(dec), ["b"]);
  assert.deepEqual(hscan(kv, s("c"), s("a"), 0), []);
  kv.close();
});

Deno.test("hset of a new hash counts a repeated field once", () => {
  const kv = SqliteKvStore.open(":memory:");
  assert.equal(hset(kv, s("n"), [[s("f"), s("1")], [s("g"), s("2")], [s("f"), s("3")]]), 2);
  assert.equal(hlen(kv, s("n")), 2);
  assert.deepEqual(hget(kv, s("n"), s("f")), s("3"));
  kv.close();
});
