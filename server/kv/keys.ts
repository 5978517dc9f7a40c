/**
 * The key encoding of the kv layer: how Redis-like keys (strings, hashes,
 * sets, lists) and server-internal records map to ordered byte keys of a
 * `KvStore` (`kv_store.ts`). Pure functions, no I/O. See `docs/data-model.md`.
 *
 * Three areas, told apart by the first byte:
 * - `0x00 …` system area: the blob index (`0x00 'b' | 32 hash bytes` → uint64
 *   size) and counters (`0x00 'c' | counter name`).
 * - `'K' | name` registry: one entry per logical key; its value is the type
 *   byte and a uint64 BE count (fields, members, items; the byte length of a
 *   string), followed, for a small hash, set or list, by its entries inline
 *   (then it has no data keys). Not length-prefixed, so the registry sorts by
 *   name.
 * - `type | uint32 BE name length | name | suffix` data: the suffix is empty
 *   for a string, the field of a hash, the member of a set, the uint64 BE
 *   index of a list. One hash, set or list is one contiguous range.
 *
 * Every function returns a new array unless documented otherwise; exported
 * arrays must not be mutated.
 *
 * @module
 */

import { hexInto } from "../../storage/blob_id.ts";

/** The type of a logical key, as reported by TYPE. */
export type KeyType = "string" | "hash" | "set" | "list";

/** Type byte of a string key (`s`). */
export const STRING_TYPE = 0x73;
/** Type byte of a hash key (`h`). */
export const HASH_TYPE = 0x68;
/** Type byte of a set key (`S`). */
export const SET_TYPE = 0x53;
/** Type byte of a list key (`l`). */
export const LIST_TYPE = 0x6c;

/** First byte of every registry key (`K`). */
export const REGISTRY_PREFIX = 0x4b;
/** First byte of every system key. */
export const SYSTEM_PREFIX = 0x00;
/** Second byte of a blob index key (`b`). */
export const BLOB_INDEX_TAG = 0x62;
/** Second byte of a counter key (`c`). */
export const COUNTER_TAG = 0x63;

/** Inclusive start of the registry range. */
export const REGISTRY_START: Uint8Array = Uint8Array.of(REGISTRY_PREFIX);
/** Exclusive end of the registry range. */
export const REGISTRY_END: Uint8Array = Uint8Array.of(REGISTRY_PREFIX + 1);
/** Inclusive start of the blob index range. */
export const BLOB_INDEX_START: Uint8Array = Uint8Array.of(SYSTEM_PREFIX, BLOB_INDEX_TAG);
/** Exclusive end of the blob index range. */
export const BLOB_INDEX_END: Uint8Array = Uint8Array.of(SYSTEM_PREFIX, BLOB_INDEX_TAG + 1);

/** Byte length of a blob hash (SHA-256). */
export const BLOB_HASH_LENGTH = 32;
/** The greatest list index, 2^64 - 1. */
export const UINT64_MAX: bigint = (1n << 64n) - 1n;

/** Bytes before the name in a data key: the type byte and the uint32 name length. */
export const DATA_HEADER_LENGTH = 5;

const MAX_NAME_LENGTH = 0xffff_ffff;
const encoder = new TextEncoder();

/** The type byte of `type`. */
export function typeByte(type: KeyType): number {
  switch (type) {
    case "string":
      return STRING_TYPE;
    case "hash":
      return HASH_TYPE;
    case "set":
      return SET_TYPE;
    case "list":
      return LIST_TYPE;
  }
}

/** The type whose type byte is `byte`; throws a `RangeError` for any other byte. */
export function typeOfByte(byte: number): KeyType {
  switch (byte) {
    case STRING_TYPE:
      return "string";
    case HASH_TYPE:
      return "hash";
    case SET_TYPE:
      return "set";
    case LIST_TYPE:
      return "list";
  }
  throw new RangeError(`Cannot decode type byte 0x${byte.toString(16)}: unknown type`);
}

/** Compares two byte strings as the store orders keys (memcmp, shorter first). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * The smallest key greater than every key that starts with `prefix`, or
 * `undefined` when there is none (`prefix` is empty or all `0xff`).
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let i = prefix.length - 1;
  while (i >= 0 && prefix[i] === 0xff) i--;
  if (i < 0) return undefined;
  const end = prefix.slice(0, i + 1);
  end[i]++;
  return end;
}

/** The smallest key greater than `key` (`key` followed by `0x00`). */
export function keyAfter(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** Encodes an unsigned 64-bit integer as 8 bytes, big-endian. */
export function encodeUint64(value: bigint): Uint8Array {
  if (value < 0n || value > UINT64_MAX) {
    throw new RangeError(`Cannot encode ${value} as uint64: out of range`);
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

/** Decodes 8 big-endian bytes at `offset` of `bytes` as an unsigned 64-bit integer. */
export function decodeUint64(bytes: Uint8Array, offset = 0): bigint {
  if (bytes.length < offset + 8) {
    throw new RangeError(`Cannot decode uint64 at offset ${offset}: only ${bytes.length} bytes`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset);
}

/** The registry key of the logical key `name`: `'K' | name`. */
export function registryKey(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length + 1);
  out[0] = REGISTRY_PREFIX;
  out.set(name, 1);
  return out;
}

/** The name in a registry key (a view into `key`, not a copy). */
export function registryName(key: Uint8Array): Uint8Array {
  if (key[0] !== REGISTRY_PREFIX) {
    throw new RangeError(`Cannot decode registry key: first byte is not 'K'`);
  }
  return key.subarray(1);
}

/** A decoded registry value. */
export interface RegistryEntry {
  /** The type of the key. */
  type: KeyType;
  /** Fields, members or items of the key; the byte length of a string. */
  count: number;
  /**
   * The entries of a small hash, set or list stored in the registry value
   * itself (encoded by `inline_entries.ts`; a view into the value), or
   * `undefined` when they are stored as data keys.
   */
  inline?: Uint8Array;
}

/** Bytes of a registry value before any inline entries: the type byte and the uint64 BE count. */
export const REGISTRY_HEADER_LENGTH = 9;

/**
 * Encodes a registry value: the type byte, `count` as uint64 BE, then the
 * inline entries of a small hash, set or list when given (non-empty).
 */
export function encodeRegistryValue(
  type: KeyType,
  count: number,
  inline?: Uint8Array,
): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`Cannot encode registry count ${count}: not a non-negative safe integer`);
  }
  if (inline !== undefined && (inline.length === 0 || type === "string" || count === 0)) {
    throw new RangeError(`Cannot encode registry value: inline entries need a non-empty ${type}`);
  }
  const out = new Uint8Array(REGISTRY_HEADER_LENGTH + (inline?.length ?? 0));
  out[0] = typeByte(type);
  const view = new DataView(out.buffer);
  view.setUint32(1, Math.floor(count / 0x1_0000_0000));
  view.setUint32(5, count >>> 0);
  if (inline !== undefined) out.set(inline, REGISTRY_HEADER_LENGTH);
  return out;
}

/** Decodes a registry value (the inline entries, if any, are a view into `value`). */
export function decodeRegistryValue(value: Uint8Array): RegistryEntry {
  if (value.length < REGISTRY_HEADER_LENGTH) {
    throw new RangeError(
      `Cannot decode registry value: ${value.length} bytes, expected at least 9`,
    );
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const count = view.getUint32(1) * 0x1_0000_0000 + view.getUint32(5);
  const type = typeOfByte(value[0]);
  if (value.length === REGISTRY_HEADER_LENGTH) return { type, count };
  if (type === "string" || count === 0) {
    throw new RangeError(
      `Cannot decode registry value: inline entries after a ${type} of ${count}`,
    );
  }
  return { type, count, inline: value.subarray(REGISTRY_HEADER_LENGTH) };
}

/**
 * The prefix shared by every data key of the logical key `name` of type
 * `type`: `type | uint32 BE length | name`. For a string it is the whole key.
 */
export function dataPrefix(type: KeyType, name: Uint8Array): Uint8Array {
  return dataKey(type, name, undefined);
}

/** The data key `type | uint32 BE length | name | suffix`. */
export function dataKey(
  type: KeyType,
  name: Uint8Array,
  suffix: Uint8Array | undefined,
): Uint8Array {
  const n = name.length;
  if (n > MAX_NAME_LENGTH) {
    throw new RangeError(`Cannot encode key name of ${n} bytes: longer than 2^32 - 1`);
  }
  const out = new Uint8Array(DATA_HEADER_LENGTH + n + (suffix === undefined ? 0 : suffix.length));
  out[0] = typeByte(type);
  out[1] = n >>> 24;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  out.set(name, DATA_HEADER_LENGTH);
  if (suffix !== undefined) out.set(suffix, DATA_HEADER_LENGTH + n);
  return out;
}

/** The data key of the string key `name`. */
export function stringKey(name: Uint8Array): Uint8Array {
  return dataKey("string", name, undefined);
}

/** The data key of `field` of the hash `name`. */
export function hashFieldKey(name: Uint8Array, field: Uint8Array): Uint8Array {
  return dataKey("hash", name, field);
}

/** The data key of `member` of the set `name`. */
export function setMemberKey(name: Uint8Array, member: Uint8Array): Uint8Array {
  return dataKey("set", name, member);
}

/** The data key of the item at `index` (uint64) of the list `name`. */
export function listItemKey(name: Uint8Array, index: bigint): Uint8Array {
  return dataKey("list", name, encodeUint64(index));
}

/**
 * The suffix of a data key whose prefix is `prefixLength` bytes long: the
 * field or member (a view into `key`, not a copy).
 */
export function dataSuffix(key: Uint8Array, prefixLength: number): Uint8Array {
  return key.subarray(prefixLength);
}

/** The index in a list item key whose prefix is `prefixLength` bytes long. */
export function listIndexOf(key: Uint8Array, prefixLength: number): bigint {
  if (key.length !== prefixLength + 8) {
    throw new RangeError(`Cannot decode list item key: ${key.length - prefixLength} suffix bytes`);
  }
  return decodeUint64(key, prefixLength);
}

/** The blob index key of the blob whose SHA-256 is `hash` (32 raw bytes). */
export function blobIndexKey(hash: Uint8Array): Uint8Array {
  if (hash.length !== BLOB_HASH_LENGTH) {
    throw new RangeError(`Cannot encode blob index key: hash of ${hash.length} bytes, expected 32`);
  }
  const out = new Uint8Array(2 + BLOB_HASH_LENGTH);
  out[0] = SYSTEM_PREFIX;
  out[1] = BLOB_INDEX_TAG;
  out.set(hash, 2);
  return out;
}

/**
 * The blob index key of blob `id` (its SHA-256 as 64 lowercase hex digits):
 * {@linkcode blobIndexKey} of the decoded hash, without decoding it apart.
 * Throws a `RangeError` for an id that is not 64 lowercase hex digits.
 */
export function blobIndexKeyOfId(id: string): Uint8Array {
  if (id.length !== 2 * BLOB_HASH_LENGTH) {
    throw new RangeError(`Cannot encode blob index key: id of ${id.length} chars, expected 64`);
  }
  const out = new Uint8Array(2 + BLOB_HASH_LENGTH);
  out[0] = SYSTEM_PREFIX;
  out[1] = BLOB_INDEX_TAG;
  hexInto(id, out, 2);
  return out;
}

/** The raw hash in a blob index key (a view into `key`, not a copy). */
export function blobIndexHash(key: Uint8Array): Uint8Array {
  if (
    key.length !== 2 + BLOB_HASH_LENGTH || key[0] !== SYSTEM_PREFIX || key[1] !== BLOB_INDEX_TAG
  ) {
    throw new RangeError("Cannot decode blob index key: not 0x00 'b' followed by 32 bytes");
  }
  return key.subarray(2);
}

/** The key of the server counter `name` (text is UTF-8 encoded): `0x00 'c' | name`. */
export function counterKey(name: Uint8Array | string): Uint8Array {
  const bytes = typeof name === "string" ? encoder.encode(name) : name;
  const out = new Uint8Array(2 + bytes.length);
  out[0] = SYSTEM_PREFIX;
  out[1] = COUNTER_TAG;
  out.set(bytes, 2);
  return out;
}
