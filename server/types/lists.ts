/**
 * List keys, as in the original Data Database (not Redis's lists): values
 * sorted by an unsigned 64-bit index, one value per index. LADD, LLEN,
 * LINDEX, LRANGE, LLAST, LITER, LMRANGE, LPREV.
 *
 * Indexes are `bigint`s in [0, 2^64 - 1]; others throw
 * {@linkcode ValueError}. Every operation throws `WrongTypeError` (`errors.ts`)
 * when the key holds another type.
 *
 * @module
 */

import type { KvStore, ScanOptions } from "../kv/kv_store.ts";
import {
  DATA_HEADER_LENGTH,
  dataPrefix,
  keyAfter,
  listIndexOf,
  listItemKey,
  prefixEnd,
  UINT64_MAX,
} from "../kv/keys.ts";
import { atomically, checkType, countOf, writeCount } from "./_registry.ts";
import { ValueError } from "./errors.ts";

/** One list entry: its index and value. */
export type ListEntry = [index: bigint, value: Uint8Array];

function checkIndex(index: bigint): void {
  if (typeof index !== "bigint" || index < 0n || index > UINT64_MAX) throw new ValueError();
}

/** Stores `value` at `index` of the list `name`, replacing any value there. */
export function ladd(kv: KvStore, name: Uint8Array, index: bigint, value: Uint8Array): void {
  checkIndex(index);
  atomically(kv, () => {
    const count = countOf(kv, name, "list");
    const key = listItemKey(name, index);
    const isNew = count === 0 || kv.get(key) === undefined;
    kv.set(key, value);
    if (isNew) writeCount(kv, name, "list", count + 1);
  });
}

/** The number of entries of the list `name` (0 when it does not exist). */
export function llen(kv: KvStore, name: Uint8Array): number {
  return countOf(kv, name, "list");
}

/** The value at exactly `index` of the list `name`, or `undefined`. */
export function lindex(kv: KvStore, name: Uint8Array, index: bigint): Uint8Array | undefined {
  checkIndex(index);
  // An item entry exists only under a list, so a hit needs no type check.
  const value = kv.get(listItemKey(name, index));
  if (value === undefined) checkType(kv, name, "list");
  return value;
}

/**
 * Values of the list `name` with index in [start, end] (both inclusive), in
 * index order, at most `limit` of them (0: all).
 */
export function lrange(
  kv: KvStore,
  name: Uint8Array,
  start: bigint,
  end: bigint,
  limit: number,
): Uint8Array[] {
  return lmrange(kv, name, start, end, limit).map((entry) => entry[1]);
}

/**
 * Entries of the list `name` with index in [start, end] (both inclusive),
 * in index order, at most `limit` of them (0: all). With limit 1 this is the
 * first entry at or after `start`.
 */
export function lmrange(
  kv: KvStore,
  name: Uint8Array,
  start: bigint,
  end: bigint,
  limit: number,
): ListEntry[] {
  checkIndex(start);
  checkIndex(end);
  const entries: ListEntry[] = [];
  if (start <= end) {
    const bounds = { start: listItemKey(name, start), end: keyAfter(listItemKey(name, end)) };
    collect(kv, name, { ...bounds, limit }, entries);
  }
  if (entries.length === 0) checkType(kv, name, "list");
  return entries;
}

/** The entry of the list `name` with the greatest index, or `undefined`. */
export function llast(kv: KvStore, name: Uint8Array): ListEntry | undefined {
  const start = dataPrefix("list", name);
  return last(kv, name, start, prefixEnd(start));
}

/** Every entry of the list `name`, in index order. */
export function liter(kv: KvStore, name: Uint8Array): ListEntry[] {
  const start = dataPrefix("list", name);
  const entries: ListEntry[] = [];
  collect(kv, name, { start, end: prefixEnd(start) }, entries);
  if (entries.length === 0) checkType(kv, name, "list");
  return entries;
}

/**
 * The entry of the list `name` with the greatest index <= `index` (the state
 * as of a time, when indexes are times), or `undefined`.
 */
export function lprev(kv: KvStore, name: Uint8Array, index: bigint): ListEntry | undefined {
  checkIndex(index);
  return last(kv, name, dataPrefix("list", name), keyAfter(listItemKey(name, index)));
}

function collect(kv: KvStore, name: Uint8Array, bounds: ScanOptions, out: ListEntry[]): void {
  const prefixLength = DATA_HEADER_LENGTH + name.length;
  for (const { key, value } of kv.scan(bounds)) {
    out.push([listIndexOf(key, prefixLength), value]);
  }
}

function last(
  kv: KvStore,
  name: Uint8Array,
  start: Uint8Array,
  end: Uint8Array | undefined,
): ListEntry | undefined {
  for (const { key, value } of kv.scan({ start, end, limit: 1, reverse: true })) {
    return [listIndexOf(key, start.length), value];
  }
  checkType(kv, name, "list");
  return undefined;
}
