/**
 * Blob storage: where the content of blobs lives (a local directory, SFTP, S3).
 *
 * A blob is an immutable byte string named by its id, the lowercase hex
 * SHA-256 of its bytes (64 characters). Metadata about blobs (which exist,
 * their sizes) is kept by the server in its kv store; a storage only stores
 * bytes.
 *
 * Contract every backend honours (checked by `storage/_testing/conformance.ts`):
 * - `put` is atomic: a reader sees either no blob or the whole blob, never a
 *   part, whatever happens to the process or the machine during the put.
 * - `put` is idempotent: putting an id that exists is a no-op success.
 * - `put` resolves only when the blob is durable (on stable storage). Backends
 *   batch the syncs of concurrent puts so that many small blobs stay fast.
 * - `put` refuses data whose SHA-256 is not `id` ({@linkcode BlobCorruptError}).
 * - Read-after-write: once `put` resolves, `get`, `has` and `list` see it.
 * - `get` of a missing blob rejects with {@linkcode BlobNotFoundError}.
 * - `get` verifies the bytes against the id: a damaged blob rejects with
 *   {@linkcode BlobCorruptError}; wrong bytes are never returned. Only a
 *   caller that verifies what it reads itself may opt out
 *   (`{ verify: false }`): it then gets the bytes as stored.
 * - `list` streams every blob (in no particular order) without holding the
 *   whole listing in memory.
 * - `delete` of a missing blob succeeds.
 * - Many calls may be in flight at once.
 * - An invalid id (not 64 lowercase hex characters) rejects with
 *   {@linkcode InvalidBlobIdError}.
 *
 * Retries, logging and read-only access are wrappers around a storage, not
 * options of each backend.
 *
 * @module
 */

/** One blob seen by {@linkcode BlobStorage.list}. */
export interface BlobInfo {
  /** The blob id (lowercase hex SHA-256). */
  id: string;
  /** Its size in bytes. */
  size: number;
}

/** Options of {@linkcode BlobStorage.get}. */
export interface GetOptions {
  /**
   * Whether to check the bytes against the id (default true). `false` skips
   * the hashing and returns the bytes as stored, damaged or not: only for a
   * caller that checks them itself (a pack's reader hashing the pack once, a
   * client hashing every blob it receives).
   */
  verify?: boolean;
}

/** A place that stores blobs by id. See the module documentation for the contract. */
export interface BlobStorage {
  /** The storage URL with any secret removed, for logs and INFO. */
  readonly displayUrl: string;
  /** Stores `data` under `id` atomically and durably. */
  put(id: string, data: Uint8Array): Promise<void>;
  /** The bytes of blob `id`, verified against the id unless `options.verify` is false. */
  get(id: string, options?: GetOptions): Promise<Uint8Array>;
  /**
   * `length` bytes of blob `id` starting at `offset`, NOT verified (a part
   * cannot be checked against the id: callers verify what they store inside
   * a blob, as packs do for their blobs). Rejects with
   * {@linkcode BlobNotFoundError} for a missing blob and with
   * {@linkcode BlobCorruptError} when the blob is shorter than
   * `offset + length`. Optional: callers fall back to `get`.
   */
  getRange?(id: string, offset: number, length: number): Promise<Uint8Array>;
  /** Whether blob `id` exists. */
  has(id: string): Promise<boolean>;
  /** Every stored blob, streamed. */
  list(): AsyncIterable<BlobInfo>;
  /** Deletes blob `id`; a missing blob is not an error. */
  delete(id: string): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}

/** The blob does not exist in the storage. */
export class BlobNotFoundError extends Error {
  /** The missing blob's id. */
  readonly id: string;
  /** Builds the error for blob `id`. */
  constructor(id: string, options?: ErrorOptions) {
    super(`Cannot find blob "${id}"`, options);
    this.name = "BlobNotFoundError";
    this.id = id;
  }
}

/** The stored bytes do not hash to the blob's id. */
export class BlobCorruptError extends Error {
  /** The damaged blob's id. */
  readonly id: string;
  /** Builds the error for blob `id`; `reason` says what was found. */
  constructor(id: string, reason: string, options?: ErrorOptions) {
    super(`Cannot read blob "${id}": ${reason}`, options);
    this.name = "BlobCorruptError";
    this.id = id;
  }
}

/** The id is not 64 lowercase hex characters. */
export class InvalidBlobIdError extends TypeError {
  /** Builds the error for the rejected `id`. */
  constructor(id: string) {
    super(`Cannot use blob id "${id.slice(0, 80)}": not 64 lowercase hex characters`);
    this.name = "InvalidBlobIdError";
  }
}

/**
 * Checks the arguments of {@linkcode BlobStorage.getRange}: `offset` and
 * `length` are non-negative safe integers.
 *
 * @throws {RangeError} otherwise.
 */
export function assertRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(
      `Cannot read range ${offset}+${length}: offset and length must be non-negative integers`,
    );
  }
}
