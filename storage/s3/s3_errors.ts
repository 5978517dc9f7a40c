/**
 * Errors of the S3 storage backend.
 *
 * Every error is an {@linkcode S3StorageError}; its `permanent` flag tells
 * retry wrappers (`storage/retrying_storage.ts`) whether trying again can
 * help. Messages name the storage by its redacted URL and never hold a
 * secret key, a session token or a signature.
 *
 * @module
 */

/** Options of the S3 errors: the HTTP status and S3 error code, if any. */
export interface S3ErrorOptions extends ErrorOptions {
  /** The HTTP status of the reply, when there was one. */
  status?: number;
  /** The S3 error code of the reply (`NoSuchBucket`, `SlowDown`, …), when there was one. */
  code?: string;
  /** Whether retrying cannot help. Defaults to false. */
  permanent?: boolean;
}

/** An S3 request failed, or the storage cannot be opened or used. */
export class S3StorageError extends Error {
  /** The HTTP status of the reply, when there was one. */
  readonly status?: number;
  /** The S3 error code of the reply, when there was one. */
  readonly code?: string;
  /**
   * Whether retrying cannot help (bad URL, bad credentials, missing bucket,
   * a 4xx reply). Timeouts, dropped connections and 5xx replies are not
   * permanent.
   */
  readonly permanent: boolean;

  /** Builds the error with a full message such as `Cannot open storage "s3://b/p": reason`. */
  constructor(message: string, options: S3ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "S3StorageError";
    this.status = options.status;
    this.code = options.code;
    this.permanent = options.permanent ?? false;
  }
}

/**
 * The server refused the credentials (`InvalidAccessKeyId`,
 * `SignatureDoesNotMatch`, an expired session token), or none were found.
 * Always permanent.
 */
export class S3CredentialsError extends S3StorageError {
  /** Builds the error; see {@linkcode S3StorageError}. */
  constructor(message: string, options: S3ErrorOptions = {}) {
    super(message, { ...options, permanent: true });
    this.name = "S3CredentialsError";
  }
}

/** The bucket does not exist (`NoSuchBucket`). Always permanent. */
export class S3BucketNotFoundError extends S3StorageError {
  /** The missing bucket. */
  readonly bucket: string;

  /** Builds the error for `bucket`; see {@linkcode S3StorageError}. */
  constructor(message: string, bucket: string, options: S3ErrorOptions = {}) {
    super(message, { ...options, permanent: true });
    this.name = "S3BucketNotFoundError";
    this.bucket = bucket;
  }
}
