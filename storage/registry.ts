/**
 * Opening a storage from its URL.
 *
 * | URL                              | Backend                      |
 * | -------------------------------- | ---------------------------- |
 * | `file:///srv/ddb/blobs`          | {@linkcode LocalStorage}     |
 * | `/srv/ddb/blobs` (absolute path) | {@linkcode LocalStorage}     |
 * | `sftp://user@host/path`          | `SftpStorage` (retrying)     |
 * | `s3://bucket/prefix`             | `S3Storage` (retrying)       |
 *
 * @module
 */

import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlobStorage } from "./blob_storage.ts";
import { LocalStorage } from "./local/local_storage.ts";
import { RetryingStorage } from "./retrying_storage.ts";

/** The URL names no storage this build can open. */
export class UnsupportedStorageError extends Error {
  /** The URL, redacted by {@linkcode redactUrl}. */
  readonly url: string;
  /** Builds the error for `url` (redacted here); `reason` says what is wrong. */
  constructor(url: string, reason: string, options?: ErrorOptions) {
    const shown = redactUrl(url);
    super(`Cannot open storage "${shown}": ${reason}`, options);
    this.name = "UnsupportedStorageError";
    this.url = shown;
  }
}

/**
 * Opens the storage that `url` names: a `file:` URL or an absolute path is a
 * {@linkcode LocalStorage} (created when missing); `sftp:` and `s3:` URLs are
 * remote storages (docs/storage.md), wrapped in a {@linkcode RetryingStorage}.
 *
 * @throws {UnsupportedStorageError} for a relative path or an unknown scheme.
 * @throws {LocalStorageError} when the local directory cannot be used.
 * @throws the backend's own errors when a remote storage cannot be opened
 * (bad credentials, unknown host key, missing bucket…).
 */
export async function openStorage(url: string): Promise<BlobStorage> {
  if (!url.includes("://") && isAbsolute(url)) return await LocalStorage.open(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new UnsupportedStorageError(
      url,
      "not a URL or an absolute path",
      { cause: error },
    );
  }
  const scheme = parsed.protocol;
  if (scheme === "file:") {
    if (parsed.search || parsed.hash) {
      throw new UnsupportedStorageError(url, "a file: URL takes no query or fragment");
    }
    let path: string;
    try {
      path = fileURLToPath(parsed);
    } catch (error) {
      throw new UnsupportedStorageError(
        url,
        `not a local file URL (${error instanceof Error ? error.message : error})`,
        { cause: error },
      );
    }
    return await LocalStorage.open(path);
  }
  if (scheme === "sftp:") {
    // Loaded on demand: only SFTP storages need ssh2 (see storage/sftp/sftp_url.ts for the URL).
    const { SftpStorage } = await import("./sftp/sftp_storage.ts");
    return new RetryingStorage(await SftpStorage.open(url));
  }
  if (scheme === "s3:") {
    // Loaded on demand, like SFTP (see storage/s3/s3_url.ts for the URL).
    const { S3Storage } = await import("./s3/s3_storage.ts");
    return new RetryingStorage(await S3Storage.open(url));
  }
  throw new UnsupportedStorageError(
    url,
    `unknown scheme "${scheme}" (expected file:, sftp: or s3:, or an absolute path)`,
  );
}

/** Query parameter names (lowercase, without `-` and `_`) whose values are secret. */
function isSecretParam(name: string): boolean {
  const key = name.toLowerCase().replace(/[-_.]/g, "");
  return key.startsWith("sig") || key.includes("signature") || key.includes("secret") ||
    key.includes("password") || key.includes("passwd") || key.includes("token") ||
    key.includes("apikey") || key.includes("privatekey") || key.includes("credential");
}

const REDACTED = "***";

/**
 * `url` with its secrets replaced by `***`: the password of the userinfo and
 * the values of query parameters named like secrets (`secret`, `secret_key`,
 * `password`, `token`, `sig`, `signature`, `X-Amz-Signature`, `api_key`, …).
 * Anything that is not a URL (such as a plain path) is returned unchanged.
 * Used for `displayUrl`, logs and error messages.
 *
 * @example
 * ```ts
 * redactUrl("s3://AKID:hunter2@bucket/x?region=eu&secret_key=abc");
 * // "s3://AKID:***@bucket/x?region=eu&secret_key=***"
 * ```
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL (a path, or a malformed URL): still hide what looks like a
    // userinfo password or a secret query value.
    const query = url.indexOf("?");
    const head = (query === -1 ? url : url.slice(0, query))
      .replace(/^([^:/?#]+:\/\/[^/?#@:]*):[^/?#]*@/, `$1:${REDACTED}@`);
    return query === -1 ? head : `${head}?${redactQuery(url.slice(query + 1))}`;
  }
  if (parsed.password) parsed.password = REDACTED;
  if (parsed.search) parsed.search = redactQuery(parsed.search.slice(1));
  return parsed.href;
}

/** The raw query `query` (without `?`) with secret values replaced, other pairs kept verbatim. */
function redactQuery(query: string): string {
  return query.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    if (eq === -1) return pair;
    const rawName = pair.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replaceAll("+", " "));
    } catch {
      // Keep the raw name: a malformed escape is no reason to fail.
    }
    return isSecretParam(name) ? `${rawName}=${REDACTED}` : pair;
  }).join("&");
}
