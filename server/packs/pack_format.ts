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
 * The trailer of a pack of `count` blobs whose hashes are `hashes` (32 bytes
 * each, in order) and lengths `lengths`: the bytes that follow the blobs'
 * bytes, for a writer that keeps its blobs in flat arrays rather than in
 * the objects {@linkcode encodePack} takes.
 */
export function encodePackTrailer(
  hashes: Uint8Array,
  lengths: ArrayLike<number>,
  count: number,
): Uint8Array {
  if (hashes.length < count * 32 || lengths.length < count) {
    throw new RangeError(`Cannot encode a pack trailer: fewer than ${count} hashes or lengths`);
  }
  const trailer = new Uint8Array(packTrailerBytes(count));
  const view = new DataView(trailer.buffer);
  for (let i = 0; i < count; i++) {
    trailer.set(hashes.subarray(i * 32, i * 32 + 32), i * ENTRY_BYTES);
    view.setUint32(i * ENTRY_BYTES + 32, lengths[i]);
  }
  view.setUint32(count * ENTRY_BYTES, count);
  trailer.set(PACK_MAGIC, count * ENTRY_BYTES + 4);
  return trailer;
}

/**
 * The entries of a whole pack, checked for consistency (not against the
 * blobs' hashes: readers verify each blob they read).
 *
 * @throws {PackFormatError} when `bytes` is not a well-formed pack.
 */
export function decodePack(bytes: Uint8Array): PackEntry[] {
  const n = packEntryCount(bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES)));
  const trailerBytes = packTrailerBytes(n);
  if (trailerBytes > bytes.length) {
    throw new PackFormatError(`${n} entries do not fit in ${bytes.length} bytes`);
  }
  return decodePackTrailer(bytes.subarray(bytes.length - trailerBytes), bytes.length);
}

/** Bytes of the pack's end that {@linkcode packEntryCount} reads: 12. */
export const PACK_TAIL_BYTES: number = TAIL_BYTES;

/**
 * The number of entries of a pack, from its last {@linkcode PACK_TAIL_BYTES}
 * bytes (the count and the magic), so that the trailer of a large or
 * damaged pack can be read on its own.
 *
 * @throws {PackFormatError} when `tail` does not end like a pack.
 */
export function packEntryCount(tail: Uint8Array): number {
  if (tail.length < TAIL_BYTES) throw new PackFormatError(`${tail.length} bytes is too short`);
  const magicAt = tail.length - PACK_MAGIC.length;
  for (let i = 0; i < PACK_MAGIC.length; i++) {
    if (tail[magicAt + i] !== PACK_MAGIC[i]) throw new PackFormatError("no pack magic at the end");
  }
  return new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getUint32(
    tail.length - TAIL_BYTES,
  );
}

/** Bytes of the trailer (entries, count, magic) of a pack of `entries` blobs. */
export function packTrailerBytes(entries: number): number {
  return entries * ENTRY_BYTES + TAIL_BYTES;
}

/**
 * The entries of a pack of `packBytes` bytes from its trailer alone (its
 * last {@linkcode packTrailerBytes} bytes), checked for consistency.
 *
 * @throws {PackFormatError} when the trailer is not well formed or does not fit the size.
 */
export function decodePackTrailer(trailer: Uint8Array, packBytes: number): PackEntry[] {
  const n = packEntryCount(trailer);
  if (trailer.length !== packTrailerBytes(n)) {
    throw new PackFormatError(`a trailer of ${n} entries is not ${trailer.length} bytes`);
  }
  const view = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  const dataBytes = packBytes - trailer.length;
  const entries: PackEntry[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const at = i * ENTRY_BYTES;
    const length = view.getUint32(at + 32);
    entries.push({ hash: trailer.slice(at, at + 32), offset, length });
    offset += length;
  }
  if (offset !== dataBytes) {
    throw new PackFormatError(`entries cover ${offset} bytes, the data part has ${dataBytes}`);
  }
  return entries;
}
