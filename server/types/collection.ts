/**
 * The entries of a hash, set or list, in either of its two forms, behind one
 * interface: the type families (`hashes.ts`, `sets.ts`, `lists.ts`) and the
 * garbage collector read and write entries only through here.
 *
 * - Inline: a key with few, small entries keeps them all in its registry
 *   value (`../kv/inline_entries.ts`): one row per key.
 * - Data keys: one row per entry (`type | name length | name | suffix`), as
 *   every key was before the inline form existed.
 *
 * A new key starts inline; a write that makes it outgrow the limits
 * ({@linkcode INLINE_MAX_ENTRIES}, {@linkcode INLINE_MAX_BYTES}) moves every
 * entry to data keys in the same transaction. A key never moves back (as in
 * Redis, which keeps a grown hash a hashtable): removals from a large key stay
 * cheap, and a key hovering at the limit does not flip at every write. Both
 * forms are read everywhere, so databases written before the inline form
 * existed are read as they are.
 *
 * An entry is a suffix (field, member, or uint64 BE list index) and a value
 * (empty for a set member), ordered by suffix bytes in both forms.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import {
  compareBytes,
  dataKey,
  dataPrefix,
  encodeRegistryValue,
  prefixEnd,
  type RegistryEntry,
  registryKey,
} from "../kv/keys.ts";
import {
  decodeInlineEntries,
  encodeInlineEntries,
  fitsInline,
  INLINE_MAX_BYTES,
  INLINE_MAX_ENTRIES,
  type InlineEntry,
  inlineSize,
} from "../kv/inline_entries.ts";
import { atomically, readEntry, writeCount } from "./_registry.ts";
import { WrongTypeError } from "./errors.ts";
import { latin1 } from "./_latin1.ts";

export { INLINE_MAX_BYTES, INLINE_MAX_ENTRIES };
export type { InlineEntry };

/** A type whose keys hold entries. */
export type CollectionType = "hash" | "set" | "list";

/** An existing hash, set or list, as its registry entry describes it. */
export interface Collection {
  /** Number of entries (at least 1). */
  count: number;
  /** Every entry in suffix order when the key is inline; `undefined` when it uses data keys. */
  inline: InlineEntry[] | undefined;
}

/** Suffix bounds of {@linkcode rangeEntries}. */
export interface EntryRange {
  /** Inclusive lower bound on suffixes; none when absent. */
  start?: Uint8Array;
  /** Exclusive upper bound on suffixes; none when absent. */
  end?: Uint8Array;
  /** At most this many entries; 0 or absent means all. */
  limit?: number;
  /** From the upper bound downwards. */
  reverse?: boolean;
}

/**
 * The key `name` of type `type`, or `undefined` when it does not exist.
 * Throws {@linkcode WrongTypeError} when it holds another type.
 */
export function readCollection(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
): Collection | undefined {
  return collectionOf(readEntry(kv, name), type);
}

function collectionOf(
  entry: RegistryEntry | undefined,
  type: CollectionType,
): Collection | undefined {
  if (entry === undefined) return undefined;
  if (entry.type !== type) throw new WrongTypeError();
  const inline = entry.inline === undefined ? undefined : decodeInlineEntries(entry.inline);
  return { count: entry.count, inline };
}

/** The value of the entry `suffix` of `name`, or `undefined` (also when `name` does not exist). */
export function getEntry(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  suffix: Uint8Array,
): Uint8Array | undefined {
  const collection = readCollection(kv, name, type);
  return collection === undefined ? undefined : entryIn(kv, name, type, collection, suffix);
}

/** The value of the entry `suffix` of `collection`, the key `name` of type `type`, or `undefined`. */
export function entryIn(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  collection: Collection,
  suffix: Uint8Array,
): Uint8Array | undefined {
  if (collection.inline === undefined) return kv.get(dataKey(type, name, suffix));
  const i = findEntry(collection.inline, suffix);
  return i < 0 ? undefined : collection.inline[i].value;
}

/**
 * The entries of `name` with suffixes in `range`, in suffix order (reversed
 * when asked); none when `name` does not exist.
 */
export function rangeEntries(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  range: EntryRange = {},
): InlineEntry[] {
  const collection = readCollection(kv, name, type);
  if (collection === undefined) return [];
  const limit = range.limit ?? 0;
  if (collection.inline !== undefined) {
    const selected = collection.inline.filter(({ suffix }) =>
      (range.start === undefined || compareBytes(suffix, range.start) >= 0) &&
      (range.end === undefined || compareBytes(suffix, range.end) < 0)
    );
    if (range.reverse) selected.reverse();
    return limit > 0 ? selected.slice(0, limit) : selected;
  }
  const prefix = dataPrefix(type, name);
  const entries: InlineEntry[] = [];
  const scan = kv.scan({
    start: range.start === undefined ? prefix : dataKey(type, name, range.start),
    // A data prefix starts with a type byte below 0xff, so it has an end.
    end: range.end === undefined ? prefixEnd(prefix) : dataKey(type, name, range.end),
    limit,
    reverse: range.reverse,
  });
  for (const { key, value } of scan) {
    entries.push({ suffix: key.subarray(prefix.length), value });
  }
  return entries;
}

/**
 * Stores `entries` in `name` (created when absent), replacing the values of
 * suffixes it has; an entry given twice ends with its last value. Returns how
 * many suffixes are new. Throws {@linkcode WrongTypeError} (writing nothing)
 * when `name` holds another type.
 */
export function putEntries(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  entries: readonly InlineEntry[],
): number {
  return atomically(kv, () => {
    const collection = readCollection(kv, name, type);
    if (collection !== undefined && collection.inline === undefined) {
      return putDataKeys(kv, name, type, collection.count, entries);
    }
    const merged = new Map<string, InlineEntry>();
    for (const entry of collection?.inline ?? []) merged.set(latin1(entry.suffix), entry);
    const before = merged.size;
    let changed = false;
    for (const entry of entries) {
      const k = latin1(entry.suffix);
      const old = merged.get(k);
      if (old === undefined || compareBytes(old.value, entry.value) !== 0) changed = true;
      merged.set(k, entry);
    }
    const added = merged.size - before;
    if (!changed) return 0;
    const all = [...merged.values()];
    if (fitsInline(all.length, inlineSize(all))) {
      all.sort((a, b) => compareBytes(a.suffix, b.suffix));
      kv.set(registryKey(name), encodeRegistryValue(type, all.length, encodeInlineEntries(all)));
    } else {
      for (const entry of all) kv.set(dataKey(type, name, entry.suffix), entry.value);
      kv.set(registryKey(name), encodeRegistryValue(type, all.length));
    }
    return added;
  });
}

/**
 * Removes the entries `suffixes` from `name`; returns how many existed.
 * Removing the last entry deletes the key. Throws
 * {@linkcode WrongTypeError} (removing nothing) when `name` holds another type.
 */
export function removeEntries(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  suffixes: readonly Uint8Array[],
): number {
  return atomically(kv, () => {
    const collection = readCollection(kv, name, type);
    if (collection === undefined) return 0;
    let removed = 0;
    if (collection.inline === undefined) {
      for (const suffix of suffixes) {
        if (kv.delete(dataKey(type, name, suffix))) removed++;
      }
      if (removed > 0) writeCount(kv, name, type, collection.count - removed);
      return removed;
    }
    const gone = new Set(suffixes.map(latin1));
    const kept = collection.inline.filter((entry) => !gone.has(latin1(entry.suffix)));
    removed = collection.inline.length - kept.length;
    if (removed === 0) return 0;
    if (kept.length === 0) kv.delete(registryKey(name));
    else {kv.set(
        registryKey(name),
        encodeRegistryValue(type, kept.length, encodeInlineEntries(kept)),
      );}
    return removed;
  });
}

function putDataKeys(
  kv: KvStore,
  name: Uint8Array,
  type: CollectionType,
  count: number,
  entries: readonly InlineEntry[],
): number {
  let added = 0;
  for (const { suffix, value } of entries) {
    const key = dataKey(type, name, suffix);
    // A repeat within `entries` finds its earlier write here.
    const old = kv.get(key);
    if (old === undefined) added++;
    else if (compareBytes(old, value) === 0) continue;
    kv.set(key, value);
  }
  if (added > 0) writeCount(kv, name, type, count + added);
  return added;
}

/** Index of `suffix` in the sorted `entries`, or -1. */
function findEntry(entries: readonly InlineEntry[], suffix: Uint8Array): number {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareBytes(entries[mid].suffix, suffix);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
