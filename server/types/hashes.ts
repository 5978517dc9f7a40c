/**
 * Hash keys: a map from field to value, fields in byte order. HSET, HGET,
 * HGETALL, HLEN, HDEL, HEXISTS, and HSCAN over hash keys by name.
 *
 * Every operation throws `WrongTypeError` (`errors.ts`) when the key holds
 * another type.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { dataPrefix, hashFieldKey, prefixEnd } from "../kv/keys.ts";
import { atomically, checkType, countOf, writeCount } from "./_registry.ts";
import { scanNames } from "./keyspace.ts";
import { latin1 } from "./_latin1.ts";

/**
 * Sets the fields of the hash `name` to the given values (a field given
 * twice ends with its last value); returns how many fields are new.
 */
export function hset(
  kv: KvStore,
  name: Uint8Array,
  pairs: readonly (readonly [field: Uint8Array, value: Uint8Array])[],
): number {
  return atomically(kv, () => {
    const count = countOf(kv, name, "hash");
    let added = 0;
    // The fields of a new hash are new without looking (but for repeats).
    const seen = count === 0 && pairs.length > 1 ? new Set<string>() : undefined;
    for (let i = 0; i < pairs.length; i++) {
      const key = hashFieldKey(name, pairs[i][0]);
      if (seen !== undefined) {
        const field = latin1(pairs[i][0]);
        if (!seen.has(field)) {
          seen.add(field);
          added++;
        }
      } else if (count === 0 || kv.get(key) === undefined) {
        added++;
      }
      kv.set(key, pairs[i][1]);
    }
    if (added > 0) writeCount(kv, name, "hash", count + added);
    return added;
  });
}

/** The value of `field` in the hash `name`, or `undefined`. */
export function hget(kv: KvStore, name: Uint8Array, field: Uint8Array): Uint8Array | undefined {
  // A field entry exists only under a hash, so a hit needs no type check.
  const value = kv.get(hashFieldKey(name, field));
  if (value === undefined) checkType(kv, name, "hash");
  return value;
}

/** Every field and value of the hash `name`, fields in byte order. */
export function hgetall(kv: KvStore, name: Uint8Array): [field: Uint8Array, value: Uint8Array][] {
  const start = dataPrefix("hash", name);
  const pairs: [Uint8Array, Uint8Array][] = [];
  for (const { key, value } of kv.scan({ start, end: prefixEnd(start) })) {
    pairs.push([key.subarray(start.length), value]);
  }
  if (pairs.length === 0) checkType(kv, name, "hash");
  return pairs;
}

/** The number of fields of the hash `name` (0 when it does not exist). */
export function hlen(kv: KvStore, name: Uint8Array): number {
  return countOf(kv, name, "hash");
}

/**
 * Deletes `fields` from the hash `name`; returns how many existed. Deleting
 * the last field deletes the key.
 */
export function hdel(kv: KvStore, name: Uint8Array, fields: readonly Uint8Array[]): number {
  return atomically(kv, () => {
    const count = countOf(kv, name, "hash");
    if (count === 0) return 0;
    let removed = 0;
    for (const field of fields) {
      if (kv.delete(hashFieldKey(name, field))) removed++;
    }
    if (removed > 0) writeCount(kv, name, "hash", count - removed);
    return removed;
  });
}

/** Whether the hash `name` has `field`. */
export function hexists(kv: KvStore, name: Uint8Array, field: Uint8Array): boolean {
  return hget(kv, name, field) !== undefined;
}

/**
 * Names of the hash keys whose names are in [start, end] (both inclusive),
 * in byte order, at most `limit` of them (0: all). Not Redis's cursor HSCAN.
 */
export function hscan(
  kv: KvStore,
  start: Uint8Array,
  end: Uint8Array,
  limit: number,
): Uint8Array[] {
  return scanNames(kv, start, end, limit, "hash");
}
