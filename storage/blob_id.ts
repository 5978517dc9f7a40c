/**
 * Blob ids: the lowercase hex SHA-256 of a blob's bytes.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { BlobCorruptError, InvalidBlobIdError } from "./blob_storage.ts";

const BLOB_ID = /^[0-9a-f]{64}$/;

/**
 * Whether `s` is a well-formed blob id: exactly 64 lowercase hex characters.
 *
 * @example
 * ```ts
 * isBlobId("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); // true
 * isBlobId("../../etc/passwd"); // false
 * ```
 */
export function isBlobId(s: string): boolean {
  return BLOB_ID.test(s);
}

/** Throws {@linkcode InvalidBlobIdError} unless `s` is a well-formed blob id. */
export function assertBlobId(s: string): void {
  if (!isBlobId(s)) throw new InvalidBlobIdError(s);
}

/** The id of `data`: its SHA-256 as 64 lowercase hex characters. */
export function blobIdOf(data: Uint8Array): string {
  const id = createHash("sha256").update(data).digest("hex");
  hashed.set(data, id);
  return id;
}

/**
 * Ids computed by {@linkcode blobIdOf}, by buffer, so that hashing a blob
 * once serves both the caller and the storage's check in `put` (hashing is
 * a third of the cost of storing a large blob). A buffer must not be
 * modified after it was hashed.
 */
const hashed = new WeakMap<Uint8Array, string>();

/**
 * Throws {@linkcode BlobCorruptError} unless `data` hashes to `id`.
 *
 * `id` must be a well-formed blob id (see {@linkcode assertBlobId}).
 */
export function verifyBlob(id: string, data: Uint8Array): void {
  const actual = hashed.get(data) ?? blobIdOf(data);
  if (actual !== id) {
    throw new BlobCorruptError(
      id,
      `content (${data.length} bytes) hashes to "${actual.slice(0, 12)}…"`,
    );
  }
}

const HEX_PAIRS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** The value of lowercase hex digit `code` (a char code), or -1. */
export function hexDigitValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  return -1;
}

/** Values of lowercase hex digits by char code (below 128); -1 for other chars. */
const HEX_VALUES = Int8Array.from(
  { length: 128 },
  (_, code) => hexDigitValue(code),
);

/**
 * The bytes of lowercase hex text (a blob id's 64 digits give its 32 bytes);
 * throws a `RangeError` for anything else than pairs of lowercase hex digits.
 */
export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  hexInto(hex, out, 0);
  return out;
}

/**
 * Writes the bytes of lowercase hex text into `out` at `offset`; throws a
 * `RangeError` for an odd length or a char that is not a lowercase hex digit
 * (`out` is then partly written).
 */
export function hexInto(hex: string, out: Uint8Array, offset: number): void {
  if (hex.length % 2 !== 0) {
    throw new RangeError(`Cannot decode "${hex.slice(0, 80)}" as hex: odd length`);
  }
  const n = hex.length >> 1;
  for (let i = 0; i < n; i++) {
    // The table covers char codes below 128; any other char is no hex digit.
    const a = hex.charCodeAt(2 * i);
    const b = hex.charCodeAt(2 * i + 1);
    const hi = a < 128 ? HEX_VALUES[a] : -1;
    const lo = b < 128 ? HEX_VALUES[b] : -1;
    if ((hi | lo) < 0) {
      throw new RangeError(`Cannot decode "${hex.slice(0, 80)}" as hex: not a lowercase hex digit`);
    }
    out[offset + i] = (hi << 4) | lo;
  }
}

/** Lowercase hex of `bytes` (32 bytes give a blob id). */
export function bytesToHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX_PAIRS[bytes[i]];
  return out;
}
