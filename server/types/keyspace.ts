/**
 * Operations on whole keys of any type: TYPE, EXISTS, DEL, DBSIZE, and the
 * walk over key names in byte order that RANGE and HSCAN use.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import {
  compareBytes,
  keyAfter,
  type KeyType,
  REGISTRY_END,
  REGISTRY_START,
  registryKey,
  registryName,
  typeByte,
} from "../kv/keys.ts";
import { atomically, deleteKey, readEntry } from "./_registry.ts";

export type { KeyType };

/** The type of the key `name`, or `undefined` when it does not exist. */
export function typeOf(kv: KvStore, name: Uint8Array): KeyType | undefined {
  return readEntry(kv, name)?.type;
}

/** Whether the key `name` exists. */
export function exists(kv: KvStore, name: Uint8Array): boolean {
  return kv.get(registryKey(name)) !== undefined;
}

/**
 * Deletes the keys `names` (of any type, with all their fields, members or
 * items); returns how many existed. A name given twice counts once.
 */
export function del(kv: KvStore, names: readonly Uint8Array[]): number {
  return atomically(kv, () => {
    let deleted = 0;
    for (const name of names) {
      const entry = readEntry(kv, name);
      if (entry === undefined) continue;
      deleteKey(kv, name, entry);
      deleted++;
    }
    return deleted;
  });
}

/** The number of keys. */
export function dbsize(kv: KvStore): number {
  return kv.count(REGISTRY_START, REGISTRY_END);
}

/**
 * Names of the keys whose name is in [start, end] (both inclusive), in byte
 * order, at most `limit` of them (0: all); only keys of type `type` when
 * given. The returned arrays are fresh.
 */
export function scanNames(
  kv: KvStore,
  start: Uint8Array,
  end: Uint8Array,
  limit: number,
  type?: KeyType,
): Uint8Array[] {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`Cannot scan key names with limit ${limit}: not a non-negative integer`);
  }
  const names: Uint8Array[] = [];
  if (compareBytes(start, end) > 0) return names;
  const bounds = { start: registryKey(start), end: keyAfter(registryKey(end)) };
  if (type === undefined) {
    for (const { key } of kv.scan({ ...bounds, limit })) names.push(registryName(key));
    return names;
  }
  const wanted = typeByte(type);
  for (const { key, value } of kv.scan(bounds)) {
    if (value[0] !== wanted) continue;
    names.push(registryName(key));
    if (names.length === limit) break;
  }
  return names;
}
