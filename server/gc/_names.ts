/**
 * Internal: the key names of the backup metadata schema (docs/data-model.md)
 * as the garbage collector reads them, as raw bytes: `m:`, `c:`, `d:`, `s:`
 * followed by a lowercase hex SHA-256, hex blob ids, and a one-chunk file's
 * `b:<blob id>` ref.
 *
 * @module
 */

import { bytesToHex, hexDigitValue, hexToBytes } from "../../storage/blob_id.ts";

const encoder = new TextEncoder();

/** `m:`: a node's meta hash. */
export const META_PREFIX: Uint8Array = encoder.encode("m:");
/** `c:`: a file's content list. */
export const CONTENT_PREFIX: Uint8Array = encoder.encode("c:");
/** `b:`: the ref of a file that is one blob (schema version 3; not a key). */
export const BLOB_REF_PREFIX: Uint8Array = encoder.encode("b:");
/** `d:`: a directory's set of members. */
export const DIR_PREFIX: Uint8Array = encoder.encode("d:");
/** `s:`: a snapshot hash. */
export const SNAPSHOT_PREFIX: Uint8Array = encoder.encode("s:");
/** The set of every snapshot key. */
export const SNAPSHOTS_KEY: Uint8Array = encoder.encode("ddb:snapshots");
/** The field of a meta or snapshot hash that references other data. */
export const REF_FIELD: Uint8Array = encoder.encode("ref");

/** Whether `name` starts with the 2-byte `prefix`. */
export function hasPrefix(name: Uint8Array, prefix: Uint8Array): boolean {
  return name.length >= 2 && name[0] === prefix[0] && name[1] === prefix[1];
}

/**
 * Decodes the 64 lowercase hex digits of `text` starting at `offset` (and
 * ending `text`) into `out` (32 bytes); false when they are not exactly that.
 */
export function decodeHexId(text: Uint8Array, offset: number, out: Uint8Array): boolean {
  if (text.length - offset !== 64) return false;
  for (let i = 0; i < 32; i++) {
    const hi = hexDigitValue(text[offset + 2 * i]);
    const lo = hexDigitValue(text[offset + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}

/** The bytes of the lowercase hex `hex` (a blob id: 64 digits → 32 bytes). */
export const fromHex: (hex: string) => Uint8Array = hexToBytes;

/** Lowercase hex of `bytes`. */
export const toHex: (bytes: Uint8Array) => string = bytesToHex;

/** `name` as text for logs (invalid UTF-8 replaced). */
export function nameText(name: Uint8Array): string {
  return new TextDecoder().decode(name);
}
