/**
 * Storage objects the garbage collector is about to delete, recorded in the
 * kv store's system area (`0x00 'g' | 32-byte id` → empty) in the same
 * transaction that removes their last index records. The objects are deleted
 * after the index sweep, and each key is dropped once its object is gone (or
 * found in use again). A collection that stops in between — a crash, a
 * storage error — leaves keys that the next collection finishes: the
 * records go first, the objects after, and no object is ever forgotten.
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { SYSTEM_PREFIX } from "../kv/keys.ts";

/** Second byte of a pending-delete key (`g`). */
export const PENDING_DELETE_TAG = 0x67;
/** Inclusive start of the pending-delete range. */
export const PENDING_DELETES_START: Uint8Array = Uint8Array.of(SYSTEM_PREFIX, PENDING_DELETE_TAG);
/** Exclusive end of the pending-delete range. */
export const PENDING_DELETES_END: Uint8Array = Uint8Array.of(SYSTEM_PREFIX, PENDING_DELETE_TAG + 1);

const EMPTY = new Uint8Array(0);

/** The key recording object `id` (32 raw bytes) as pending deletion. */
export function pendingDeleteKey(id: Uint8Array): Uint8Array {
  if (id.length !== 32) {
    throw new RangeError(`Cannot encode a pending-delete key: id of ${id.length} bytes`);
  }
  const key = new Uint8Array(34);
  key[0] = SYSTEM_PREFIX;
  key[1] = PENDING_DELETE_TAG;
  key.set(id, 2);
  return key;
}

/** The object id (32 raw bytes, a view) of a pending-delete key. */
export function pendingDeleteId(key: Uint8Array): Uint8Array {
  if (key.length !== 34 || key[0] !== SYSTEM_PREFIX || key[1] !== PENDING_DELETE_TAG) {
    throw new RangeError("Cannot decode a pending-delete key: not 0x00 'g' and 32 bytes");
  }
  return key.subarray(2);
}

/** Records object `id` as pending deletion. Call in a transaction with the index removals. */
export function addPendingDelete(kv: KvStore, id: Uint8Array): void {
  kv.set(pendingDeleteKey(id), EMPTY);
}

/** Whether object `id` is recorded as pending deletion. */
export function isPendingDelete(kv: KvStore, id: Uint8Array): boolean {
  return kv.get(pendingDeleteKey(id)) !== undefined;
}

/** Drops the record of object `id`. */
export function removePendingDelete(kv: KvStore, id: Uint8Array): void {
  kv.delete(pendingDeleteKey(id));
}

/** The number of objects pending deletion. */
export function countPendingDeletes(kv: KvStore): number {
  return kv.count(PENDING_DELETES_START, PENDING_DELETES_END);
}
