/**
 * A blob storage in a directory on an SFTP server.
 *
 * The directory has the layout of a local storage (see
 * `storage/local/local_storage.ts`), so the same directory can be opened by
 * `LocalStorage` on the server itself, copied with rsync, and so on:
 *
 * ```text
 * <dir>/ddb-storage.json   marker: {"format":"ddb-local-blobs","version":1}
 * <dir>/tmp/               temp files of puts in progress
 * <dir>/ab/abcd…           blob "abcd…" (64 hex), in the shard of its first two hex digits
 * ```
 *
 * A put writes a temp file in `tmp/` (several write requests in flight),
 * flushes it with `fsync@openssh.com`, renames it to its final name with
 * `posix-rename@openssh.com` (atomic, replaces), then flushes the shard
 * directory (opened as a file and fsynced; one flush shared by the puts in
 * flight). A server without `fsync@openssh.com` gets no flushes: its puts
 * are atomic but durable only as far as its file system makes them.
 *
 * All calls share one SSH session and at most `concurrency` (default 8) of
 * them run at once. A dropped session fails the calls in flight with
 * `SftpConnectionError`; the next call reconnects. Retrying is the job of
 * `RetryingStorage` (`storage/retrying_storage.ts`), which `openStorage` wraps
 * around every SFTP storage.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import { homedir, userInfo } from "node:os";
import { posix } from "node:path";
import {
  assertRange,
  BlobCorruptError,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStorage,
  type GetOptions,
} from "../blob_storage.ts";
import { assertBlobId, isBlobId, verifyBlob } from "../blob_id.ts";
import { GroupSync } from "../local/group_sync.ts";
import { MARKER_FILE } from "../local/local_storage.ts";
import { Semaphore } from "../_semaphore.ts";
import { parseKey } from "./_ssh2.ts";
import {
  type SessionCredentials,
  SftpSession,
  STATUS_NO_SUCH_FILE,
  STATUS_PERMISSION_DENIED,
  statusCode,
} from "./_session.ts";
import { SftpStorageError } from "./sftp_errors.ts";
import { parseSftpUrl, type SftpTarget } from "./sftp_url.ts";

/**
 * Files in `tmp/` untouched for this long (1 hour) are removed at open. Longer
 * than a local storage's 10 minutes: the server's clock may differ from ours.
 */
export const SFTP_STALE_TEMP_AGE_MS = 60 * 60 * 1000;

const MARKER_FORMAT = "ddb-local-blobs";
const MARKER_VERSION = 1;
const TMP_DIR = "tmp";
const SHARD = /^[0-9a-f]{2}$/;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** Options of {@linkcode SftpStorage.open}. */
export interface SftpStorageOptions {
  /**
   * Create the directory when missing and initialize an empty directory as a
   * storage. When false, the directory must already be a storage. Default true.
   */
  create?: boolean;
  /** Environment variables to read `DDB_SFTP_PASSWORD` and `DDB_SFTP_KEY_PASSPHRASE` from (default: the process's). */
  env?: Record<string, string | undefined>;
  /** Local home directory for the default key and known_hosts (default: the user's). */
  home?: string;
}

/**
 * A {@linkcode BlobStorage} in a directory on an SFTP server; see the module
 * documentation for the layout and how puts are made atomic and durable.
 *
 * @example
 * ```ts
 * const storage = await SftpStorage.open(
 *   "sftp://backup@nas.lan/srv/ddb?key=/etc/ddb/id_ed25519&known_hosts=/etc/ddb/known_hosts",
 * );
 * const data = new TextEncoder().encode("hello");
 * await storage.put(blobIdOf(data), data);
 * await storage.close();
 * ```
 */
export class SftpStorage implements BlobStorage {
  /** The storage URL with secrets removed. */
  readonly displayUrl: string;
  /** Absolute path of the storage directory on the server. */
  readonly directory: string;
  readonly #target: SftpTarget;
  readonly #credentials: SessionCredentials;
  readonly #limit: Semaphore;
  readonly #rootSync: GroupSync;
  readonly #shards = new Map<string, Promise<GroupSync>>();
  readonly #puts = new Map<string, Promise<void>>();
  readonly #retired: Promise<void>[] = [];
  #session: SftpSession;
  #connecting: Promise<SftpSession> | undefined;
  #closed = false;

  private constructor(
    target: SftpTarget,
    credentials: SessionCredentials,
    session: SftpSession,
    directory: string,
  ) {
    this.#target = target;
    this.displayUrl = target.displayUrl;
    this.#credentials = credentials;
    this.#session = session;
    this.directory = directory;
    this.#limit = new Semaphore(target.concurrency);
    this.#rootSync = new GroupSync(() => this.#syncDir(directory));
  }

  /**
   * Connects to the server named by `url` (see `storage/sftp/sftp_url.ts`)
   * and opens the storage directory, creating and initializing it when
   * missing or empty (unless `create` is false). A non-empty directory
   * without the marker file is refused. Stale temp files are removed.
   *
   * @throws {SftpUrlError} when the URL is malformed.
   * @throws {SftpHostKeyError} when the host key is not trusted.
   * @throws {SftpAuthError} when the server refuses the login.
   * @throws {SftpConnectionError} when the server cannot be reached.
   * @throws {SftpStorageError} when the key cannot be read or the directory
   * cannot be used as a storage.
   */
  static async open(url: string, options: SftpStorageOptions = {}): Promise<SftpStorage> {
    const target = parseSftpUrl(url, {
      env: options.env ?? Deno.env.toObject(),
      home: options.home ?? homedir(),
      localUser: userInfo().username,
    });
    const fail = (reason: string, cause?: unknown) =>
      new SftpStorageError(`Cannot open storage "${target.displayUrl}": ${reason}`, {
        cause,
        permanent: true,
      });
    const credentials = await readCredentials(target, fail);
    const session = await SftpSession.connect(target, credentials);
    try {
      const directory = await prepareDirectory(session, target, options.create ?? true, fail);
      return new SftpStorage(target, credentials, session, directory);
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  /**
   * Stores `data` as blob `id`; resolves once it is durable. A blob file that
   * already exists with the right size is kept; one of another size is
   * replaced.
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {BlobCorruptError} when `data` does not hash to `id`.
   * @throws {SftpConnectionError} when the session dropped or timed out.
   * @throws {SftpStorageError} when the server refused a request.
   */
  async put(id: string, data: Uint8Array): Promise<void> {
    this.#assertOpen();
    assertBlobId(id);
    verifyBlob(id, data);
    // Wait for a put of the same blob in flight: its rename may not be durable yet.
    for (let inFlight = this.#puts.get(id); inFlight; inFlight = this.#puts.get(id)) {
      try {
        return await inFlight;
      } catch {
        // It failed: try again ourselves.
      }
    }
    const put: Promise<void> = this.#limit.run(() => this.#put(id, data)).finally(() => {
      if (this.#puts.get(id) === put) this.#puts.delete(id);
    });
    this.#puts.set(id, put);
    return await put;
  }

  async #put(id: string, data: Uint8Array): Promise<void> {
    const action = `Cannot put blob "${id}" in storage "${this.displayUrl}"`;
    try {
      const shardSync = await this.#shard(id.slice(0, 2));
      const path = this.#path(id);
      const session = await this.#connect();
      const existing = await statIfExists(session, path);
      if (existing && isFile(existing) && existing.size === data.length) {
        // Another process may have renamed it into place and not flushed yet.
        await shardSync.sync();
        return;
      }
      const tmp = posix.join(this.directory, TMP_DIR, `${id}.${randomUUID()}`);
      try {
        const handle = await session.open(tmp, "wx", 0o444);
        try {
          await session.writeAll(handle, data);
          await session.fsync(handle);
        } finally {
          await closeQuietly(session, handle);
        }
        await this.#rename(session, tmp, path, data.length);
      } catch (error) {
        if (session.alive) await session.unlink(tmp).catch(() => {});
        throw error;
      }
      await shardSync.sync();
    } catch (error) {
      throw wrap(error, action);
    }
  }

  /** Renames temp file `tmp` to blob file `path`, replacing any file there. */
  async #rename(session: SftpSession, tmp: string, path: string, size: number): Promise<void> {
    try {
      await session.rename(tmp, path);
      return;
    } catch (error) {
      if (session.posixRenameSupported || !session.alive) throw error;
    }
    // A plain rename fails when the target exists. Some other put may have
    // stored the blob meanwhile; a file of another size is damaged: replace
    // it (not atomically: without posix-rename there is no better way).
    const existing = await statIfExists(session, path);
    if (existing && isFile(existing) && existing.size === size) {
      await session.unlink(tmp).catch(() => {});
      return;
    }
    if (existing) await session.unlink(path);
    await session.rename(tmp, path);
  }

  /** The group flush of shard `prefix`, whose directory is created (durably) on first use. */
  #shard(prefix: string): Promise<GroupSync> {
    let shard = this.#shards.get(prefix);
    if (!shard) {
      const opening = this.#openShard(prefix);
      opening.catch(() => {
        if (this.#shards.get(prefix) === opening) this.#shards.delete(prefix);
      });
      this.#shards.set(prefix, opening);
      shard = opening;
    }
    return shard;
  }

  async #openShard(prefix: string): Promise<GroupSync> {
    const path = posix.join(this.directory, prefix);
    await makeDir(await this.#connect(), path);
    // Flush the root even when the shard existed: another process may have
    // just created it without flushing yet.
    await this.#rootSync.sync();
    return new GroupSync(() => this.#syncDir(path));
  }

  /** Flushes directory `path` so the entries renamed into it are durable. */
  async #syncDir(path: string): Promise<void> {
    const session = await this.#connect();
    if (!session.fsyncSupported) return;
    const handle = await session.open(path, "r");
    try {
      await session.fsync(handle);
    } finally {
      await closeQuietly(session, handle);
    }
  }

  /**
   * The bytes of blob `id`, verified against the id unless `options.verify`
   * is false.
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {BlobNotFoundError} when the blob does not exist.
   * @throws {BlobCorruptError} when the file's bytes do not hash to `id`.
   * @throws {SftpConnectionError} when the session dropped or timed out.
   */
  async get(id: string, options?: GetOptions): Promise<Uint8Array> {
    this.#assertOpen();
    assertBlobId(id);
    const data = await this.#read(id, "get", async (session, handle) => {
      const { size } = await session.fstat(handle);
      return await session.readRange(handle, 0, size);
    });
    if (options?.verify !== false) verifyBlob(id, data);
    return data;
  }

  /**
   * `length` bytes of blob `id` from `offset`, read without verifying the
   * whole blob (see `BlobStorage.getRange`).
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   * @throws {RangeError} when `offset` or `length` is negative or not an integer.
   * @throws {BlobNotFoundError} when the blob does not exist.
   * @throws {BlobCorruptError} when the blob is shorter than the range.
   * @throws {SftpConnectionError} when the session dropped or timed out.
   */
  async getRange(id: string, offset: number, length: number): Promise<Uint8Array> {
    this.#assertOpen();
    assertBlobId(id);
    assertRange(offset, length);
    const data = await this.#read(
      id,
      "get a range of",
      (session, handle) =>
        length === 0
          ? Promise.resolve(new Uint8Array(0))
          : session.readRange(handle, offset, length),
    );
    if (data.length < length) {
      throw new BlobCorruptError(
        id,
        `${offset + data.length} bytes long, range ${offset}+${length} asked`,
      );
    }
    return data;
  }

  /** Opens blob `id` and runs `read` on it; a missing blob is {@linkcode BlobNotFoundError}. */
  #read(
    id: string,
    verb: string,
    read: (session: SftpSession, handle: Buffer) => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const action = `Cannot ${verb} blob "${id}" from storage "${this.displayUrl}"`;
    return this.#limit.run(async () => {
      const session = await this.#connect().catch((error) => {
        throw wrap(error, action);
      });
      let handle: Buffer;
      try {
        handle = await session.open(this.#path(id), "r");
      } catch (error) {
        if (statusCode(error) === STATUS_NO_SUCH_FILE) {
          throw new BlobNotFoundError(id, { cause: error });
        }
        throw wrap(error, action);
      }
      try {
        return await read(session, handle);
      } catch (error) {
        throw wrap(error, action);
      } finally {
        await closeQuietly(session, handle);
      }
    });
  }

  /**
   * Whether blob `id` exists (without reading or verifying it).
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   */
  async has(id: string): Promise<boolean> {
    this.#assertOpen();
    assertBlobId(id);
    return await this.#limit.run(async () => {
      try {
        const attrs = await statIfExists(await this.#connect(), this.#path(id));
        return attrs !== undefined && isFile(attrs);
      } catch (error) {
        throw wrap(error, `Cannot look up blob "${id}" in storage "${this.displayUrl}"`);
      }
    });
  }

  /**
   * Deletes blob `id`; a missing blob is not an error. The removal is not
   * flushed: after a crash of the server a deleted blob may come back, whole.
   *
   * @throws {InvalidBlobIdError} when `id` is malformed.
   */
  async delete(id: string): Promise<void> {
    this.#assertOpen();
    assertBlobId(id);
    await this.#limit.run(async () => {
      try {
        await (await this.#connect()).unlink(this.#path(id));
      } catch (error) {
        if (statusCode(error) === STATUS_NO_SUCH_FILE) return;
        throw wrap(error, `Cannot delete blob "${id}" from storage "${this.displayUrl}"`);
      }
    });
  }

  /**
   * Every stored blob with its size, one shard directory at a time, reading
   * the next batch of names while the current one is consumed. Files in
   * `tmp/` and names that are not blob ids of their shard are skipped.
   */
  async *list(): AsyncGenerator<BlobInfo> {
    this.#assertOpen();
    const action = `Cannot list storage "${this.displayUrl}"`;
    const shards: string[] = [];
    try {
      for await (const entry of this.#readDir(this.directory)) {
        if (SHARD.test(entry.filename) && (entry.attrs.mode & S_IFMT) === S_IFDIR) {
          shards.push(entry.filename);
        }
      }
    } catch (error) {
      throw wrap(error, action);
    }
    shards.sort();
    for (const shard of shards) {
      try {
        for await (const { filename, attrs } of this.#readDir(posix.join(this.directory, shard))) {
          if (isFile(attrs) && isBlobId(filename) && filename.startsWith(shard)) {
            yield { id: filename, size: attrs.size };
          }
        }
      } catch (error) {
        throw wrap(error, action);
      }
    }
  }

  /** The entries of directory `path` (none if it is missing), one batch read ahead. */
  async *#readDir(
    path: string,
  ): AsyncGenerator<{ filename: string; attrs: { mode: number; size: number } }> {
    const session = await this.#connect();
    let handle: Buffer;
    try {
      handle = await this.#limit.run(() => session.opendir(path));
    } catch (error) {
      if (statusCode(error) === STATUS_NO_SUCH_FILE) return;
      throw error;
    }
    let next = this.#limit.run(() => session.readdir(handle));
    try {
      for (let batch = await next; batch !== undefined; batch = await next) {
        next = this.#limit.run(() => session.readdir(handle));
        yield* batch;
      }
    } finally {
      await next.catch(() => {});
      await closeQuietly(session, handle);
    }
  }

  /** Waits for the puts in flight, then closes the session and refuses further calls. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(this.#puts.values());
    await this.#connecting?.catch(() => {});
    await this.#session.close();
    await Promise.allSettled(this.#retired);
  }

  /** The live session, reconnecting when the last one died. */
  #connect(): Promise<SftpSession> {
    if (this.#session.alive) return Promise.resolve(this.#session);
    if (this.#closed) {
      return Promise.reject(
        new SftpStorageError(`Cannot use storage "${this.displayUrl}": it is closed`, {
          permanent: true,
        }),
      );
    }
    if (this.#connecting === undefined) {
      const dead = this.#session;
      this.#retired.push(dead.close());
      const connecting = SftpSession.connect(this.#target, this.#credentials).then((session) => {
        this.#session = session;
        return session;
      }).finally(() => {
        if (this.#connecting === connecting) this.#connecting = undefined;
      });
      this.#connecting = connecting;
    }
    return this.#connecting;
  }

  #path(id: string): string {
    return posix.join(this.directory, id.slice(0, 2), id);
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new SftpStorageError(`Cannot use storage "${this.displayUrl}": it is closed`, {
        permanent: true,
      });
    }
  }
}

/** The key and known_hosts the target names, read from local files. */
async function readCredentials(
  target: SftpTarget,
  fail: (reason: string, cause?: unknown) => SftpStorageError,
): Promise<SessionCredentials> {
  const credentials: SessionCredentials = {};
  for (const path of target.keyPaths) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && !target.keyExplicit) continue;
      throw fail(`cannot read the private key ${path}: ${messageOf(error)}`, error);
    }
    // ssh2 silently ignores a key that is not a Buffer.
    const key = Buffer.from(bytes);
    const parsed = parseKey(key, target.passphrase);
    if (parsed instanceof Error) {
      throw fail(
        `cannot use the private key ${path}: ${parsed.message}` +
          (/passphrase/i.test(parsed.message) ? " (set DDB_SFTP_KEY_PASSPHRASE)" : ""),
        parsed,
      );
    }
    credentials.privateKey = key;
    credentials.privateKeyPath = path;
    break;
  }
  if (credentials.privateKey === undefined && target.password === undefined) {
    throw fail(
      `no private key (looked for ${target.keyPaths.join(", ")}) and no password: ` +
        "name a key with key=/path/to/id_ed25519 or set DDB_SFTP_PASSWORD",
    );
  }
  if (target.knownHostsPath !== undefined) {
    try {
      credentials.knownHosts = await Deno.readTextFile(target.knownHostsPath);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || target.knownHostsExplicit) {
        throw fail(`cannot read known_hosts ${target.knownHostsPath}: ${messageOf(error)}`, error);
      }
      // No known_hosts file: every host is unknown, and the error says how to add it.
      credentials.knownHosts = "";
    }
  }
  return credentials;
}

/**
 * Resolves the storage directory, creates and initializes it as needed,
 * checks it is writable and removes stale temp files. Returns its absolute path.
 */
async function prepareDirectory(
  session: SftpSession,
  target: SftpTarget,
  create: boolean,
  fail: (reason: string, cause?: unknown) => SftpStorageError,
): Promise<string> {
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SftpStorageError) throw error;
      throw fail(`cannot ${what}: ${messageOf(error)}`, error);
    }
  };
  let root = posix.normalize(target.path).replace(/(.)\/+$/, "$1");
  if (target.homeRelative) {
    const home = await step("find the home directory", () => session.realpath("."));
    root = posix.join(home, root);
  }
  const info = await step(`stat ${root}`, () => statIfExists(session, root));
  if (info === undefined) {
    if (!create) throw fail("no such directory");
    await step(`create ${root}`, async () => {
      const created: string[] = [];
      for (
        let dir = root;
        dir !== "/" && !(await statIfExists(session, dir));
        dir = posix.dirname(dir)
      ) {
        created.push(dir);
      }
      for (const dir of created.reverse()) {
        await makeDir(session, dir);
        await syncDirWith(session, posix.dirname(dir));
      }
    });
  } else if ((info.mode & S_IFMT) !== S_IFDIR) {
    throw fail("not a directory");
  }

  const markerPath = posix.join(root, MARKER_FILE);
  if (!(await step(`read ${MARKER_FILE}`, () => readMarker(session, markerPath, fail)))) {
    const empty = await step(`list ${root}`, async () => {
      const handle = await session.opendir(root);
      try {
        const batch = await session.readdir(handle);
        return batch === undefined || batch.every((e) => e.filename === "." || e.filename === "..");
      } finally {
        await closeQuietly(session, handle);
      }
    });
    if (!empty) {
      throw fail(
        `not empty and has no ${MARKER_FILE}: refusing to store blobs in a directory ` +
          "that is not a ddb storage",
      );
    }
    if (!create) throw fail(`empty directory, not a ddb storage (no ${MARKER_FILE})`);
    const text = JSON.stringify({ format: MARKER_FORMAT, version: MARKER_VERSION }) + "\n";
    let handle: Buffer | undefined;
    try {
      handle = await session.open(markerPath, "wx", 0o644);
    } catch (error) {
      if (error instanceof SftpStorageError) throw error;
      // Another process initialized it at the same time: check what it wrote.
      if (!(await step(`read ${MARKER_FILE}`, () => readMarker(session, markerPath, fail)))) {
        throw fail(`cannot write ${MARKER_FILE}: ${messageOf(error)}`, error);
      }
    }
    if (handle !== undefined) {
      const written = handle;
      await step(`write ${MARKER_FILE}`, async () => {
        try {
          await session.writeAll(written, new TextEncoder().encode(text));
          await session.fsync(written);
        } finally {
          await closeQuietly(session, written);
        }
        await syncDirWith(session, root);
      });
    }
  }

  const tmp = posix.join(root, TMP_DIR);
  await step(`create ${tmp}`, () => makeDir(session, tmp));
  await step(`write in ${tmp} (not writable?)`, async () => {
    const probe = posix.join(tmp, `probe-${randomUUID()}`);
    await closeQuietly(session, await session.open(probe, "wx", 0o600));
    await session.unlink(probe);
  });
  await step(`clean ${tmp}`, () => removeStaleTemps(session, tmp));
  return root;
}

/** Whether the marker exists (false) and names this format and version (else throws). */
async function readMarker(
  session: SftpSession,
  path: string,
  fail: (reason: string, cause?: unknown) => SftpStorageError,
): Promise<boolean> {
  let handle: Buffer;
  try {
    handle = await session.open(path, "r");
  } catch (error) {
    if (statusCode(error) === STATUS_NO_SUCH_FILE) return false;
    throw error;
  }
  let bytes: Uint8Array;
  try {
    const { size } = await session.fstat(handle);
    if (size > 4096) throw fail(`${MARKER_FILE} is too large (${size} bytes)`);
    bytes = await session.readRange(handle, 0, size);
  } finally {
    await closeQuietly(session, handle);
  }
  let marker: unknown;
  try {
    marker = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw fail(`cannot parse ${MARKER_FILE}: ${messageOf(error)}`, error);
  }
  const { format, version } = (marker ?? {}) as { format?: unknown; version?: unknown };
  if (format !== MARKER_FORMAT) {
    throw fail(`${MARKER_FILE} has format ${JSON.stringify(format)}, not "${MARKER_FORMAT}"`);
  }
  if (version !== MARKER_VERSION) {
    throw fail(
      `${MARKER_FILE} has version ${JSON.stringify(version)}; this ddb reads version ` +
        `${MARKER_VERSION}`,
    );
  }
  return true;
}

/** Removes the files in `tmp` last modified more than {@linkcode SFTP_STALE_TEMP_AGE_MS} ago. */
async function removeStaleTemps(session: SftpSession, tmp: string): Promise<void> {
  const cutoff = (Date.now() - SFTP_STALE_TEMP_AGE_MS) / 1000;
  const stale: string[] = [];
  const handle = await session.opendir(tmp);
  try {
    for (let batch = await session.readdir(handle); batch; batch = await session.readdir(handle)) {
      for (const { filename, attrs } of batch) {
        if (isFile(attrs) && attrs.mtime < cutoff) stale.push(filename);
      }
    }
  } finally {
    await closeQuietly(session, handle);
  }
  for (const name of stale) {
    await session.unlink(posix.join(tmp, name)).catch((error) => {
      if (statusCode(error) !== STATUS_NO_SUCH_FILE) throw error;
    });
  }
}

/** Creates directory `path`; an existing directory is fine. */
async function makeDir(session: SftpSession, path: string): Promise<void> {
  try {
    await session.mkdir(path);
  } catch (error) {
    // SFTP v3 reports an existing directory as a generic failure: look.
    const existing = await statIfExists(session, path).catch(() => undefined);
    if (existing === undefined || (existing.mode & S_IFMT) !== S_IFDIR) throw error;
  }
}

/** Flushes directory `path` on `session` (a no-op without `fsync@openssh.com`). */
async function syncDirWith(session: SftpSession, path: string): Promise<void> {
  if (!session.fsyncSupported) return;
  const handle = await session.open(path, "r");
  try {
    await session.fsync(handle);
  } finally {
    await closeQuietly(session, handle);
  }
}

async function statIfExists(
  session: SftpSession,
  path: string,
): Promise<{ mode: number; size: number; mtime: number } | undefined> {
  try {
    return await session.stat(path);
  } catch (error) {
    if (statusCode(error) === STATUS_NO_SUCH_FILE) return undefined;
    throw error;
  }
}

/** Closes `handle` unless the session is gone; a failed close loses nothing. */
async function closeQuietly(session: SftpSession, handle: Buffer): Promise<void> {
  if (session.alive) await session.closeHandle(handle).catch(() => {});
}

function isFile(attrs: { mode: number }): boolean {
  return (attrs.mode & S_IFMT) === S_IFREG;
}

/**
 * `error` as an {@linkcode SftpStorageError} whose message starts with
 * `action`; errors of the storage contract and connection errors pass as they are.
 */
function wrap(error: unknown, action: string): Error {
  if (error instanceof SftpStorageError || error instanceof BlobNotFoundError) return error;
  if (!(error instanceof Error) || statusCode(error) === undefined) {
    return error instanceof Error ? error : new Error(String(error));
  }
  return new SftpStorageError(`${action}: ${error.message}`, {
    cause: error,
    permanent: statusCode(error) === STATUS_PERMISSION_DENIED,
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
