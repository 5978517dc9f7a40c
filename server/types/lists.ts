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

import type { KvStore } from "../kv/kv_store.ts";
import { decodeUint64, encodeUint64, keyAfter, UINT64_MAX } from "../kv/keys.ts";
import { checkType, countOf } from "./_registry.ts";
import { type EntryRange, getEntry, putEntries, rangeEntries } from "./collection.ts";
import { ValueError } from "./errors.ts";

/** One list entry: its index and value. */
export type ListEntry = [index: bigint, value: Uint8Array];

function checkIndex(index: bigint): void {
  if (typeof index !== "bigint" || index < 0n || index > UINT64_MAX) throw new ValueError();
}

/** Stores `value` at `index` of the list `name`, replacing any value there. */
export function ladd(kv: KvStore, name: Uint8Array, index: bigint, value: Uint8Array): void {
  checkIndex(index);
  putEntries(kv, name, "list", [{ suffix: encodeUint64(index), value }]);
}

/** The number of entries of the list `name` (0 when it does not exist). */
export function llen(kv: KvStore, name: Uint8Array): number {
  return countOf(kv, name, "list");
}

/** The value at exactly `index` of the list `name`, or `undefined`. */
export function lindex(kv: KvStore, name: Uint8Array, index: bigint): Uint8Array | undefined {
  checkIndex(index);
  return getEntry(kv, name, "list", encodeUint64(index));
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
  if (start > end) {
    checkType(kv, name, "list");
    return [];
  }
  return entries(kv, name, {
    start: encodeUint64(start),
    end: keyAfter(encodeUint64(end)),
    limit,
  });
}

/** The entry of the list `name` with the greatest index, or `undefined`. */
export function llast(kv: KvStore, name: Uint8Array): ListEntry | undefined {
  return entries(kv, name, { limit: 1, reverse: true })[0];
}

/** Every entry of the list `name`, in index order. */
export function liter(kv: KvStore, name: Uint8Array): ListEntry[] {
  return entries(kv, name, {});
}

/**
 * The entry of the list `name` with the greatest index <= `index` (the state
 * as of a time, when indexes are times), or `undefined`.
 */
export function lprev(kv: KvStore, name: Uint8Array, index: bigint): ListEntry | undefined {
  checkIndex(index);
  return entries(kv, name, { end: keyAfter(encodeUint64(index)), limit: 1, reverse: true })[0];
}

function entries(kv: KvStore, name: Uint8Array, range: EntryRange): ListEntry[] {
  return rangeEntries(kv, name, "list", range).map(({ suffix, value }) => {
    if (suffix.length !== 8) {
      throw new RangeError(`Cannot decode list item: ${suffix.length} index bytes, expected 8`);
    }
    return [decodeUint64(suffix), value];
  });
}
