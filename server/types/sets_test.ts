import assert from "node:assert/strict";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { sadd, scard, sismember, smembers, srem } from "./sets.ts";
import { hset } from "./hashes.ts";
import { dbsize, typeOf } from "./keyspace.ts";
import { WrongTypeError } from "./errors.ts";

const enc = new TextEncoder();
const s = (text: string) => enc.encode(text);

Deno.test("sadd counts new members; sismember and scard", () => {
  const kv = SqliteKvStore.open(":memory:");
  assert.equal(sadd(kv, s("s"), [s("a"), s("b"), s("a")]), 2);
  assert.equal(sadd(kv, s("s"), [s("b"), s("c"), s("")]), 2);
  assert.equal(scard(kv, s("s")), 4);
  assert.equal(sismember(kv, s("s"), s("")), true);
  assert.equal(sismember(kv, s("s"), s("z")), false);
  assert.equal(sismember(kv, s("nope"), s("a")), false);
  assert.equal(scard(kv, s("nope")), 0);
  assert.equal(sadd(kv, s("e"), []), 0);
  assert.equal(typeOf(kv, s("e")), undefined);
  kv.close();
});

Deno.test("smembers returns members in byte order, binary ones included", () => {
  const kv = SqliteKvStore.open(":memory:");
  const members = [[], [0], [0, 0], [10], [13], [13, 10], [0x7f], [0x80], [0xff], [0xff, 0xff]]
    .map((b) => Uint8Array.from(b));
  sadd(kv, Uint8Array.of(0xff), members.toReversed());
  assert.deepEqual(
    smembers(kv, Uint8Array.of(0xff)).map((m) => m.toHex()),
    members.map((m) => m.toHex()),
  );
  assert.deepEqual(smembers(kv, s("nope")), []);
  kv.close();
});

Deno.test("srem counts removed members and deletes the key with its last member", () => {
  const kv = SqliteKvStore.open(":memory:");
  sadd(kv, s("s"), [s("a"), s("b")]);
  assert.equal(srem(kv, s("s"), [s("a"), s("a"), s("z")]), 1);
  assert.equal(scard(kv, s("s")), 1);
  assert.equal(srem(kv, s("nope"), [s("a")]), 0);
  assert.equal(srem(kv, s("s"), [s("b")]), 1);
  assert.equal(typeOf(kv, s("s")), undefined);
  assert.equal(dbsize(kv), 0);
  assert.equal(kv.count(new Uint8Array(1), Uint8Array.of(0xff)), 0);
  kv.close();
});

Deno.test("every set operation on another type is WRONGTYPE", () => {
  const kv = SqliteKvStore.open(":memory:");
  hset(kv, s("h"), [[s("a"), s("1")]]);
  assert.throws(() => sadd(kv, s("h"), [s("a")]), WrongTypeError);
  assert.throws(() => srem(kv, s("h"), [s("a")]), WrongTypeError);
  assert.throws(() => smembers(kv, s("h")), WrongTypeError);
  assert.throws(() => sismember(kv, s("h"), s("a")), WrongTypeError);
  assert.throws(() => scard(kv, s("h")), WrongTypeError);
  assert.equal(kv.count(Uint8Array.of(0x53), Uint8Array.of(0x54)), 0);
  kv.close();
});

Deno.test("sadd to a new set counts a repeated member once", () => {
  const kv = SqliteKvStore.open(":memory:");
  assert.equal(sadd(kv, s("n"), [s("a"), s("b"), s("a"), s("c"), s("b")]), 3);
  assert.equal(scard(kv, s("n")), 3);
  kv.close();
});
