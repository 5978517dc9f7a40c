/**
 * The inline form of a small hash, set or list: all its entries in the
 * registry value of the key, after the type byte and count (`keys.ts`),
 * instead of one data key per entry. Pure functions, no I/O. See
 * `docs/data-model.md`.
 *
 * An entry is its suffix (the field of a hash, the member of a set, the
 * uint64 BE index of a list: what would follow the data prefix in its data
 * key) and its value (empty for a set). Encoded, entry after entry in
 * ascending byte order of their suffixes, each as
 * `LEB128 suffix length | suffix | LEB128 value length | value`.
 *
 * Why: a backup writes, per small file, a two-field meta hash and a
 * one-item chunk list under content-addressed (random) names. As data keys
 * they cost five rows on five random B-tree pages; inline, two rows. SQLite's
 * cost per row is mostly the page it dirties, so this nearly halves the
 * metadata write cost (`docs/benchmarks.md`).
 *
 * @module
 */

import { compareBytes } from "./keys.ts";

/** One entry of a hash, set or list: its suffix and value. */
export interface InlineEntry {
  /** The field, member, or uint64 BE list index. */
  suffix: Uint8Array;
  /** The value (empty for a set member). */
  value: Uint8Array;
}

/** The most entries a key keeps inline; one more moves it to data keys. */
export const INLINE_MAX_ENTRIES = 64;

/**
 * The most bytes of encoded entries a key keeps inline. With the registry
 * key and header this stays under SQLite's largest local payload of an index
 * B-tree cell on 4 KiB pages (1,002 bytes), so a registry row never spills
 * onto overflow pages.
 */
export const INLINE_MAX_BYTES = 512;

/** Thrown when inline entries cannot be decoded: a corrupt or foreign registry value. */
export class InlineEntriesError extends RangeError {
  /** Builds the error; `reason` says what is wrong. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`Cannot decode inline entries: ${reason}`, options);
    this.name = "InlineEntriesError";
  }
}

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    length++;
  }
  return length;
}

/** The encoded size of `entries`, in bytes. */
export function inlineSize(entries: Iterable<InlineEntry>): number {
  let size = 0;
  for (const { suffix, value } of entries) {
    size += varintLength(suffix.length) + suffix.length + varintLength(value.length) + value.length;
  }
  return size;
}

/** Whether `count` entries of `size` encoded bytes are kept inline. */
export function fitsInline(count: number, size: number): boolean {
  return count > 0 && count <= INLINE_MAX_ENTRIES && size <= INLINE_MAX_BYTES;
}

/**
 * Encodes `entries`, which must be sorted by suffix in ascending byte order
 * without repeats (a `RangeError` otherwise).
 */
export function encodeInlineEntries(entries: readonly InlineEntry[]): Uint8Array {
  const out = new Uint8Array(inlineSize(entries));
  let at = 0;
  const put = (bytes: Uint8Array) => {
    let n = bytes.length;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 0x80);
    }
    out[at++] = n;
    out.set(bytes, at);
    at += bytes.length;
  };
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && compareBytes(entries[i - 1].suffix, entries[i].suffix) >= 0) {
      throw new RangeError("Cannot encode inline entries: suffixes not strictly ascending");
    }
    put(entries[i].suffix);
    put(entries[i].value);
  }
  return out;
}

/**
 * Decodes inline entries; suffixes and values are views into `bytes`.
 * Throws {@linkcode InlineEntriesError} on truncated or unsorted input.
 */
export function decodeInlineEntries(bytes: Uint8Array): InlineEntry[] {
  const entries: InlineEntry[] = [];
  let at = 0;
  const take = (): Uint8Array => {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.length) throw new InlineEntriesError(`truncated length at byte ${at}`);
      const byte = bytes[at++];
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 35) throw new InlineEntriesError(`length too long at byte ${at}`);
    }
    if (at + n > bytes.length) {
      throw new InlineEntriesError(`${n} bytes at byte ${at} run past the end (${bytes.length})`);
    }
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  while (at < bytes.length) {
    const suffix = take();
    const value = take();
    const previous = entries.at(-1);
    if (previous !== undefined && compareBytes(previous.suffix, suffix) >= 0) {
      throw new InlineEntriesError(`entry ${entries.length} is not after the one before`);
    }
    entries.push({ suffix, value });
  }
  return entries;
}
