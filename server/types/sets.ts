/**
 * Set keys: members in byte order. SADD, SREM, SMEMBERS, SISMEMBER, SCARD.
 *
 * Every operation throws `WrongTypeError` (`errors.ts`) when the key holds
 * another type.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { dataPrefix, prefixEnd, setMemberKey } from "../kv/keys.ts";
import { atomically, checkType, countOf, writeCount } from "./_registry.ts";
import { latin1 } from "./_latin1.ts";

const EMPTY = new Uint8Array(0);

/** Adds `members` to the set `name`; returns how many were new. */
export function sadd(kv: KvStore, name: Uint8Array, members: readonly Uint8Array[]): number {
  return atomically(kv, () => {
    const count = countOf(kv, name, "set");
    let added = 0;
    // The members of a new set are new without looking (but for repeats).
    const seen = count === 0 && members.length > 1 ? new Set<string>() : undefined;
    for (let i = 0; i < members.length; i++) {
      const key = setMemberKey(name, members[i]);
      if (seen !== undefined) {
        const member = latin1(members[i]);
        if (seen.has(member)) continue;
        seen.add(member);
      } else if (count !== 0 && kv.get(key) !== undefined) {
        continue;
      }
      kv.set(key, EMPTY);
      added++;
    }
    if (added > 0) writeCount(kv, name, "set", count + added);
    return added;
  });
}

/**
 * Removes `members` from the set `name`; returns how many existed. Removing
 * the last member deletes the key.
 */
export function srem(kv: KvStore, name: Uint8Array, members: readonly Uint8Array[]): number {
  return atomically(kv, () => {
    const count = countOf(kv, name, "set");
    if (count === 0) return 0;
    let removed = 0;
    for (const member of members) {
      if (kv.delete(setMemberKey(name, member))) removed++;
    }
    if (removed > 0) writeCount(kv, name, "set", count - removed);
    return removed;
  });
}

/** Every member of the set `name`, in byte order. */
export function smembers(kv: KvStore, name: Uint8Array): Uint8Array[] {
  const start = dataPrefix("set", name);
  const members: Uint8Array[] = [];
  for (const { key } of kv.scan({ start, end: prefixEnd(start) })) {
    members.push(key.subarray(start.length));
  }
  if (members.length === 0) checkType(kv, name, "set");
  return members;
}

/** Whether `member` is in the set `name`. */
export function sismember(kv: KvStore, name: Uint8Array, member: Uint8Array): boolean {
  // A member entry exists only under a set, so a hit needs no type check.
  if (kv.get(setMemberKey(name, member)) !== undefined) return true;
  checkType(kv, name, "set");
  return false;
}

/** The number of members of the set `name` (0 when it does not exist). */
export function scard(kv: KvStore, name: Uint8Array): number {
  return countOf(kv, name, "set");
}
