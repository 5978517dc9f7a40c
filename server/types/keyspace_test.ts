import assert from "node:assert/strict";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { dbsize, del, exists, scanNames, typeOf } from "./keyspace.ts";
import { set } from "./strings.ts";
import { hset } from "./hashes.ts";
import { sadd } from "./sets.ts";
import { ladd } from "./lists.ts";

const enc = new TextEncoder();
const s = (text: string) => enc.encode(text);
const texts = (values: Uint8Array[]) => values.map((v) => new TextDecoder().decode(v));

function fixture(): SqliteKvStore {
  const kv = SqliteKvStore.open(":memory:");
  set(kv, s("str"), s("v"));
  hset(kv, s("hash"), [[s("f1"), s("1")], [s("f2"), s("2")]]);
  sadd(kv, s("set"), [s("a"), s("b")]);
  ladd(kv, s("list"), 5n, s("x"));
  // Too many members to stay inline in the registry: one row per member.
  sadd(kv, s("big"), Array.from({ length: 100 }, (_, i) => s(`m${i}`)));
  return kv;
}

const allRows = (kv: SqliteKvStore) => kv.count(new Uint8Array([0]), new Uint8Array([0xff]));

Deno.test("typeOf, exists and dbsize see every type", () => {
  const kv = fixture();
  assert.equal(typeOf(kv, s("str")), "string");
  assert.equal(typeOf(kv, s("hash")), "hash");
  assert.equal(typeOf(kv, s("set")), "set");
  assert.equal(typeOf(kv, s("list")), "list");
  assert.equal(typeOf(kv, s("nope")), undefined);
  assert.equal(exists(kv, s("set")), true);
  assert.equal(exists(kv, s("nope")), false);
  assert.equal(dbsize(kv), 5);
  kv.close();
});

Deno.test("del removes whole keys of any type, counting each existing key once", () => {
  const kv = fixture();
  // Registry rows: 5; data rows: the string's and the big set's (the small
  // hash, set and list are inline in their registry rows).
  assert.equal(allRows(kv), 5 + 1 + 100);
  assert.equal(del(kv, [s("hash"), s("nope"), s("hash"), s("list")]), 2);
  assert.equal(dbsize(kv), 3);
  assert.equal(allRows(kv), 3 + 1 + 100);
  assert.equal(del(kv, [s("str"), s("set"), s("big")]), 3);
  assert.equal(allRows(kv), 0);
  assert.equal(del(kv, []), 0);
  kv.close();
});

Deno.test("del of a key leaves keys whose names extend it alone", () => {
  const kv = SqliteKvStore.open(":memory:");
  // Hashes of 100 fields, one row per field (too many to stay inline).
  const fields = (v: string) => Array.from({ length: 100 }, (_, i) => [s(`f${i}`), s(v)] as const);
  hset(kv, s("a"), fields("1"));
  hset(kv, s("ab"), fields("2"));
  hset(kv, s("a\0"), fields("3"));
  assert.equal(del(kv, [s("a")]), 1);
  assert.equal(dbsize(kv), 2);
  assert.equal(kv.count(new Uint8Array([0x68]), new Uint8Array([0x69])), 200);
  kv.close();
});

Deno.test("scanNames walks [start, end] inclusive in byte order, with limit and type", () => {
  const kv = fixture();
  set(kv, s(""), s("empty name"));
  set(kv, s("h"), s("v"));
  assert.deepEqual(texts(scanNames(kv, s(""), s("\xff"), 0)), [
    "",
    "big",
    "h",
    "hash",
    "list",
    "set",
    "str",
  ]);
  assert.deepEqual(texts(scanNames(kv, s("hash"), s("set"), 0)), ["hash", "list", "set"]);
  assert.deepEqual(texts(scanNames(kv, s("hash"), s("set"), 2)), ["hash", "list"]);
  assert.deepEqual(texts(scanNames(kv, s("h"), s("t"), 0, "string")), ["h", "str"]);
  assert.deepEqual(texts(scanNames(kv, s("h"), s("t"), 1, "string")), ["h"]);
  assert.deepEqual(texts(scanNames(kv, s("a"), s("z"), 0, "hash")), ["hash"]);
  assert.deepEqual(scanNames(kv, s("t"), s("a"), 0), []);
  assert.deepEqual(texts(scanNames(kv, s("str"), s("str"), 0)), ["str"]);
  assert.throws(() => scanNames(kv, s("a"), s("b"), -1), RangeError);
  kv.close();
});

Deno.test("scanNames handles binary names with NUL, CR, LF and 0xff", () => {
  const kv = SqliteKvStore.open(":memory:");
  const names = [[0], [0, 0], [13, 10], [0x7f], [0x80], [0xff], [0xff, 0]].map((b) =>
    Uint8Array.from(b)
  );
  for (const name of names.toReversed()) set(kv, name, name);
  const all = scanNames(kv, new Uint8Array(0), Uint8Array.of(0xff, 0xff), 0);
  assert.deepEqual(all.map((n) => n.toHex()), names.map((n) => n.toHex()));
  const middle = scanNames(kv, Uint8Array.of(0, 0), Uint8Array.of(0x80), 0);
  assert.deepEqual(middle.map((n) => n.toHex()), ["0000", "0d0a", "7f", "80"]);
  kv.close();
});
