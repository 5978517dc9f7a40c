import assert from "node:assert/strict";
import { BloomFilter, BloomFilterSizeError } from "./bloom_filter.ts";

function element(i: number, tag: number): Uint8Array {
  const out = new Uint8Array(34);
  const view = new DataView(out.buffer);
  view.setUint32(0, i);
  view.setUint32(30, tag);
  out[8] = 0x6d;
  return out;
}

Deno.test("BloomFilter: never misses an added element; about 1% false positives at 10 bits", () => {
  const n = 100_000;
  const filter = new BloomFilter(n);
  assert.equal(filter.byteLength, n * 10 / 8);
  for (let i = 0; i < n; i++) filter.add(element(i, 1));
  for (let i = 0; i < n; i++) assert.ok(filter.has(element(i, 1)));
  let positives = 0;
  for (let i = 0; i < n; i++) if (filter.has(element(i, 2))) positives++;
  assert.ok(positives / n < 0.02, `false positive rate ${positives / n}`);
});

Deno.test("BloomFilter: an empty filter finds nothing; bad sizes are refused", () => {
  const filter = new BloomFilter(0);
  assert.equal(filter.has(new Uint8Array(0)), false);
  filter.add(new Uint8Array(0));
  assert.equal(filter.has(new Uint8Array(0)), true);
  assert.throws(() => new BloomFilter(-1), BloomFilterSizeError);
  assert.throws(() => new BloomFilter(1e12), BloomFilterSizeError);
  assert.throws(() => new BloomFilter(10, 0), BloomFilterSizeError);
});
