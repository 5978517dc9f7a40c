/**
 * Internal: reading and maintaining the registry entry (type and count) of a
 * logical key, shared by the type families.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import {
  dataPrefix,
  decodeRegistryValue,
  encodeRegistryValue,
  type KeyType,
  prefixEnd,
  type RegistryEntry,
  registryKey,
  stringKey,
} from "../kv/keys.ts";
import { WrongTypeError } from "./errors.ts";

/** The registry entry of `name`, or `undefined` when the key does not exist. */
export function readEntry(kv: KvStore, name: Uint8Array): RegistryEntry | undefined {
  const value = kv.get(registryKey(name));
  return value === undefined ? undefined : decodeRegistryValue(value);
}

/**
 * The count of `name`, which must be absent (count 0) or of type `type`;
 * throws {@linkcode WrongTypeError} otherwise.
 */
export function countOf(kv: KvStore, name: Uint8Array, type: KeyType): number {
  const entry = readEntry(kv, name);
  if (entry === undefined) return 0;
  if (entry.type !== type) throw new WrongTypeError();
  return entry.count;
}

/** Throws {@linkcode WrongTypeError} unless `name` is absent or of type `type`. */
export function checkType(kv: KvStore, name: Uint8Array, type: KeyType): void {
  countOf(kv, name, type);
}

/**
 * Records the count of the hash, set or list `name`; a count of 0 removes
 * the key from the registry (an empty collection does not exist).
 */
export function writeCount(kv: KvStore, name: Uint8Array, type: KeyType, count: number): void {
  if (count === 0) kv.delete(registryKey(name));
  else kv.set(registryKey(name), encodeRegistryValue(type, count));
}

/**
 * Deletes the existing key `name`, described by its registry `entry`: its
 * data keys (none when its entries are inline) and its registry entry.
 */
export function deleteKey(kv: KvStore, name: Uint8Array, entry: RegistryEntry): void {
  if (entry.type === "string") {
    kv.delete(stringKey(name));
  } else if (entry.inline === undefined) {
    const prefix = dataPrefix(entry.type, name);
    // A data prefix starts with a type byte below 0xff, so it has an end.
    kv.deleteRange(prefix, prefixEnd(prefix)!);
  }
  kv.delete(registryKey(name));
}

/**
 * Runs a write atomically. Every write of this layer checks everything that
 * can fail on the client's side (types, values) before its first write, so
 * inside a caller's transaction no savepoint is needed: a failure there is
 * a storage fault, and the caller's whole transaction is rolled back (the
 * server's group commit does so). Outside a transaction, `fn` gets its own.
 */
export function atomically<T>(kv: KvStore, fn: () => T): T {
  return kv.inTransaction ? fn() : kv.transaction(fn);
}
