/**
 * Errors of the SFTP storage.
 *
 * Every error carries `permanent`: true when retrying cannot help (wrong
 * credentials, an untrusted host key, a permission problem, a closed
 * storage). {@linkcode RetryingStorage} never retries those.
 *
 * @module
 */

/** Options of the SFTP errors: the cause, and whether retrying cannot help. */
export interface SftpErrorOptions extends ErrorOptions {
  /** True when retrying cannot help. Defaults to false. */
  permanent?: boolean;
}

/** An SFTP storage cannot be opened or used. */
export class SftpStorageError extends Error {
  /** True when retrying cannot help. */
  readonly permanent: boolean;
  /** Builds the error with a full message such as `Cannot open storage "sftp://…": reason`. */
  constructor(message: string, options: SftpErrorOptions = {}) {
    super(message, options);
    this.name = "SftpStorageError";
    this.permanent = options.permanent ?? false;
  }
}

/** The server refused the login (wrong user, key or password). Never retried. */
export class SftpAuthError extends SftpStorageError {
  /** Builds the error with a full message. */
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, permanent: true });
    this.name = "SftpAuthError";
  }
}

/** The server's host key is not trusted: unknown, changed or revoked. Never retried. */
export class SftpHostKeyError extends SftpStorageError {
  /** Builds the error with a full message. */
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, permanent: true });
    this.name = "SftpHostKeyError";
  }
}

/**
 * The connection failed, dropped, or a request got no answer in time: the
 * call failed, and the next one reconnects. Transient.
 */
export class SftpConnectionError extends SftpStorageError {
  /** Builds the error with a full message. */
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, permanent: false });
    this.name = "SftpConnectionError";
  }
}
