/**
 * The pack format: many small blobs stored as one object of the storage, so
 * that a backup of 50,000 small files costs a few hundred storage writes
 * (and syncs, and S3 PUTs) instead of 50,000.
 *
 * A pack is the concatenation of its blobs followed by a trailer that lists
 * them, so that the index can be rebuilt from the storage alone:
 *
 * ```
 * blob 0 | blob 1 | … | blob n-1
 * n × (32-byte SHA-256 of the blob, uint32 BE length)   ← header entries
 * uint32 BE n
 * 8 bytes "ddbpack1"                                     ← magic
 * ```
 *
 * Blob i starts at the sum of the lengths before it. The pack is stored
 * under its own SHA-256 like any blob; each blob inside is verified against
 * its own hash when read.
 *
 * @module
 */

/** The magic at the end of every pack. */
export const PACK_MAGIC: Uint8Array = new TextEncoder().encode("ddbpack1");

const ENTRY_BYTES = 36;
const TAIL_BYTES = 4 + PACK_MAGIC.length;

/** One blob inside a pack. */
export interface PackEntry {
  /** The blob's SHA-256 (32 bytes). */
  hash: Uint8Array;
  /** Where its bytes start in the pack. */
  offset: number;
  /** Its length in bytes. */
  length: number;
}

/** The bytes are not a pack, or a damaged one. */
export class PackFormatError extends Error {
  /** Builds the error; `reason` says what is wrong. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`Cannot parse pack: ${reason}`, options);
    this.name = "PackFormatError";
  }
}

/**
 * Builds a pack of `blobs` (each with its 32-byte SHA-256); returns its bytes
 * and where each blob landed, in the order given.
 */
export function encodePack(
  blobs: readonly { hash: Uint8Array; data: Uint8Array }[],
): { bytes: Uint8Array; entries: PackEntry[] } {
  let dataBytes = 0;
  for (const blob of blobs) {
    if (blob.hash.length !== 32) throw new RangeError("Cannot pack a blob: hash is not 32 bytes");
    dataBytes += blob.data.length;
  }
  const bytes = new Uint8Array(dataBytes + blobs.length * ENTRY_BYTES + TAIL_BYTES);
  const view = new DataView(bytes.buffer);
  const entries: PackEntry[] = [];
  let offset = 0;
  let header = dataBytes;
  for (const { hash, data } of blobs) {
    bytes.set(data, offset);
    entries.push({ hash, offset, length: data.length });
    bytes.set(hash, header);
    view.setUint32(header + 32, data.length);
    header += ENTRY_BYTES;
    offset += data.length;
  }
  view.setUint32(header, blobs.length);
  bytes.set(PACK_MAGIC, header + 4);
  return { bytes, entries };
}

/**
 * The entries of a whole pack, checked for consistency (not against the
 * blobs' hashes: readers verify each blob they read).
 *
 * @throws {PackFormatError} when `bytes` is not a well-formed pack.
 */
export function decodePack(bytes: Uint8Array): PackEntry[] {
  if (bytes.length < TAIL_BYTES) throw new PackFormatError(`${bytes.length} bytes is too short`);
  const magicAt = bytes.length - PACK_MAGIC.length;
  for (let i = 0; i < PACK_MAGIC.length; i++) {
    if (bytes[magicAt + i] !== PACK_MAGIC[i]) throw new PackFormatError("no pack magic at the end");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(bytes.length - TAIL_BYTES);
  const headerAt = bytes.length - TAIL_BYTES - n * ENTRY_BYTES;
  if (headerAt < 0) throw new PackFormatError(`${n} entries do not fit in ${bytes.length} bytes`);
  const entries: PackEntry[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const at = headerAt + i * ENTRY_BYTES;
    const length = view.getUint32(at + 32);
    entries.push({ hash: bytes.slice(at, at + 32), offset, length });
    offset += length;
  }
  if (offset !== headerAt) {
    throw new PackFormatError(`entries cover ${offset} bytes, the data part has ${headerAt}`);
  }
  return entries;
}
