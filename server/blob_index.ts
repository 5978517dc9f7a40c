/**
 * The blob index of a database: which blobs its storage holds, their sizes
 * and where they are, kept in the kv store (`0x00 'b' | sha256` → uint64
 * size for a blob stored on its own, or uint64 size | 32-byte pack hash |
 * uint64 offset for a blob inside a pack, see `packs/pack_format.ts`) with
 * two counters for BCNT and BSIZE. BEXISTS answers from here without
 * touching the storage.
 *
 * An entry is added only after the storage's `put` resolved, so the index
 * never names a blob that is not durable.
 *
 * @module
 */

import { bytesToHex, hexToBytes } from "../storage/blob_id.ts";
import type { KvStore } from "./kv/kv_store.ts";
import type { PackLocation } from "./packs/blob_packer.ts";
import {
  BLOB_INDEX_END,
  BLOB_INDEX_START,
  blobIndexHash,
  blobIndexKeyOfId,
  counterKey,
  decodeUint64,
  encodeUint64,
} from "./kv/keys.ts";

const COUNT_KEY = counterKey("blob_count");
const BYTES_KEY = counterKey("blob_bytes");

function counter(kv: KvStore, key: Uint8Array): number {
  const value = kv.get(key);
  return value === undefined ? 0 : Number(decodeUint64(value));
}

function bump(kv: KvStore, key: Uint8Array, delta: number): void {
  kv.set(key, encodeUint64(BigInt(counter(kv, key) + delta)));
}

/** Whether blob `id` (lowercase hex) is indexed. */
export function has(kv: KvStore, id: string): boolean {
  return kv.get(blobIndexKeyOfId(id)) !== undefined;
}

/** The size of blob `id`, or undefined. */
export function size(kv: KvStore, id: string): number | undefined {
  const value = kv.get(blobIndexKeyOfId(id));
  return value === undefined ? undefined : Number(decodeUint64(value, 0));
}

/** Where blob `id` is: `undefined` when not indexed, `"standalone"` for a blob stored under its own id. */
export function locate(kv: KvStore, id: string): PackLocation | "standalone" | undefined {
  const value = kv.get(blobIndexKeyOfId(id));
  if (value === undefined) return undefined;
  if (value.length < PACKED_VALUE_BYTES) return "standalone";
  return {
    pack: bytesToHex(value.subarray(16, 48)),
    offset: Number(decodeUint64(value, 48)),
    length: Number(decodeUint64(value, 0)),
  };
}

/** When blob `id` was recorded (ms since the epoch; 0 when unknown), or undefined. */
export function addedAt(kv: KvStore, id: string): number | undefined {
  const value = kv.get(blobIndexKeyOfId(id));
  if (value === undefined) return undefined;
  return value.length >= 16 ? Number(decodeUint64(value, 8)) : 0;
}

/** Index value: uint64 size | uint64 time added (ms) [| 32-byte pack hash | uint64 offset]. */
const STANDALONE_VALUE_BYTES = 16;
const PACKED_VALUE_BYTES = 56;

/**
 * Records blob `id` of `bytes` bytes, added at `now` (ms since the epoch),
 * stored on its own or at `packed`; returns false if it was already
 * indexed. Call in a transaction.
 */
export function add(
  kv: KvStore,
  id: string,
  bytes: number,
  now: number,
  packed?: PackLocation,
): boolean {
  const key = blobIndexKeyOfId(id);
  if (kv.get(key) !== undefined) return false;
  const value = new Uint8Array(packed === undefined ? STANDALONE_VALUE_BYTES : PACKED_VALUE_BYTES);
  const view = new DataView(value.buffer);
  view.setBigUint64(0, BigInt(bytes));
  view.setBigUint64(8, BigInt(Math.max(0, Math.floor(now))));
  if (packed !== undefined) {
    value.set(hexToBytes(packed.pack), 16);
    view.setBigUint64(48, BigInt(packed.offset));
  }
  kv.set(key, value);
  bump(kv, COUNT_KEY, 1);
  bump(kv, BYTES_KEY, bytes);
  return true;
}

/** Forgets blob `id`; returns whether it was indexed. Call in a transaction. */
export function remove(kv: KvStore, id: string): boolean {
  const key = blobIndexKeyOfId(id);
  const value = kv.get(key);
  if (value === undefined) return false;
  kv.delete(key);
  bump(kv, COUNT_KEY, -1);
  bump(kv, BYTES_KEY, -Number(decodeUint64(value, 0)));
  return true;
}

/** The number of indexed blobs. */
export function count(kv: KvStore): number {
  return counter(kv, COUNT_KEY);
}

/** The total size of indexed blobs in bytes. */
export function totalBytes(kv: KvStore): number {
  return counter(kv, BYTES_KEY);
}

/** Every indexed blob, in id order. */
export function* list(kv: KvStore): Generator<{ id: string; size: number }> {
  for (const { key, value } of kv.scan({ start: BLOB_INDEX_START, end: BLOB_INDEX_END })) {
    yield { id: bytesToHex(blobIndexHash(key)), size: Number(decodeUint64(value, 0)) };
  }
}
