import assert from "node:assert/strict";
import { ReadCache } from "./read_cache.ts";

const key = (s: string) => new TextEncoder().encode(s);

Deno.test("ReadCache remembers values and absence, copies values", () => {
  const cache = new ReadCache(8);
  const value = key("value");
  cache.remember(key("a"), value);
  cache.remember(key("b"), undefined);
  value[0] = 0;
  assert.deepEqual(cache.lookup(key("a")), key("value"));
  assert.equal(cache.lookup(key("b")), ReadCache.ABSENT);
  assert.equal(cache.lookup(key("c")), undefined);
});

Deno.test("ReadCache stays bounded and keeps recently used entries", () => {
  const cache = new ReadCache(100);
  cache.remember(key("hot"), key("1"));
  for (let i = 0; i < 10_000; i++) {
    cache.remember(key(`k${i}`), key("v"));
    if (i % 10 === 0) assert.notEqual(cache.lookup(key("hot")), undefined);
  }
  assert.ok(cache.size <= 100);
});

Deno.test("ReadCache skips large keys and values and forgets on clear", () => {
  const cache = new ReadCache();
  cache.remember(new Uint8Array(513), key("v"));
  assert.equal(cache.lookup(new Uint8Array(513)), undefined);
  cache.remember(key("a"), key("small"));
  cache.remember(key("a"), new Uint8Array(2000));
  assert.equal(
    cache.lookup(key("a")),
    undefined,
    "a value too large for the cache evicts the old one",
  );
  cache.remember(key("b"), key("x"));
  cache.clear();
  assert.equal(cache.lookup(key("b")), undefined);
});
