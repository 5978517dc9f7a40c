/**
 * The manifest of a metadata backup: a small object of the blob storage that
 * lists the pieces of one dump (see `docs/dump-format.md`). Objects are
 * named by their SHA-256, so nothing has a well-known name: recovery finds
 * manifests by listing the storage, keeping the objects whose size has the
 * shape of a manifest ({@linkcode mayBeManifest}: cheap, from the listing
 * alone) and reading only those.
 *
 * ```text
 * "ddb-meta" | uint32 BE JSON length | JSON (UTF-8) | zero padding | SHA-256 of all before it
 * ```
 *
 * The padding makes the size ≡ {@linkcode MANIFEST_SIZE_RESIDUE} (mod 4096),
 * and manifests are smaller than {@linkcode MAX_MANIFEST_BYTES} (512 KiB, the
 * size below which the server packs client blobs, so a client blob is never
 * an object of manifest size on its own). A pack is never taken for a
 * manifest: it ends with `ddbpack1`, not with a checksum of what precedes.
 * Pure: no I/O.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { isBlobId } from "../../storage/blob_id.ts";

/** The first 8 bytes of a manifest: `ddb-meta` in ASCII. */
export const MANIFEST_MAGIC: Uint8Array = new TextEncoder().encode("ddb-meta");
/** The version of the manifest this code writes and reads. */
export const MANIFEST_VERSION = 1;
/** Every manifest's size modulo 4096 (`0xddb`). */
export const MANIFEST_SIZE_RESIDUE = 0xddb;
/** Manifests are smaller than this: 512 KiB. */
export const MAX_MANIFEST_BYTES = 512 * 1024;

const SIZE_MODULUS = 4096;
const FIXED_BYTES = MANIFEST_MAGIC.length + 4 + 32;
const encoder = new TextEncoder();
const fatalDecoder = new TextDecoder("utf-8", { fatal: true });

/** One piece of a dump: a blob of the storage. */
export interface DumpPiece {
  /** Its blob id (lowercase hex SHA-256). */
  id: string;
  /** Its size in bytes. */
  size: number;
}

/** What a manifest says of its dump. */
export interface Manifest {
  /** The database the dump was taken from. */
  database: string;
  /** When the dump was taken (ms since the epoch), as in its header. */
  createdAt: number;
  /** The dump format version. */
  dumpFormatVersion: number;
  /** The kv format version of its records. */
  kvFormatVersion: number;
  /** Number of records. */
  records: number;
  /** Size of the whole dump: the sum of the pieces' sizes. */
  bytes: number;
  /** The dump trailer's checksum (lowercase hex). */
  checksum: string;
  /** The pieces, in order: their concatenation is the dump. */
  pieces: DumpPiece[];
}

/** The bytes are not a manifest (or a damaged one). */
export class ManifestFormatError extends Error {
  /** Builds the error; `reason` says what is wrong. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`Cannot read manifest: ${reason}`, options);
    this.name = "ManifestFormatError";
  }
}

/** Whether an object of `size` bytes may be a manifest (the listing's cheap filter). */
export function mayBeManifest(size: number): boolean {
  return size < MAX_MANIFEST_BYTES && size % SIZE_MODULUS === MANIFEST_SIZE_RESIDUE;
}

/**
 * Encodes `manifest`. Throws a `RangeError` when it would not fit in
 * {@linkcode MAX_MANIFEST_BYTES} (a dump of more than about 6,000 pieces, 48 GiB).
 */
export function encodeManifest(manifest: Manifest): Uint8Array {
  const json = encoder.encode(JSON.stringify({ version: MANIFEST_VERSION, ...manifest }));
  const unpadded = FIXED_BYTES + json.length;
  const padding = (MANIFEST_SIZE_RESIDUE - (unpadded % SIZE_MODULUS) + SIZE_MODULUS) %
    SIZE_MODULUS;
  const size = unpadded + padding;
  if (size >= MAX_MANIFEST_BYTES) {
    throw new RangeError(
      `Cannot encode manifest of ${manifest.pieces.length} pieces: ${size} bytes, ` +
        `more than ${MAX_MANIFEST_BYTES}`,
    );
  }
  const out = new Uint8Array(size);
  out.set(MANIFEST_MAGIC);
  new DataView(out.buffer).setUint32(MANIFEST_MAGIC.length, json.length);
  out.set(json, MANIFEST_MAGIC.length + 4);
  const digest = createHash("sha256").update(out.subarray(0, size - 32)).digest();
  out.set(digest, size - 32);
  return out;
}

/** Parses and checks a manifest; throws {@linkcode ManifestFormatError}. */
export function parseManifest(bytes: Uint8Array): Manifest {
  if (!mayBeManifest(bytes.length)) throw new ManifestFormatError(`size ${bytes.length}`);
  for (let i = 0; i < MANIFEST_MAGIC.length; i++) {
    if (bytes[i] !== MANIFEST_MAGIC[i]) throw new ManifestFormatError("wrong magic");
  }
  const end = bytes.length - 32;
  const digest = createHash("sha256").update(bytes.subarray(0, end)).digest();
  for (let i = 0; i < 32; i++) {
    if (digest[i] !== bytes[end + i]) throw new ManifestFormatError("checksum mismatch");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonBytes = view.getUint32(MANIFEST_MAGIC.length);
  const start = MANIFEST_MAGIC.length + 4;
  if (start + jsonBytes > end) throw new ManifestFormatError("JSON longer than the manifest");
  let json: unknown;
  try {
    json = JSON.parse(fatalDecoder.decode(bytes.subarray(start, start + jsonBytes)));
  } catch (cause) {
    throw new ManifestFormatError("not JSON", { cause });
  }
  return checkManifest(json);
}

function checkManifest(json: unknown): Manifest {
  if (typeof json !== "object" || json === null) throw new ManifestFormatError("not an object");
  const m = json as Record<string, unknown>;
  if (m.version !== MANIFEST_VERSION) {
    throw new ManifestFormatError(`version ${String(m.version)} is not supported`);
  }
  const count = (name: string): number => {
    const value = m[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new ManifestFormatError(`"${name}" is not a count`);
    }
    return value;
  };
  if (typeof m.database !== "string") throw new ManifestFormatError(`"database" is missing`);
  if (typeof m.checksum !== "string" || !isBlobId(m.checksum)) {
    throw new ManifestFormatError(`"checksum" is not 64 lowercase hex`);
  }
  if (!Array.isArray(m.pieces)) throw new ManifestFormatError(`"pieces" is not a list`);
  const pieces: DumpPiece[] = m.pieces.map((p: unknown) => {
    const piece = p as Partial<DumpPiece> | null;
    if (
      typeof piece?.id !== "string" || !isBlobId(piece.id) || typeof piece.size !== "number" ||
      !Number.isSafeInteger(piece.size) || piece.size <= 0
    ) {
      throw new ManifestFormatError("a piece is not {id, size}");
    }
    return { id: piece.id, size: piece.size };
  });
  const bytes = count("bytes");
  if (pieces.reduce((n, p) => n + p.size, 0) !== bytes) {
    throw new ManifestFormatError("the pieces do not add up to the dump's size");
  }
  return {
    database: m.database,
    createdAt: count("createdAt"),
    dumpFormatVersion: count("dumpFormatVersion"),
    kvFormatVersion: count("kvFormatVersion"),
    records: count("records"),
    bytes,
    checksum: m.checksum,
    pieces,
  };
}
