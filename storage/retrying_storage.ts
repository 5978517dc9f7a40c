/**
 * A storage wrapper that retries transient failures of another storage.
 *
 * Every method of the contract is safe to repeat (`put` is idempotent,
 * `delete` of a missing blob succeeds), so a failed call is simply made
 * again, after an exponentially growing delay with jitter:
 * `base × 2^(attempt-1)`, capped at `maxDelayMs`, of which a random half is
 * taken off ("equal jitter"), so that many clients failing together do not
 * retry in lockstep.
 *
 * Errors that retrying cannot fix are thrown at once, unwrapped: see
 * {@linkcode isTransientError}. When every attempt failed, the call rejects
 * with {@linkcode RetriesExhaustedError}, which says how many attempts were
 * made and wraps the last error as its `cause`.
 *
 * `list` is retried only until it yields its first blob: restarting a
 * listing half way would repeat blobs.
 *
 * @module
 */

import {
  assertRange,
  BlobCorruptError,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStorage,
  type GetOptions,
  InvalidBlobIdError,
} from "./blob_storage.ts";

/** Default number of attempts of one call, the first included. */
export const DEFAULT_ATTEMPTS = 5;
/** Default delay before the first retry (ms), doubled for each further one. */
export const DEFAULT_BASE_DELAY_MS = 200;
/** Default cap of the delay between attempts (ms). */
export const DEFAULT_MAX_DELAY_MS = 10_000;

/** A retry about to happen, for logging. */
export interface RetryEvent {
  /** The storage method: `put`, `get`, `has`, `delete` or `list`. */
  operation: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** The delay before the next attempt (ms). */
  delayMs: number;
  /** Why the attempt failed. */
  error: unknown;
}

/** Options of {@linkcode RetryingStorage}. */
export interface RetryOptions {
  /** Attempts of one call, the first included (at least 1). Default {@linkcode DEFAULT_ATTEMPTS}. */
  attempts?: number;
  /** Delay before the first retry (ms). Default {@linkcode DEFAULT_BASE_DELAY_MS}. */
  baseDelayMs?: number;
  /** Cap of the delay between attempts (ms). Default {@linkcode DEFAULT_MAX_DELAY_MS}. */
  maxDelayMs?: number;
  /** Whether an error may go away on retry. Default {@linkcode isTransientError}. */
  isTransient?: (error: unknown) => boolean;
  /** Waits `ms` milliseconds. Default: a timer. Tests pass a fake clock. */
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
  /** Called before each retry (for logs). */
  onRetry?: (event: RetryEvent) => void;
}

/** Every attempt of a call failed; `cause` is the last error. */
export class RetriesExhaustedError extends Error {
  /** The storage method that failed. */
  readonly operation: string;
  /** How many attempts were made. */
  readonly attempts: number;
  /** Builds the error; `what` names the call, such as `put blob "ab…" in storage "x"`. */
  constructor(operation: string, what: string, attempts: number, options: ErrorOptions) {
    const cause = options.cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    const times = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    super(`Cannot ${what}: ${times} failed; the last with: ${reason}`, options);
    this.name = "RetriesExhaustedError";
    this.operation = operation;
    this.attempts = attempts;
  }
}

/**
 * Whether retrying may help with `error`. False for:
 * - the contract's answers: {@linkcode BlobNotFoundError},
 *   {@linkcode BlobCorruptError}, {@linkcode InvalidBlobIdError};
 * - errors that mark themselves `permanent: true` (a backend's wrong
 *   credentials, untrusted host key, closed storage, …);
 * - programming errors (`TypeError`, `RangeError`, `SyntaxError`,
 *   `ReferenceError`) and `Deno.errors.PermissionDenied` / `NotSupported`.
 *
 * Anything else (network failures, timeouts, server errors) is transient.
 */
export function isTransientError(error: unknown): boolean {
  if (
    error instanceof BlobNotFoundError || error instanceof BlobCorruptError ||
    error instanceof InvalidBlobIdError
  ) {
    return false;
  }
  if ((error as { permanent?: unknown } | null)?.permanent === true) return false;
  if (
    error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError ||
    error instanceof ReferenceError
  ) {
    return false;
  }
  return !(error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotSupported);
}

/**
 * The delay before retry number `attempt` (1 for the first retry): half of
 * `min(max, base × 2^(attempt-1))` plus a random part of the other half.
 */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/**
 * A {@linkcode BlobStorage} that retries the transient failures of `inner`
 * (see the module documentation).
 *
 * @example
 * ```ts
 * const storage = new RetryingStorage(await SftpStorage.open(url), { attempts: 4 });
 * await storage.put(id, data); // survives a dropped connection
 * ```
 */
export class RetryingStorage implements BlobStorage {
  /** The wrapped storage. */
  readonly inner: BlobStorage;
  /** The wrapped storage's display URL. */
  readonly displayUrl: string;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #isTransient: (error: unknown) => boolean;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;

  /** Wraps `inner`. */
  constructor(inner: BlobStorage, options: RetryOptions = {}) {
    this.inner = inner;
    this.displayUrl = inner.displayUrl;
    this.#attempts = Math.max(1, Math.floor(options.attempts ?? DEFAULT_ATTEMPTS));
    this.#baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.#maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.#isTransient = options.isTransient ?? isTransientError;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#onRetry = options.onRetry;
  }

  /** `inner.put`, retried. */
  put(id: string, data: Uint8Array): Promise<void> {
    return this.#retry(
      "put",
      `put blob "${id}" in storage "${this.displayUrl}"`,
      () => this.inner.put(id, data),
    );
  }

  /** `inner.get`, retried. */
  get(id: string, options?: GetOptions): Promise<Uint8Array> {
    return this.#retry(
      "get",
      `get blob "${id}" from storage "${this.displayUrl}"`,
      () => this.inner.get(id, options),
    );
  }

  /**
   * `inner.getRange`, retried. For an inner storage without `getRange`, the
   * range is cut from a whole (verified) `get`.
   */
  getRange(id: string, offset: number, length: number): Promise<Uint8Array> {
    const inner = this.inner;
    return this.#retry(
      "getRange",
      `get a range of blob "${id}" from storage "${this.displayUrl}"`,
      async () => {
        if (inner.getRange !== undefined) return await inner.getRange(id, offset, length);
        assertRange(offset, length);
        const data = await inner.get(id);
        if (data.length < offset + length) {
          throw new BlobCorruptError(
            id,
            `${data.length} bytes long, range ${offset}+${length} asked`,
          );
        }
        return data.subarray(offset, offset + length);
      },
    );
  }

  /** `inner.has`, retried. */
  has(id: string): Promise<boolean> {
    return this.#retry(
      "has",
      `look up blob "${id}" in storage "${this.displayUrl}"`,
      () => this.inner.has(id),
    );
  }

  /** `inner.delete`, retried. */
  delete(id: string): Promise<void> {
    return this.#retry(
      "delete",
      `delete blob "${id}" from storage "${this.displayUrl}"`,
      () => this.inner.delete(id),
    );
  }

  /** `inner.list`, retried until it yields its first blob; later failures pass through. */
  async *list(): AsyncGenerator<BlobInfo> {
    const start = async () => {
      const iterator = this.inner.list()[Symbol.asyncIterator]();
      try {
        return { iterator, first: await iterator.next() };
      } catch (error) {
        await iterator.return?.().catch(() => {});
        throw error;
      }
    };
    const { iterator, first } = await this.#retry(
      "list",
      `list storage "${this.displayUrl}"`,
      start,
    );
    try {
      for (let result = first; !result.done; result = await iterator.next()) yield result.value;
    } finally {
      await iterator.return?.();
    }
  }

  /** `inner.close` (not retried). */
  close(): Promise<void> {
    return this.inner.close();
  }

  async #retry<T>(operation: string, what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!this.#isTransient(error)) throw error;
        if (attempt >= this.#attempts) {
          throw new RetriesExhaustedError(operation, what, attempt, { cause: error });
        }
        const delayMs = backoffDelay(attempt, this.#baseDelayMs, this.#maxDelayMs, this.#random);
        this.#onRetry?.({ operation, attempt, delayMs, error });
        await this.#sleep(delayMs);
      }
    }
  }
}
