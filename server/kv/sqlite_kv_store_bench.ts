/**
 * Throughput of SqliteKvStore and of the typed layer over it, on a file in a
 * temporary directory (WAL, synchronous=NORMAL). Every bench does 100 000
 * operations per iteration: operations per second = 100 000 × iter/s.
 *
 *   deno bench -A server/kv/sqlite_kv_store_bench.ts
 */

import { SqliteKvStore } from "./sqlite_kv_store.ts";
import { dataPrefix, prefixEnd } from "./keys.ts";
import { hget, hgetall, hset } from "../types/hashes.ts";

const N = 100_000;
const BATCH = 16;
const HASHES = 1000;
const enc = new TextEncoder();

const dir = Deno.makeTempDirSync({ prefix: "ddb_kv_bench_" });
const kv = SqliteKvStore.open(`${dir}/bench.sqlite`);
globalThis.addEventListener("unload", () => {
  kv.close();
  Deno.removeSync(dir, { recursive: true });
});

const fields = Array.from({ length: N / HASHES }, (_, i) => enc.encode(`field:${i}`));
const value = enc.encode("x".repeat(64));
let generation = 0;

/** Names of the 1000 hashes written by one iteration of the hset bench. */
function hashNames(gen: number): Uint8Array[] {
  return Array.from({ length: HASHES }, (_, i) => enc.encode(`bench:${gen}:hash:${i}`));
}

/**
 * 100k hset calls (one field each) in transactions of 16 calls, spread over
 * 1000 hashes: call i sets field i / 1000 of hash i % 1000, so every
 * transaction touches 16 places of the key space (the slow case).
 */
function hsetAll(names: Uint8Array[]): void {
  let i = 0;
  while (i < N) {
    kv.transaction(() => {
      for (const stop = Math.min(i + BATCH, N); i < stop; i++) {
        hset(kv, names[i % HASHES], [[fields[Math.floor(i / HASHES)], value]]);
      }
    });
  }
}

// Fixed data for the read benches: 1000 hashes of 100 fields, 100k raw keys,
// and one hash of 100k fields for the scans.
const readNames = hashNames(-1);
hsetAll(readNames);
const big = enc.encode("bench:big");
const rawKeys = Array.from({ length: N }, (_, i) => enc.encode(`raw:${i}`));
kv.transaction(() => {
  for (const key of rawKeys) kv.set(key, value);
  for (let i = 0; i < N; i += 1000) {
    hset(
      kv,
      big,
      Array.from({ length: 1000 }, (_, j) => [enc.encode(`f:${i + j}`), value] as const),
    );
  }
});

Deno.bench({
  name: "hset, transactions of 16, scattered keys (100k ops/iter)",
  group: "write",
  n: 5,
  warmup: 1,
  fn: () => hsetAll(hashNames(generation++)),
});

Deno.bench({
  name: "hset, transactions of 16, clustered keys (100k ops/iter)",
  group: "write",
  n: 5,
  warmup: 1,
  fn: () => {
    // Each transaction writes 16 fields of one hash: neighbouring keys.
    const gen = generation++;
    let i = 0;
    while (i < N) {
      const name = enc.encode(`bench:${gen}:seq:${i / BATCH}`);
      kv.transaction(() => {
        for (let f = 0; f < BATCH; f++, i++) hset(kv, name, [[fields[f], value]]);
      });
    }
  },
});

Deno.bench({
  name: "kv.set, transactions of 16 (100k ops/iter)",
  group: "write",
  n: 5,
  warmup: 1,
  fn: () => {
    let i = 0;
    while (i < N) {
      kv.transaction(() => {
        for (const stop = i + BATCH; i < stop; i++) kv.set(rawKeys[i], value);
      });
    }
  },
});

Deno.bench({
  name: "hget, hits (100k ops/iter)",
  group: "read",
  n: 5,
  warmup: 1,
  fn: () => {
    for (let i = 0; i < N; i++) {
      if (hget(kv, readNames[i % HASHES], fields[Math.floor(i / HASHES)]) === undefined) {
        throw new Error("missing field");
      }
    }
  },
});

Deno.bench({
  name: "kv.get, hits (100k ops/iter)",
  group: "read",
  n: 5,
  warmup: 1,
  fn: () => {
    for (let i = 0; i < N; i++) kv.get(rawKeys[i]);
  },
});

Deno.bench({
  name: "kv.scan of 100k entries (100k entries/iter)",
  group: "scan",
  n: 5,
  warmup: 1,
  fn: () => {
    const start = dataPrefix("hash", big);
    let n = 0;
    for (const _ of kv.scan({ start, end: prefixEnd(start) })) n++;
    if (n !== N) throw new Error(`scanned ${n}`);
  },
});

Deno.bench({
  name: "hgetall of a 100k-field hash (100k entries/iter)",
  group: "scan",
  n: 5,
  warmup: 1,
  fn: () => {
    if (hgetall(kv, big).length !== N) throw new Error("wrong count");
  },
});
