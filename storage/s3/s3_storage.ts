/**
 * A blob storage in an S3 bucket (AWS S3 or a compatible server such as Ceph
 * radosgw), over HTTP with SigV4-signed `fetch` calls (npm `aws4fetch`).
 *
 * Layout under the URL's prefix `<p>` (`s3://bucket/<p>`):
 *
 * ```text
 * <p>/ddb-storage.json   marker: {"format":"ddb-s3-blobs","version":1}
 * <p>/ab/abcd…           blob "abcd…" (64 hex), under the first two hex digits of its id
 * ```
 *
 * The two-digit level spreads keys over 256 prefixes (S3 scales request
 * rates per prefix) and mirrors the local layout; there are no directories,
 * so it costs nothing.
 *
 * How the contract is met:
 * - Atomic: an S3 PUT creates the object whole or not at all. Every put
 *   sends `Content-MD5` and `x-amz-content-sha256` (the blob's SHA-256, its
 *   id), so the server rejects a body damaged or cut short on the way.
 * - Durable: S3 replies 200 to a PUT only once the object is stored.
 * - Idempotent: puts are conditional (`If-None-Match: *`); `412` means the
 *   object exists. Its size is then checked with a HEAD, and an object of
 *   another size (damaged behind our back) is replaced.
 * - Read-after-write: S3 (since 2020) and radosgw are strongly consistent
 *   for GET, HEAD and LIST.
 * - `get` checks the SHA-256 of what it received; `list` pages through
 *   `ListObjectsV2` (1000 keys a page) with continuation tokens.
 * - At most `max_in_flight` requests (default 8) run at once, each under a
 *   timeout (`timeout_ms`, default 60 s) that covers its body.
 *
 * Opening checks the bucket and the credentials with one request for the
 * marker. A missing bucket is an error unless the URL says
 * `create_bucket=true`. Like the local backend, a prefix that holds objects
 * but no marker is refused, so a mistyped URL never scatters blobs over
 * someone's data.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { AwsClient } from "aws4fetch";
import {
  assertRange,
  BlobCorruptError,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStorage,
  type GetOptions,
} from "../blob_storage.ts";
import { assertBlobId, isBlobId, verifyBlob } from "../blob_id.ts";
import { redactUrl } from "../registry.ts";
import { Semaphore } from "../_semaphore.ts";
import { type CredentialSources, resolveS3Credentials } from "./s3_credentials.ts";
import { S3BucketNotFoundError, S3CredentialsError, S3StorageError } from "./s3_errors.ts";
import { parseS3Url, type S3Location, s3RequestUrl } from "./s3_url.ts";
import { parseListObjectsV2, parseS3Error } from "./s3_xml.ts";

/** Name of the marker object under the prefix. */
export const S3_MARKER_KEY = "ddb-storage.json";
/** Default number of keys asked for per `ListObjectsV2` page (the S3 maximum). */
export const DEFAULT_LIST_PAGE_SIZE = 1000;

const MARKER_FORMAT = "ddb-s3-blobs";
const MARKER_VERSION = 1;
/** How many times a put goes round when the object changes under it (409, deleted after 412). */
const PUT_ROUNDS = 4;
/** S3 error codes that mean the credentials are wrong or expired. */
const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidToken",
  "ExpiredToken",
  "TokenRefreshRequired",
  "InvalidSecurity",
]);

/** Options of {@linkcode S3Storage.open}. */
export interface S3StorageOptions {
  /** Reads an environment variable (credentials, region). Default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Keys asked for per `ListObjectsV2` page, 1 to 1000. Default {@linkcode DEFAULT_LIST_PAGE_SIZE}. */
  listPageSize?: number;
}

/** A reply read to its end. */
interface Reply {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** What a request is, for building it and for messages. */
interface RequestSpec {
  /** Names the operation in messages: `put blob "ab…"`. */
  what: string;
  method: "GET" | "HEAD" | "PUT" | "DELETE";
  /** The object key; `""` for the bucket. */
  key: string;
  query?: URLSearchParams;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
}

/**
 * A {@linkcode BlobStorage} in an S3 bucket; see the module documentation
 * for the layout and how the contract is met, and `storage/s3/s3_url.ts`
 * for the URL.
 *
 * @example
 * ```ts
 * // Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials.
 * const storage = await S3Storage.open("s3://backups/ddb?region=eu-west-1");
 * const data = new TextEncoder().encode("hello");
 * await storage.put(blobIdOf(data), data);
 * await storage.close();
 * ```
 */
export class S3Storage implements BlobStorage {
  /** The storage URL with its secrets redacted. */
  readonly displayUrl: string;
  /** The parsed URL, without any keys it held. */
  readonly location: Readonly<Omit<S3Location, "keys">>;
  readonly #client: AwsClient;
  /** Where the keys came from, for messages about refused credentials. */
  readonly #credentialsSource: string;
  readonly #semaphore: Semaphore;
  readonly #listPageSize: number;
  /** Prefix of every key: `""` or `<prefix>/`. */
  readonly #base: string;
  readonly #puts = new Map<string, Promise<void>>();
  #closed = false;

  private constructor(
    displayUrl: string,
    location: S3Location,
    client: AwsClient,
    credentialsSource: string,
    listPageSize: number,
  ) {
    const { keys: _keys, ...withoutKeys } = location;
    this.displayUrl = displayUrl;
    this.location = withoutKeys;
    this.#client = client;
    this.#credentialsSource = credentialsSource;
    this.#semaphore = new Semaphore(location.maxInFlight);
    this.#listPageSize = listPageSize;
    this.#base = location.prefix === "" ? "" : `${location.prefix}/`;
  }

  /**
   * Opens the storage that `url` names (see `storage/s3/s3_url.ts`): finds
   * the credentials, reads the marker (which checks the bucket and the
   * credentials), and on first use writes the marker, creating the bucket
   * when the URL says `create_bucket=true`.
   *
   * @throws {S3CredentialsError} when no credentials are found or the server refuses them.
   * @throws {S3BucketNotFoundError} when the bucket does not exist (and is not to be created).
   * @throws {S3StorageError} for a bad URL, a prefix holding other data, an
   * unreachable server or any other failure.
   */
  static async open(url: string, options: S3StorageOptions = {}): Promise<S3Storage> {
    const env = options.env ?? ((name: string) => Deno.env.get(name));
    const displayUrl = redactUrl(url);
    const location = parseS3Url(url, env);
    const listPageSize = options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
    if (!Number.isInteger(listPageSize) || listPageSize < 1 || listPageSize > 1000) {
      throw new RangeError(`Cannot list ${listPageSize} keys per page: expected 1 to 1000`);
    }
    const sources: CredentialSources = {
      env,
      async readTextFile(path) {
        try {
          return await Deno.readTextFile(path);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) return undefined;
          throw new S3CredentialsError(
            `Cannot open storage "${displayUrl}": cannot read ${path}: ${messageOf(error)}`,
            { cause: error },
          );
        }
      },
    };
    const credentials = await resolveS3Credentials(
      location.keys,
      location.profile,
      sources,
      `open storage "${displayUrl}"`,
    );
    const client = new AwsClient({
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      service: "s3",
      region: location.region,
      retries: 0,
    });
    const storage = new S3Storage(displayUrl, location, client, credentials.source, listPageSize);
    await storage.#openMarker();
    return storage;
  }

  /** Reads the marker, or writes it into an empty prefix (creating the bucket if asked to). */
  async #openMarker(): Promise<void> {
    const what = `open storage "${this.displayUrl}"`;
    const key = `${this.#base}${S3_MARKER_KEY}`;
    const fail = (reason: string) =>
      new S3StorageError(`Cannot ${what}: ${reason}`, { permanent: true });
    for (let round = 1;; round++) {
      const reply = await this.#send({ what, method: "GET", key });
      if (reply.status === 200) return this.#checkMarker(reply.body, fail);
      if (reply.status !== 404) throw this.#error(what, reply);
      const { code } = parseS3Error(decode(reply.body));
      if (code === "NoSuchBucket") {
        if (!this.location.createBucket) throw this.#error(what, reply);
        await this.#createBucket(what);
      } else if (code !== undefined && code !== "NoSuchKey") {
        throw this.#error(what, reply);
      }
      const listing = await this.#listPage(what, undefined, 1);
      if (listing.objects.length > 0) {
        throw fail(
          `"${this.location.bucket}/${this.#base}" holds objects but no ${S3_MARKER_KEY}: ` +
            "refusing to store blobs where other data lives",
        );
      }
      const marker = new TextEncoder().encode(
        JSON.stringify({ format: MARKER_FORMAT, version: MARKER_VERSION }) + "\n",
      );
      const put = await this.#send({
        what,
        method: "PUT",
        key,
        headers: { ...integrityHeaders(marker), "if-none-match": "*" },
        body: marker,
      });
      // 412: another process wrote it meanwhile; read it again.
      if (put.status === 200) return;
      if (put.status !== 412 || round >= 3) throw this.#error(what, put);
    }
  }

  #checkMarker(body: Uint8Array, fail: (reason: string) => S3StorageError): void {
    let marker: unknown;
    try {
      marker = JSON.parse(decode(body));
    } catch {
      throw fail(`cannot parse ${this.#base}${S3_MARKER_KEY}`);
    }
    const { format, version } = (marker ?? {}) as { format?: unknown; version?: unknown };
    if (format !== MARKER_FORMAT) {
      throw fail(
        `${this.#base}${S3_MARKER_KEY} has format ${
          JSON.stringify(format)
        }, not "${MARKER_FORMAT}"`,
      );
    }
    if (version !== MARKER_VERSION) {
      throw fail(
        `${this.#base}${S3_MARKER_KEY} has version ${JSON.stringify(version)}; this ddb reads ` +
          `version ${MARKER_VERSION}`,
      );
    }
  }

  async #createBucket(what: string): Promise<void> {
    const region = this.location.region;
    // us-east-1 is the default location and must not be named.
    const body = region === "us-east-1" ? undefined : new TextEncoder().encode(
      `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`,
    );
    const reply = await this.#send({ what, method: "PUT", key: "", body });
    if (reply.status === 200) return;
    // Created meanwhile by someone else (AWS: 409 BucketAlreadyOwnedByYou).
    if (parseS3Error(decode(reply.body)).code === "BucketAlreadyOwnedByYou") return;
    throw this.#error(`${what}: cannot create bucket "${this.location.bucket}"`, reply);
  }

  /**
   * Stores `data` as blob `id` with a conditional PUT; resolves once S3
   * has stored it. Puts of an id already in flight share that put.
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {BlobCorruptError} when `data` does not hash to `id`.
   * @throws {S3StorageError} when S3 fails.
   */
  async put(id: string, data: Uint8Array): Promise<void> {
    this.#assertOpen();
    assertBlobId(id);
    verifyBlob(id, data);
    for (let inFlight = this.#puts.get(id); inFlight; inFlight = this.#puts.get(id)) {
      try {
        return await inFlight;
      } catch {
        // It failed: try again ourselves.
      }
    }
    const put: Promise<void> = this.#put(id, data).finally(() => {
      if (this.#puts.get(id) === put) this.#puts.delete(id);
    });
    this.#puts.set(id, put);
    return await put;
  }

  async #put(id: string, data: Uint8Array): Promise<void> {
    const what = `put blob "${id}"`;
    const key = this.#key(id);
    const body = ownBuffer(data);
    const headers = { ...integrityHeaders(data, id), "content-type": "application/octet-stream" };
    let last: Reply | undefined;
    for (let round = 0; round < PUT_ROUNDS; round++) {
      const reply = await this.#send({
        what,
        method: "PUT",
        key,
        headers: { ...headers, "if-none-match": "*" },
        body,
      });
      if (reply.status === 200) return;
      last = reply;
      if (reply.status === 409) continue; // AWS: a concurrent conditional write of this key.
      if (reply.status !== 412) throw this.#error(what, reply);
      // The object exists: keep it if it has the right size, else replace the damaged copy.
      const head = await this.#send({ what, method: "HEAD", key });
      if (head.status === 404) continue; // Deleted meanwhile: put again.
      if (head.status !== 200) throw this.#error(what, head);
      if (Number(head.headers.get("content-length")) === data.length) return;
      const replace = await this.#send({ what, method: "PUT", key, headers, body });
      if (replace.status === 200) return;
      throw this.#error(what, replace);
    }
    throw this.#error(`${what} (the object kept changing under ${PUT_ROUNDS} attempts)`, last!);
  }

  /**
   * The bytes of blob `id`, verified against the id unless `options.verify`
   * is false.
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {BlobNotFoundError} when the blob does not exist.
   * @throws {BlobCorruptError} when the bytes do not hash to `id`.
   * @throws {S3StorageError} when S3 fails.
   */
  async get(id: string, options?: GetOptions): Promise<Uint8Array> {
    this.#assertOpen();
    assertBlobId(id);
    const what = `get blob "${id}"`;
    const reply = await this.#send({ what, method: "GET", key: this.#key(id) });
    if (reply.status !== 200) throw this.#notFoundOr(id, what, reply);
    if (options?.verify !== false) verifyBlob(id, reply.body);
    return reply.body;
  }

  /**
   * `length` bytes of blob `id` from `offset`, not verified (an HTTP range
   * request).
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {RangeError} when `offset` or `length` is negative or not an integer.
   * @throws {BlobNotFoundError} when the blob does not exist.
   * @throws {BlobCorruptError} when the blob is shorter than `offset + length`.
   * @throws {S3StorageError} when S3 fails.
   */
  async getRange(id: string, offset: number, length: number): Promise<Uint8Array> {
    this.#assertOpen();
    assertBlobId(id);
    assertRange(offset, length);
    const what = `get range ${offset}+${length} of blob "${id}"`;
    const key = this.#key(id);
    const short = (size: number) =>
      new BlobCorruptError(id, `${size} bytes long, range ${offset}+${length} asked`);
    if (length === 0) {
      const head = await this.#send({ what, method: "HEAD", key });
      if (head.status !== 200) throw this.#notFoundOr(id, what, head);
      const size = Number(head.headers.get("content-length"));
      if (size < offset) throw short(size);
      return new Uint8Array(0);
    }
    const reply = await this.#send({
      what,
      method: "GET",
      key,
      headers: { range: `bytes=${offset}-${offset + length - 1}` },
    });
    if (reply.status === 416) {
      const total = /\/(\d+)$/.exec(reply.headers.get("content-range") ?? "")?.[1];
      throw new BlobCorruptError(
        id,
        `${total ?? "fewer than " + (offset + 1)} bytes long, range ${offset}+${length} asked`,
      );
    }
    if (reply.status === 200) {
      // The server ignored the range and sent the whole blob.
      if (reply.body.length < offset + length) throw short(reply.body.length);
      return reply.body.slice(offset, offset + length);
    }
    if (reply.status !== 206) throw this.#notFoundOr(id, what, reply);
    if (reply.body.length < length) throw short(offset + reply.body.length);
    return reply.body.length === length ? reply.body : reply.body.slice(0, length);
  }

  /**
   * Whether blob `id` exists (a HEAD request; the bytes are not checked).
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {S3StorageError} when S3 fails.
   */
  async has(id: string): Promise<boolean> {
    this.#assertOpen();
    assertBlobId(id);
    const what = `check blob "${id}"`;
    const reply = await this.#send({ what, method: "HEAD", key: this.#key(id) });
    if (reply.status === 200) return true;
    if (reply.status === 404) return false;
    throw this.#error(what, reply);
  }

  /**
   * Deletes blob `id`; a missing blob is not an error.
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {S3StorageError} when S3 fails.
   */
  async delete(id: string): Promise<void> {
    this.#assertOpen();
    assertBlobId(id);
    const what = `delete blob "${id}"`;
    const reply = await this.#send({ what, method: "DELETE", key: this.#key(id) });
    if (reply.status === 204 || reply.status === 200) return;
    if (reply.status === 404 && parseS3Error(decode(reply.body)).code !== "NoSuchBucket") return;
    throw this.#error(what, reply);
  }

  /**
   * Every stored blob with its size, one `ListObjectsV2` page at a time.
   * Keys that are not `<prefix>/<id[0:2]>/<id>` (the marker, foreign
   * objects) are skipped.
   *
   * @throws {S3StorageError} when S3 fails.
   */
  async *list(): AsyncGenerator<BlobInfo> {
    this.#assertOpen();
    let token: string | undefined;
    do {
      const page = await this.#listPage("list blobs", token, this.#listPageSize);
      for (const { key, size } of page.objects) {
        const rest = key.slice(this.#base.length);
        const id = rest.slice(3);
        if (
          key.startsWith(this.#base) && rest.length === 67 && rest[2] === "/" && isBlobId(id) &&
          rest.startsWith(id.slice(0, 2))
        ) {
          yield { id, size };
        }
      }
      token = page.nextContinuationToken;
    } while (token !== undefined);
  }

  async #listPage(what: string, token: string | undefined, maxKeys: number) {
    const query = new URLSearchParams({
      "list-type": "2",
      prefix: this.#base,
      "max-keys": String(maxKeys),
      "encoding-type": "url",
    });
    if (token !== undefined) query.set("continuation-token", token);
    const reply = await this.#send({ what, method: "GET", key: "", query });
    if (reply.status !== 200) throw this.#error(what, reply);
    try {
      return parseListObjectsV2(decode(reply.body));
    } catch (error) {
      throw new S3StorageError(
        `Cannot ${what} in storage "${this.displayUrl}": ${messageOf(error)}`,
        { status: reply.status, cause: error },
      );
    }
  }

  /** Waits for the puts in flight, then refuses further calls. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#puts.values());
  }

  #key(id: string): string {
    return `${this.#base}${id.slice(0, 2)}/${id}`;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new S3StorageError(`Cannot use storage "${this.displayUrl}": it is closed`, {
        permanent: true,
      });
    }
  }

  /**
   * Sends one signed request, within the in-flight limit and the timeout,
   * and reads its reply to the end. Transport failures and timeouts become
   * (transient) {@linkcode S3StorageError}s; any HTTP status is returned.
   */
  #send(spec: RequestSpec): Promise<Reply> {
    return this.#semaphore.run(async () => {
      const url = s3RequestUrl(this.location, spec.key, spec.query);
      const request = await this.#client.sign(url, {
        method: spec.method,
        headers: spec.headers,
        body: spec.body,
      });
      const controller = new AbortController();
      const timeoutMs = this.location.timeoutMs;
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        // Redirects are errors: a signed request must not go to another host.
        const response = await fetch(request, { signal: controller.signal, redirect: "manual" });
        const body = new Uint8Array(await response.arrayBuffer());
        return { status: response.status, headers: response.headers, body };
      } catch (error) {
        const reason = controller.signal.aborted
          ? `no complete reply within ${timeoutMs} ms`
          : `request failed: ${messageOf(error)}`;
        throw new S3StorageError(
          `Cannot ${spec.what} in storage "${this.displayUrl}": ${reason}`,
          { cause: error },
        );
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** A {@linkcode BlobNotFoundError} for a `NoSuchKey` 404, else the error of `reply`. */
  #notFoundOr(id: string, what: string, reply: Reply): Error {
    if (reply.status === 404) {
      const { code } = parseS3Error(decode(reply.body));
      // A HEAD reply has no body: a 404 without a code is taken as a missing key.
      if (code === undefined || code === "NoSuchKey") return new BlobNotFoundError(id);
    }
    return this.#error(what, reply);
  }

  /** The error for an unexpected reply: credentials, missing bucket, or other. */
  #error(what: string, reply: Reply): S3StorageError {
    const { code, message } = parseS3Error(decode(reply.body));
    const status = reply.status;
    const detail = `HTTP ${status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
    const prefix = `Cannot ${what} in storage "${this.displayUrl}"`;
    if (code !== undefined && CREDENTIAL_CODES.has(code)) {
      const hint = code === "InvalidAccessKeyId"
        ? "the server does not know the access key"
        : code === "SignatureDoesNotMatch"
        ? "the secret key is wrong"
        : "the credentials were refused";
      return new S3CredentialsError(
        `${prefix}: ${hint} (${detail}) (credentials from ${this.#credentialsSource})`,
        { status, code },
      );
    }
    if (code === "NoSuchBucket") {
      return new S3BucketNotFoundError(
        `${prefix}: bucket "${this.location.bucket}" does not exist (${detail}); create it, ` +
          "or add create_bucket=true to the URL",
        this.location.bucket,
        { status, code },
      );
    }
    if (status === 403) {
      return new S3StorageError(`${prefix}: access denied (${detail})`, {
        status,
        code,
        permanent: true,
      });
    }
    // A body damaged in transit (BadDigest, XAmzContentSHA256Mismatch) may pass on retry.
    const transient = status >= 500 || status === 408 || status === 429 || status === 409 ||
      code === "BadDigest" || code === "XAmzContentSHA256Mismatch" || code === "RequestTimeout";
    return new S3StorageError(`${prefix}: ${detail}`, { status, code, permanent: !transient });
  }
}

/** `Content-MD5` and `x-amz-content-sha256` of `data` (its SHA-256 `sha256` when known). */
function integrityHeaders(data: Uint8Array, sha256?: string): Record<string, string> {
  return {
    "content-md5": createHash("md5").update(data).digest("base64"),
    "x-amz-content-sha256": sha256 ?? createHash("sha256").update(data).digest("hex"),
  };
}

/** `data` itself when it views an `ArrayBuffer` (what fetch takes), else a copy. */
function ownBuffer(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return data.buffer instanceof ArrayBuffer ? data as Uint8Array<ArrayBuffer> : data.slice();
}

function decode(body: Uint8Array): string {
  return new TextDecoder().decode(body);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
