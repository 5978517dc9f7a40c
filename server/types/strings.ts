/**
 * String keys: GET, SET, GETSET, and RANGE over string keys by name.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { encodeRegistryValue, type RegistryEntry, registryKey, stringKey } from "../kv/keys.ts";
import { atomically, checkType, deleteKey, readEntry } from "./_registry.ts";
import { WrongTypeError } from "./errors.ts";
import { scanNames } from "./keyspace.ts";

/**
 * The value of the string key `name`, or `undefined` when it does not exist.
 * Throws {@linkcode WrongTypeError} when `name` holds another type.
 */
export function get(kv: KvStore, name: Uint8Array): Uint8Array | undefined {
  const value = kv.get(stringKey(name));
  if (value === undefined) checkType(kv, name, "string");
  return value;
}

/**
 * Sets the string key `name` to `value`. As in Redis, a key of another type
 * is replaced (its fields, members or items are deleted).
 */
export function set(kv: KvStore, name: Uint8Array, value: Uint8Array): void {
  atomically(kv, () => {
    const entry = readEntry(kv, name);
    if (entry !== undefined && entry.type !== "string") deleteKey(kv, name, entry);
    write(kv, name, value, entry);
  });
}

/**
 * Sets the string key `name` to `value` and returns its previous value
 * (`undefined` when it did not exist). Throws {@linkcode WrongTypeError}
 * when `name` holds another type, leaving it unchanged.
 */
export function getset(kv: KvStore, name: Uint8Array, value: Uint8Array): Uint8Array | undefined {
  return atomically(kv, () => {
    const entry = readEntry(kv, name);
    if (entry !== undefined && entry.type !== "string") throw new WrongTypeError();
    const old = entry === undefined ? undefined : kv.get(stringKey(name));
    write(kv, name, value, entry);
    return old;
  });
}

/**
 * Values of the string keys whose names are in [start, end] (both
 * inclusive), in name order, at most `limit` of them (0: all). Keys of
 * other types in the range are skipped.
 */
export function range(
  kv: KvStore,
  start: Uint8Array,
  end: Uint8Array,
  limit: number,
): Uint8Array[] {
  const values: Uint8Array[] = [];
  for (const name of scanNames(kv, start, end, limit, "string")) {
    const value = kv.get(stringKey(name));
    if (value !== undefined) values.push(value);
  }
  return values;
}

/** Writes the value, and the registry entry unless it is unchanged (`old`: the entry before). */
function write(
  kv: KvStore,
  name: Uint8Array,
  value: Uint8Array,
  old: RegistryEntry | undefined,
): void {
  kv.set(stringKey(name), value);
  if (old?.type !== "string" || old.count !== value.length) {
    kv.set(registryKey(name), encodeRegistryValue("string", value.length));
  }
}
