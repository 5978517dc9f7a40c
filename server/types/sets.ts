/**
 * Set keys: members in byte order. SADD, SREM, SMEMBERS, SISMEMBER, SCARD.
 *
 * Every operation throws `WrongTypeError` (`errors.ts`) when the key holds
 * another type.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { countOf } from "./_registry.ts";
import { getEntry, putEntries, rangeEntries, removeEntries } from "./collection.ts";

const EMPTY = new Uint8Array(0);

/** Adds `members` to the set `name`; returns how many were new. */
export function sadd(kv: KvStore, name: Uint8Array, members: readonly Uint8Array[]): number {
  return putEntries(kv, name, "set", members.map((suffix) => ({ suffix, value: EMPTY })));
}

/**
 * Removes `members` from the set `name`; returns how many existed. Removing
 * the last member deletes the key.
 */
export function srem(kv: KvStore, name: Uint8Array, members: readonly Uint8Array[]): number {
  return removeEntries(kv, name, "set", members);
}

/** Every member of the set `name`, in byte order. */
export function smembers(kv: KvStore, name: Uint8Array): Uint8Array[] {
  return rangeEntries(kv, name, "set").map((entry) => entry.suffix);
}

/** Whether `member` is in the set `name`. */
export function sismember(kv: KvStore, name: Uint8Array, member: Uint8Array): boolean {
  return getEntry(kv, name, "set", member) !== undefined;
}

/** The number of members of the set `name` (0 when it does not exist). */
export function scard(kv: KvStore, name: Uint8Array): number {
  return countOf(kv, name, "set");
}
