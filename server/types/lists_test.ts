import assert from "node:assert/strict";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { ladd, lindex, liter, llast, llen, lmrange, lprev, lrange } from "./lists.ts";
import { set } from "./strings.ts";
import { typeOf } from "./keyspace.ts";
import { ValueError, WrongTypeError } from "./errors.ts";

const enc = new TextEncoder();
const s = (text: string) => enc.encode(text);
const dec = (v: Uint8Array) => new TextDecoder().decode(v);
const MAX = (1n << 64n) - 1n;

function fixture(): SqliteKvStore {
  const kv = SqliteKvStore.open(":memory:");
  for (const i of [256n, 0n, MAX, 255n, 1n << 32n, 10n]) ladd(kv, s("l"), i, s(`v${i}`));
  return kv;
}

Deno.test("ladd stores one value per index; llen and lindex", () => {
  const kv = fixture();
  assert.equal(llen(kv, s("l")), 6);
  ladd(kv, s("l"), 10n, s("replaced"));
  assert.equal(llen(kv, s("l")), 6);
  assert.deepEqual(lindex(kv, s("l"), 10n), s("replaced"));
  assert.deepEqual(lindex(kv, s("l"), MAX), s(`v${MAX}`));
  assert.equal(lindex(kv, s("l"), 11n), undefined);
  assert.equal(lindex(kv, s("nope"), 0n), undefined);
  assert.equal(llen(kv, s("nope")), 0);
  ladd(kv, s("e"), 0n, s(""));
  assert.deepEqual(lindex(kv, s("e"), 0n), s(""));
  kv.close();
});

Deno.test("liter and llast follow numeric index order", () => {
  const kv = fixture();
  assert.deepEqual(liter(kv, s("l")).map(([i]) => i), [0n, 10n, 255n, 256n, 1n << 32n, MAX]);
  assert.deepEqual(liter(kv, s("l")).map(([, v]) => dec(v))[2], "v255");
  assert.deepEqual(llast(kv, s("l")), [MAX, s(`v${MAX}`)]);
  assert.deepEqual(liter(kv, s("nope")), []);
  assert.equal(llast(kv, s("nope")), undefined);
  kv.close();
});

Deno.test("lrange and lmrange select [start, end] with a limit", () => {
  const kv = fixture();
  assert.deepEqual(lrange(kv, s("l"), 10n, 256n, 0).map(dec), ["v10", "v255", "v256"]);
  assert.deepEqual(lrange(kv, s("l"), 11n, 256n, 1).map(dec), ["v255"]);
  assert.deepEqual(lrange(kv, s("l"), 0n, MAX, 0).length, 6);
  assert.deepEqual(lrange(kv, s("l"), 257n, 258n, 0), []);
  assert.deepEqual(lrange(kv, s("l"), 256n, 10n, 0), []);
  assert.deepEqual(lmrange(kv, s("l"), 11n, MAX, 1), [[255n, s("v255")]]);
  assert.deepEqual(lmrange(kv, s("l"), 256n, 256n, 0), [[256n, s("v256")]]);
  assert.deepEqual(lmrange(kv, s("l"), 1n << 32n, MAX, 0).map(([i]) => i), [1n << 32n, MAX]);
  assert.deepEqual(lmrange(kv, s("nope"), 0n, MAX, 0), []);
  kv.close();
});

Deno.test("lprev finds the greatest index <= index", () => {
  const kv = fixture();
  assert.deepEqual(lprev(kv, s("l"), 0n), [0n, s("v0")]);
  assert.deepEqual(lprev(kv, s("l"), 254n), [10n, s("v10")]);
  assert.deepEqual(lprev(kv, s("l"), 255n), [255n, s("v255")]);
  assert.deepEqual(lprev(kv, s("l"), (1n << 32n) - 1n), [256n, s("v256")]);
  assert.deepEqual(lprev(kv, s("l"), MAX), [MAX, s(`v${MAX}`)]);
  assert.deepEqual(lprev(kv, s("l"), MAX - 1n), [1n << 32n, s(`v${1n << 32n}`)]);
  ladd(kv, s("m"), 5n, s("x"));
  assert.equal(lprev(kv, s("m"), 4n), undefined);
  assert.equal(lprev(kv, s("nope"), MAX), undefined);
  kv.close();
});

Deno.test("lists named by prefixes of each other stay apart", () => {
  const kv = SqliteKvStore.open(":memory:");
  ladd(kv, s("a"), MAX, s("a"));
  ladd(kv, s("ab"), 0n, s("ab"));
  ladd(kv, s("a\0"), 0n, s("a0"));
  assert.deepEqual(liter(kv, s("a")), [[MAX, s("a")]]);
  assert.deepEqual(llast(kv, s("ab")), [0n, s("ab")]);
  assert.deepEqual(lprev(kv, s("ab"), MAX), [0n, s("ab")]);
  assert.equal(lprev(kv, s("a"), MAX - 1n), undefined);
  kv.close();
});

Deno.test("indexes outside uint64 are a ValueError", () => {
  const kv = fixture();
  for (const bad of [-1n, MAX + 1n]) {
    assert.throws(() => ladd(kv, s("l"), bad, s("x")), {
      name: "ValueError",
      message: "ERR value is not an integer or out of range",
    });
    assert.throws(() => lindex(kv, s("l"), bad), ValueError);
    assert.throws(() => lrange(kv, s("l"), 0n, bad, 0), ValueError);
    assert.throws(() => lmrange(kv, s("l"), bad, 0n, 0), ValueError);
    assert.throws(() => lprev(kv, s("l"), bad), ValueError);
  }
  assert.equal(llen(kv, s("l")), 6);
  kv.close();
});

Deno.test("every list operation on another type is WRONGTYPE", () => {
  const kv = SqliteKvStore.open(":memory:");
  set(kv, s("str"), s("v"));
  assert.throws(() => ladd(kv, s("str"), 0n, s("x")), WrongTypeError);
  assert.throws(() => llen(kv, s("str")), WrongTypeError);
  assert.throws(() => lindex(kv, s("str"), 0n), WrongTypeError);
  assert.throws(() => lrange(kv, s("str"), 0n, MAX, 0), WrongTypeError);
  assert.throws(() => lrange(kv, s("str"), 5n, 1n, 0), WrongTypeError);
  assert.throws(() => lmrange(kv, s("str"), 0n, MAX, 0), WrongTypeError);
  assert.throws(() => llast(kv, s("str")), WrongTypeError);
  assert.throws(() => liter(kv, s("str")), WrongTypeError);
  assert.throws(() => lprev(kv, s("str"), 0n), WrongTypeError);
  assert.equal(typeOf(kv, s("str")), "string");
  kv.close();
});
