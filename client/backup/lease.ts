/**
 * The backup lease (server `LEASE`, docs/gc.md): a backup announces itself
 * before it reads anything it will reference (the file cache's content and
 * meta keys, the blobs the server says it has), so that no garbage
 * collection deletes them under it.
 *
 * - {@linkcode BackupLease.acquire} takes the lease; while a gc holds the
 *   database it says so once and retries every few seconds, up to a limit.
 * - A timer renews it (without keeping the process alive).
 * - {@linkcode BackupLease.confirm} renews it right before a snapshot is
 *   committed: it fails if the lease was lost (it expired and a gc took the
 *   database meanwhile), and then the snapshot must not be committed —
 *   it may reference deleted data.
 * - {@linkcode BackupLease.release} ends it (also after an error).
 *
 * @module
 */

import { ServerReplyError } from "../remote/resp_client.ts";
import type { RespValue } from "../remote/reply_decoder.ts";
import type { BackupRepository } from "./backup.ts";
import type { Snapshot } from "../snapshot/schema.ts";

/** The lease's time to live: 2 minutes. */
export const LEASE_TTL_MS = 120_000;
/** How often the lease is renewed: every 30 s. */
export const RENEW_EVERY_MS = 30_000;
/** How long a backup waits for a garbage collection to end: 30 minutes. */
export const MAX_WAIT_MS = 30 * 60_000;
/** How often a waiting backup asks again: every 3 s. */
export const RETRY_EVERY_MS = 3_000;

/** The connection the lease is taken on (a `RespClient` selecting the database). */
export interface LeaseConnection {
  /** Sends one command; rejects with `ServerReplyError` on an error reply. */
  call(...args: string[]): Promise<RespValue>;
}

/** Options of {@linkcode BackupLease.acquire}. */
export interface BackupLeaseOptions {
  /** Time to live (default {@linkcode LEASE_TTL_MS}). */
  ttlMs?: number;
  /** Renewal interval (default {@linkcode RENEW_EVERY_MS}). */
  renewEveryMs?: number;
  /** Longest wait for a gc (default {@linkcode MAX_WAIT_MS}). */
  maxWaitMs?: number;
  /** Retry interval while waiting (default {@linkcode RETRY_EVERY_MS}). */
  retryEveryMs?: number;
  /** Told once, with the server's explanation, when the backup starts waiting. */
  onWait?: (message: string) => void;
  /** Sleeps `ms` (default a timer). */
  sleep?: (ms: number) => Promise<void>;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

/** A garbage collection held the database for longer than the backup waits. */
export class LeaseWaitTimeoutError extends Error {
  /** Builds the error; `reason` is the server's last refusal. */
  constructor(waitedMs: number, reason: string, options?: ErrorOptions) {
    super(
      `Cannot start the backup: a garbage collection held the database for ${
        Math.round(waitedMs / 60_000)
      } minutes, the longest a backup waits (${reason})`,
      options,
    );
    this.name = "LeaseWaitTimeoutError";
  }
}

/** The backup lost its lease: a garbage collection may have run, the snapshot is not committed. */
export class LeaseLostError extends Error {
  /** Builds the error; `reason` is the server's reply. */
  constructor(reason: string, options?: ErrorOptions) {
    super(
      `Cannot commit the snapshot: the backup lease was lost, and a garbage collection ` +
        `may have deleted data it references; run the backup again (${reason})`,
      options,
    );
    this.name = "LeaseLostError";
  }
}

function isLeaseRefusal(error: unknown): error is ServerReplyError {
  return error instanceof ServerReplyError && error.message.includes("ERR LEASE");
}

function isUnknownCommand(error: unknown): boolean {
  return error instanceof ServerReplyError && /ERR unknown command 'LEASE'/i.test(error.message);
}

/** The reply text of a refusal, without the `LEASE failed: ERR LEASE` head. */
function reasonOf(error: ServerReplyError): string {
  return error.message.replace(/^.*?ERR LEASE /, "");
}

/** A backup lease held on one database. */
export class BackupLease {
  readonly #conn: LeaseConnection;
  readonly #id: string;
  readonly #ttlMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #released = false;

  private constructor(conn: LeaseConnection, id: string, ttlMs: number) {
    this.#conn = conn;
    this.#id = id;
    this.#ttlMs = ttlMs;
  }

  /** The lease id. */
  get id(): string {
    return this.#id;
  }

  /**
   * Takes backup lease `id` on the database of `conn`, waiting while a gc
   * holds it. Against a server without leases (and so without gc), returns
   * a lease that does nothing.
   *
   * @throws {LeaseWaitTimeoutError} when a gc still holds the database after the longest wait.
   */
  static async acquire(
    conn: LeaseConnection,
    id: string,
    options: BackupLeaseOptions = {},
  ): Promise<BackupLease> {
    const ttlMs = options.ttlMs ?? LEASE_TTL_MS;
    const maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;
    const retryEveryMs = options.retryEveryMs ?? RETRY_EVERY_MS;
    const sleep = options.sleep ??
      ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const now = options.now ?? (() => performance.now());
    const start = now();
    let told = false;
    for (;;) {
      try {
        await conn.call("LEASE", "ACQUIRE", "backup", id, String(ttlMs));
        break;
      } catch (error) {
        if (isUnknownCommand(error)) return new BackupLease(conn, id, ttlMs).#noop();
        if (!isLeaseRefusal(error)) throw error;
        const waited = now() - start;
        if (waited >= maxWaitMs) {
          throw new LeaseWaitTimeoutError(waited, reasonOf(error), { cause: error });
        }
        if (!told) {
          told = true;
          options.onWait?.(`waiting for a garbage collection to end: ${reasonOf(error)}`);
        }
        await sleep(Math.min(retryEveryMs, Math.max(1, maxWaitMs - waited)));
      }
    }
    const lease = new BackupLease(conn, id, ttlMs);
    lease.#startRenewing(options.renewEveryMs ?? RENEW_EVERY_MS);
    return lease;
  }

  #noop(): BackupLease {
    this.#released = true;
    return this;
  }

  #startRenewing(everyMs: number): void {
    const timer = setInterval(() => {
      // A failure here is noticed by confirm() before the commit.
      this.#conn.call("LEASE", "RENEW", this.#id, String(this.#ttlMs)).catch(() => {});
    }, everyMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /**
   * Renews the lease now; call right before committing a snapshot.
   *
   * @throws {LeaseLostError} when the lease is no longer held.
   */
  async confirm(): Promise<void> {
    if (this.#released) return;
    try {
      await this.#conn.call("LEASE", "RENEW", this.#id, String(this.#ttlMs));
    } catch (error) {
      if (isLeaseRefusal(error)) throw new LeaseLostError(reasonOf(error), { cause: error });
      throw error;
    }
  }

  /** Stops renewing and releases the lease (errors are ignored: it expires anyway). */
  async release(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#released) return;
    this.#released = true;
    try {
      await this.#conn.call("LEASE", "RELEASE", this.#id);
    } catch {
      // The connection is gone: the lease expires on its own.
    }
  }
}

/** `repo` with every snapshot commit preceded by `lease.confirm()`. */
export function leasedRepository(repo: BackupRepository, lease: BackupLease): BackupRepository {
  return {
    hasBlobs: (ids) => repo.hasBlobs(ids),
    putBlob: (id, data) => repo.putBlob(id, data),
    writeContent: (key, chunks) => repo.writeContent(key, chunks),
    writeMeta: (key, fields) => repo.writeMeta(key, fields),
    writeDir: (key, members) => repo.writeDir(key, members),
    async commitSnapshot(snapshot: Snapshot): Promise<string> {
      await lease.confirm();
      return await repo.commitSnapshot(snapshot);
    },
  };
}

/** A lease id for this process: `backup:<host>:<pid>:<random>`. */
export function backupLeaseId(host: string): string {
  return `backup:${host}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
}
