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
import { countOf } from "./_registry.ts";
import { getEntry, putEntries, rangeEntries, removeEntries } from "./collection.ts";
import { scanNames } from "./keyspace.ts";

/**
 * Sets the fields of the hash `name` to the given values (a field given
 * twice ends with its last value); returns how many fields are new.
 */
export function hset(
  kv: KvStore,
  name: Uint8Array,
  pairs: readonly (readonly [field: Uint8Array, value: Uint8Array])[],
): number {
  return putEntries(kv, name, "hash", pairs.map(([suffix, value]) => ({ suffix, value })));
}

/** The value of `field` in the hash `name`, or `undefined`. */
export function hget(kv: KvStore, name: Uint8Array, field: Uint8Array): Uint8Array | undefined {
  return getEntry(kv, name, "hash", field);
}

/** Every field and value of the hash `name`, fields in byte order. */
export function hgetall(kv: KvStore, name: Uint8Array): [field: Uint8Array, value: Uint8Array][] {
  return rangeEntries(kv, name, "hash").map(({ suffix, value }) => [suffix, value]);
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
  return removeEntries(kv, name, "hash", fields);
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
