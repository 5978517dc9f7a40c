/**
 * Internal: the values of the blob index (`server/blob_index.ts`) as the
 * garbage collector reads and rewrites them: uint64 size | uint64 time added
 * (ms) [| 32-byte pack id | uint64 offset in the pack].
 *
 * @module
 */

/** Where a packed blob's pack id starts in its index value. */
export const PACK_ID_AT = 16;
/** Where a packed blob's offset in its pack starts in its index value. */
export const PACK_OFFSET_AT = 48;
/** The length of a packed blob's index value. */
export const PACKED_VALUE_BYTES = 56;

/** The uint64 BE at `offset` of `bytes`, as a number. */
export function uint64At(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(offset) * 0x1_0000_0000 + view.getUint32(offset + 4);
}

/**
 * Whether index value `value` places its blob in pack `pack` (32 bytes) —
 * at `offset` when given.
 */
export function namesPack(
  value: Uint8Array | undefined,
  pack: Uint8Array,
  offset?: number,
): boolean {
  if (value === undefined || value.length < PACKED_VALUE_BYTES) return false;
  for (let i = 0; i < 32; i++) if (value[PACK_ID_AT + i] !== pack[i]) return false;
  return offset === undefined || uint64At(value, PACK_OFFSET_AT) === offset;
}

/** A copy of packed index value `value` moved to `offset` of pack `pack` (size and time kept). */
export function relocated(value: Uint8Array, pack: Uint8Array, offset: number): Uint8Array {
  const out = value.slice(0, PACKED_VALUE_BYTES);
  out.set(pack, PACK_ID_AT);
  new DataView(out.buffer).setBigUint64(PACK_OFFSET_AT, BigInt(offset));
  return out;
}
