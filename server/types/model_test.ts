/**
 * Randomized model test: thousands of random operations on the typed layer
 * over a real SqliteKvStore, each compared with an in-memory model; aborted
 * transactions must leave no trace; the registry counts must always match
 * the data entries.
 */

import assert from "node:assert/strict";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { decodeRegistryValue, REGISTRY_PREFIX, typeOfByte } from "../kv/keys.ts";
import { decodeInlineEntries, fitsInline } from "../kv/inline_entries.ts";
import * as keyspace from "./keyspace.ts";
import * as strings from "./strings.ts";
import * as hashes from "./hashes.ts";
import * as sets from "./sets.ts";
import * as lists from "./lists.ts";
import { WrongTypeError } from "./errors.ts";

type Hex = string;
type Entry =
  | { type: "string"; value: Hex }
  | { type: "hash"; fields: Map<Hex, Hex> }
  | { type: "set"; members: Set<Hex> }
  | { type: "list"; items: Map<bigint, Hex> };
type Model = Map<Hex, Entry>;

const WRONGTYPE = "WRONGTYPE";
const MAX = (1n << 64n) - 1n;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hexOf = (b: Uint8Array) => b.toHex();
const bytesOf = (h: Hex) => Uint8Array.fromHex(h);
const byHex = (a: Hex, b: Hex) => (a < b ? -1 : a > b ? 1 : 0);

/** JSON-comparable form of any result. */
function canon(value: unknown): unknown {
  if (value instanceof Uint8Array) return hexOf(value);
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) return value.map(canon);
  return value ?? null;
}

function outcome(fn: () => unknown): unknown {
  try {
    return canon(fn());
  } catch (error) {
    if (error instanceof WrongTypeError) return WRONGTYPE;
    throw error;
  }
}

function clone(model: Model): Model {
  const out: Model = new Map();
  for (const [name, e] of model) {
    if (e.type === "string") out.set(name, { ...e });
    else if (e.type === "hash") out.set(name, { type: "hash", fields: new Map(e.fields) });
    else if (e.type === "set") out.set(name, { type: "set", members: new Set(e.members) });
    else out.set(name, { type: "list", items: new Map(e.items) });
  }
  return out;
}

/** The model's entry of `name` if it has type `type`; throws WRONGTYPE otherwise. */
function typed<T extends Entry["type"]>(
  model: Model,
  name: Hex,
  type: T,
): Extract<Entry, { type: T }> | undefined {
  const e = model.get(name);
  if (e === undefined) return undefined;
  if (e.type !== type) throw new WrongTypeError();
  return e as Extract<Entry, { type: T }>;
}

function inRange(name: Hex, start: Hex, end: Hex): boolean {
  return name >= start && name <= end;
}

function limited<T>(items: T[], limit: number): T[] {
  return limit === 0 ? items : items.slice(0, limit);
}

function sortedList(e: { items: Map<bigint, Hex> } | undefined): [bigint, Uint8Array][] {
  if (e === undefined) return [];
  return [...e.items].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([i, v]) => [i, bytesOf(v)]);
}

/** One random operation: how to run it on the store and on the model. */
interface Op {
  label: string;
  real(kv: KvStore): unknown;
  model(m: Model): unknown;
}

function randomOp(rand: () => number): Op {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const names = ["", "61", "6162", "6100", "0d0a", "ff", "00", "62", "6300ff"];
  const fields = ["", "66", "6600", "0a", "ff", "00", "0d0a", "67"];
  const indexes = [0n, 1n, 2n, 255n, 256n, 1n << 32n, MAX - 1n, MAX];
  const value = (): Hex => {
    // Now and then a value too long to stay inline, so hashes and lists take both forms.
    const n = rand() < 0.05 ? 520 + Math.floor(rand() * 300) : Math.floor(rand() * 4);
    let h = "";
    for (let i = 0; i < n; i++) h += pick(["00", "0d", "0a", "41", "ff"]);
    return h;
  };
  const some = <T>(gen: () => T): T[] => Array.from({ length: 1 + Math.floor(rand() * 3) }, gen);
  const index = () => (rand() < 0.8 ? pick(indexes) : BigInt(Math.floor(rand() * 1000)));
  const limit = () => pick([0, 0, 1, 2, 5]);
  const name = pick(names);
  const key = bytesOf(name);

  const ops: (() => Op)[] = [
    () => {
      const v = value();
      return {
        label: `set ${name} ${v}`,
        real: (kv) => strings.set(kv, key, bytesOf(v)),
        model: (m) => void m.set(name, { type: "string", value: v }),
      };
    },
    () => {
      const v = value();
      return {
        label: `getset ${name} ${v}`,
        real: (kv) => strings.getset(kv, key, bytesOf(v)),
        model: (m) => {
          const old = typed(m, name, "string");
          m.set(name, { type: "string", value: v });
          return old === undefined ? undefined : bytesOf(old.value);
        },
      };
    },
    () => ({
      label: `get ${name}`,
      real: (kv) => strings.get(kv, key),
      model: (m) => {
        const e = typed(m, name, "string");
        return e === undefined ? undefined : bytesOf(e.value);
      },
    }),
    () => {
      const victims = some(() => pick(names));
      return {
        label: `del ${victims}`,
        real: (kv) => keyspace.del(kv, victims.map(bytesOf)),
        model: (m) => new Set(victims).values().filter((n) => m.delete(n)).toArray().length,
      };
    },
    () => ({
      label: `type ${name}`,
      real: (kv) => [keyspace.typeOf(kv, key), keyspace.exists(kv, key), keyspace.dbsize(kv)],
      model: (m) => [m.get(name)?.type, m.has(name), m.size],
    }),
    () => {
      const [start, end] = [pick(names), pick(names)];
      const l = limit();
      const type = pick([undefined, "string", "hash", "set", "list"] as const);
      return {
        label: `scanNames ${start} ${end} ${l} ${type}`,
        real: (kv) => keyspace.scanNames(kv, bytesOf(start), bytesOf(end), l, type),
        model: (m) => {
          const hits = [...m].filter(([n, e]) =>
            inRange(n, start, end) && (type === undefined || e.type === type)
          );
          return limited(hits.map(([n]) => n).sort(byHex), l).map(bytesOf);
        },
      };
    },
    () => {
      const [start, end] = [pick(names), pick(names)];
      const l = limit();
      return {
        label: `range ${start} ${end} ${l}`,
        real: (kv) => [strings.range(kv, bytesOf(start), bytesOf(end), l)],
        model: (m) => {
          const hits = [...m].filter(([n, e]) => inRange(n, start, end) && e.type === "string")
            .sort((a, b) => byHex(a[0], b[0]));
          return [limited(hits, l).map(([, e]) => bytesOf((e as { value: Hex }).value))];
        },
      };
    },
    () => {
      const pairs = some(() => [pick(fields), value()] as const);
      return {
        label: `hset ${name} ${pairs}`,
        real: (kv) => hashes.hset(kv, key, pairs.map(([f, v]) => [bytesOf(f), bytesOf(v)])),
        model: (m) => {
          let e = typed(m, name, "hash");
          if (e === undefined) m.set(name, e = { type: "hash", fields: new Map() });
          let added = 0;
          for (const [f, v] of pairs) {
            if (!e.fields.has(f)) added++;
            e.fields.set(f, v);
          }
          return added;
        },
      };
    },
    () => {
      const f = pick(fields);
      return {
        label: `hget ${name} ${f}`,
        real: (kv) => [hashes.hget(kv, key, bytesOf(f)), hashes.hexists(kv, key, bytesOf(f))],
        model: (m) => {
          const v = typed(m, name, "hash")?.fields.get(f);
          return [v === undefined ? undefined : bytesOf(v), v !== undefined];
        },
      };
    },
    () => ({
      label: `hgetall ${name}`,
      real: (kv) => [hashes.hgetall(kv, key), hashes.hlen(kv, key)],
      model: (m) => {
        const e = typed(m, name, "hash");
        const all = [...(e?.fields ?? [])].sort((a, b) => byHex(a[0], b[0]));
        return [all.map(([f, v]) => [bytesOf(f), bytesOf(v)]), all.length];
      },
    }),
    () => {
      const fs = some(() => pick(fields));
      return {
        label: `hdel ${name} ${fs}`,
        real: (kv) => hashes.hdel(kv, key, fs.map(bytesOf)),
        model: (m) => {
          const e = typed(m, name, "hash");
          if (e === undefined) return 0;
          const removed = fs.filter((f) => e.fields.delete(f)).length;
          if (e.fields.size === 0) m.delete(name);
          return removed;
        },
      };
    },
    () => {
      // Now and then a long member, so sets outgrow the inline form too.
      const ms = some(() => rand() < 0.05 ? "ab".repeat(600) + pick(fields) : pick(fields));
      return {
        label: `sadd ${name} ${ms}`,
        real: (kv) => sets.sadd(kv, key, ms.map(bytesOf)),
        model: (m) => {
          let e = typed(m, name, "set");
          if (e === undefined) m.set(name, e = { type: "set", members: new Set() });
          const before = e.members.size;
          for (const x of ms) e.members.add(x);
          return e.members.size - before;
        },
      };
    },
    () => {
      const ms = some(() => pick(fields));
      return {
        label: `srem ${name} ${ms}`,
        real: (kv) => sets.srem(kv, key, ms.map(bytesOf)),
        model: (m) => {
          const e = typed(m, name, "set");
          if (e === undefined) return 0;
          const removed = ms.filter((x) => e.members.delete(x)).length;
          if (e.members.size === 0) m.delete(name);
          return removed;
        },
      };
    },
    () => {
      const x = pick(fields);
      return {
        label: `smembers ${name} ${x}`,
        real: (kv) => [
          sets.smembers(kv, key),
          sets.scard(kv, key),
          sets.sismember(kv, key, bytesOf(x)),
        ],
        model: (m) => {
          const e = typed(m, name, "set");
          const all = [...(e?.members ?? [])].sort(byHex);
          return [all.map(bytesOf), all.length, e?.members.has(x) ?? false];
        },
      };
    },
    () => {
      const [i, v] = [index(), value()];
      return {
        label: `ladd ${name} ${i} ${v}`,
        real: (kv) => lists.ladd(kv, key, i, bytesOf(v)),
        model: (m) => {
          let e = typed(m, name, "list");
          if (e === undefined) m.set(name, e = { type: "list", items: new Map() });
          e.items.set(i, v);
        },
      };
    },
    () => {
      const i = index();
      return {
        label: `lindex ${name} ${i}`,
        real: (kv) => [
          lists.lindex(kv, key, i),
          lists.llen(kv, key),
          lists.llast(kv, key),
          lists.lprev(kv, key, i),
          lists.liter(kv, key),
        ],
        model: (m) => {
          const e = typed(m, name, "list");
          const all = sortedList(e);
          const v = e?.items.get(i);
          const prev = all.filter(([j]) => j <= i).at(-1);
          return [v === undefined ? undefined : bytesOf(v), all.length, all.at(-1), prev, all];
        },
      };
    },
    () => {
      const [a, b, l] = [index(), index(), limit()];
      return {
        label: `lrange ${name} ${a} ${b} ${l}`,
        real: (kv) => [lists.lrange(kv, key, a, b, l), lists.lmrange(kv, key, a, b, l)],
        model: (m) => {
          const hits = limited(
            sortedList(typed(m, name, "list")).filter(([j]) => j >= a && j <= b),
            l,
          );
          return [hits.map(([, v]) => v), hits];
        },
      };
    },
  ];
  return pick(ops)();
}

/**
 * Checks that every registry count matches the key's entries (inline in the
 * registry value, or as data keys, never both), and nothing is orphaned.
 */
function checkConsistency(kv: KvStore, model: Model, forms: Map<string, number>): void {
  const registry = new Map<Hex, { type: string; count: number; inline?: Uint8Array }>();
  const data = new Map<Hex, { type: string; count: number; bytes: number }>();
  for (const { key, value } of kv.scan()) {
    if (key[0] === REGISTRY_PREFIX) {
      registry.set(hexOf(key.subarray(1)), decodeRegistryValue(value));
      continue;
    }
    const type = typeOfByte(key[0]);
    const length = new DataView(key.buffer, key.byteOffset).getUint32(1);
    const name = hexOf(key.subarray(5, 5 + length));
    const tally = data.get(name) ?? { type, count: 0, bytes: value.length };
    assert.equal(tally.type, type, `key ${name} has data of two types`);
    tally.count++;
    data.set(name, tally);
  }
  for (const name of data.keys()) assert.ok(registry.has(name), `data of ${name} has no registry`);
  for (const [name, entry] of registry) {
    assert.equal(entry.type, model.get(name)?.type);
    const tally = data.get(name);
    if (entry.inline !== undefined) {
      assert.equal(tally, undefined, `inline key ${name} also has data keys`);
      const entries = decodeInlineEntries(entry.inline);
      assert.equal(entry.count, entries.length, name);
      assert.ok(fitsInline(entries.length, entry.inline.length), name);
      forms.set(`${entry.type} inline`, (forms.get(`${entry.type} inline`) ?? 0) + 1);
      continue;
    }
    assert.ok(tally !== undefined, `key ${name} has neither inline entries nor data keys`);
    assert.equal(entry.type, tally.type);
    assert.equal(entry.count, entry.type === "string" ? tally.bytes : tally.count, name);
    forms.set(`${entry.type} rows`, (forms.get(`${entry.type} rows`) ?? 0) + 1);
  }
  assert.equal(registry.size, model.size);
}

for (const seed of [1, 2, 3, 20240611]) {
  Deno.test(`random operations match the model (seed ${seed})`, () => {
    const rand = prng(seed);
    const kv = SqliteKvStore.open(":memory:");
    let model: Model = new Map();
    const forms = new Map<string, number>();
    const log: string[] = [];
    const apply = (op: Op) => {
      log.push(op.label);
      const expected = outcome(() => op.model(model));
      const actual = outcome(() => op.real(kv));
      assert.deepEqual(actual, expected, `after:\n${log.slice(-8).join("\n")}`);
    };
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.03) {
        // A transaction that aborts must leave no trace.
        const before = clone(model);
        log.push("begin (to abort)");
        assert.throws(() =>
          kv.transaction(() => {
            for (let i = 0; i < 5; i++) apply(randomOp(rand));
            throw new Error("abort");
          })
        );
        model = before;
        log.push("aborted");
      } else if (r < 0.06) {
        // A committed transaction with an aborted nested one inside.
        kv.transaction(() => {
          apply(randomOp(rand));
          const before = clone(model);
          assert.throws(() =>
            kv.transaction(() => {
              apply(randomOp(rand));
              throw new Error("abort inner");
            })
          );
          model = before;
          apply(randomOp(rand));
        });
      } else {
        apply(randomOp(rand));
      }
      if (step % 10 === 0) checkConsistency(kv, model, forms);
    }
    checkConsistency(kv, model, forms);
    // Both forms of every collection type were seen along the way.
    for (const type of ["hash", "set", "list"]) {
      for (const form of ["inline", "rows"]) {
        assert.ok(forms.has(`${type} ${form}`), `${type} ${form}`);
      }
    }
    kv.close();
  });
}
