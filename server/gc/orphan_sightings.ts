/**
 * Storage objects that no record names — orphans — as garbage collections
 * saw them, recorded in the kv store's system area
 * (`0x00 'o' | 32-byte id` → uint64 first seen (ms) | uint64 size | 8-byte
 * run id). An orphan is deleted only when a collection finds it unnamed
 * again at least the grace period (and at least an hour) after one first
 * did (`orphans.ts`): the storage's listing gives no times, and a pack or a
 * dump piece being written right now is not named by anything yet.
 *
 * Each collection that lists the storage stamps the sightings of the
 * orphans it sees with its own run id and then drops every sighting it did
 * not stamp (the object is gone, or named again).
 *
 * @module
 */

import type { KvStore } from "../kv/kv_store.ts";
import { SYSTEM_PREFIX } from "../kv/keys.ts";
import { uint64At } from "./_index_values.ts";

/** Second byte of a sighting key (`o`). */
export const SIGHTING_TAG = 0x6f;
/** Inclusive start of the sighting range. */
export const SIGHTINGS_START: Uint8Array = Uint8Array.of(SYSTEM_PREFIX, SIGHTING_TAG);
/** Exclusive end of the sighting range. */
export const SIGHTINGS_END: Uint8Array = Uint8Array.of(SYSTEM_PREFIX, SIGHTING_TAG + 1);

const VALUE_BYTES = 24;
const RUN_AT = 16;

/** What a sighting records. */
export interface Sighting {
  /** When a collection first saw the object unnamed (ms since the epoch). */
  firstSeen: number;
  /** The object's size in bytes. */
  size: number;
  /** The collection that saw it last (8 random bytes). */
  run: Uint8Array;
}

/** The key of the sighting of object `id` (32 raw bytes). */
export function sightingKey(id: Uint8Array): Uint8Array {
  if (id.length !== 32) {
    throw new RangeError(`Cannot encode a sighting key: id of ${id.length} bytes`);
  }
  const key = new Uint8Array(34);
  key[0] = SYSTEM_PREFIX;
  key[1] = SIGHTING_TAG;
  key.set(id, 2);
  return key;
}

/** The object id (32 raw bytes, a view) of a sighting key. */
export function sightingId(key: Uint8Array): Uint8Array {
  if (key.length !== 34 || key[0] !== SYSTEM_PREFIX || key[1] !== SIGHTING_TAG) {
    throw new RangeError("Cannot decode a sighting key: not 0x00 'o' and 32 bytes");
  }
  return key.subarray(2);
}

/** Decodes a sighting value. */
export function decodeSighting(value: Uint8Array): Sighting {
  if (value.length !== VALUE_BYTES) {
    throw new RangeError(`Cannot decode a sighting: ${value.length} bytes, expected 24`);
  }
  return {
    firstSeen: uint64At(value, 0),
    size: uint64At(value, 8),
    run: value.slice(RUN_AT, VALUE_BYTES),
  };
}

/** The sighting of object `id`, or undefined. */
export function getSighting(kv: KvStore, id: Uint8Array): Sighting | undefined {
  const value = kv.get(sightingKey(id));
  return value === undefined ? undefined : decodeSighting(value);
}

/** Records (or replaces) the sighting of object `id`. */
export function putSighting(kv: KvStore, id: Uint8Array, sighting: Sighting): void {
  const value = new Uint8Array(VALUE_BYTES);
  const view = new DataView(value.buffer);
  view.setBigUint64(0, BigInt(Math.max(0, Math.floor(sighting.firstSeen))));
  view.setBigUint64(8, BigInt(sighting.size));
  value.set(sighting.run.subarray(0, 8), RUN_AT);
  kv.set(sightingKey(id), value);
}

/** Drops the sighting of object `id`. */
export function removeSighting(kv: KvStore, id: Uint8Array): void {
  kv.delete(sightingKey(id));
}

/** Whether two run ids are the same. */
export function sameRun(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
