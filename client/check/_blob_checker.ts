/**
 * Checks each blob once: its presence on the server (BMULTIEXISTS, ids
 * batched), and with `readData` its bytes (BGET; the server verifies the
 * hash as it reads, and the client hashes what it receives again).
 *
 * Memory: the ids of the good blobs are kept as raw digests in one flat
 * table (memory/digest_key_map.ts: about 40 bytes per blob, no JS object
 * each); bad ones, as few as the problems, in a set. Only the blobs being
 * checked are held otherwise.
 *
 * @module
 */

import { Semaphore } from "../concurrency/semaphore.ts";
import { ServerReplyError } from "../remote/resp_client.ts";
import { IntegrityError, type Repository } from "../repo/repository.ts";
import { DigestKeyMap } from "../../memory/digest_key_map.ts";
import type { ProblemLog } from "./problems.ts";

/** What the blob checker reads. */
export type BlobSource = Pick<Repository, "hasBlobs" | "getBlob">;

/** Options of {@linkcode BlobChecker}. */
export interface BlobCheckerOptions {
  /** Which present blobs to download and verify (default none). */
  readData?: (id: string) => boolean;
  /** Ids per BMULTIEXISTS (default 1000). */
  batch?: number;
  /** Blobs downloaded at once (default 8). */
  readConcurrency?: number;
  /** Called after a blob was downloaded. */
  onRead?: (bytes: number) => void;
}

interface Waiting {
  id: string;
  resolve(bad: boolean): void;
  reject(error: unknown): void;
}

/** A promise whose rejection is handled where it is awaited, never reported as unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Checks blobs, each once; answers whether a blob is bad. */
export class BlobChecker {
  readonly #source: BlobSource;
  readonly #problems: ProblemLog;
  readonly #readData: ((id: string) => boolean) | undefined;
  readonly #batchSize: number;
  readonly #reads: Semaphore;
  readonly #onRead: (bytes: number) => void;
  /** Blob ids found good (64 lowercase hex digits each, so held as digests). */
  readonly #good = new DigestKeyMap("");
  readonly #bad = new Set<string>();
  readonly #pending = new Map<string, Promise<boolean>>();
  #batch: Waiting[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Distinct blobs checked (or being checked). */
  checked = 0;

  /** Builds a checker logging to `problems`. */
  constructor(source: BlobSource, problems: ProblemLog, options: BlobCheckerOptions = {}) {
    this.#source = source;
    this.#problems = problems;
    this.#readData = options.readData;
    this.#batchSize = options.batch ?? 1000;
    this.#reads = new Semaphore(options.readConcurrency ?? 8);
    this.#onRead = options.onRead ?? (() => {});
  }

  /** Whether blob `id` is bad: now when known, else a promise. */
  check(id: string): boolean | Promise<boolean> {
    if (this.#good.has(id)) return false;
    if (this.#bad.has(id)) return true;
    const pending = this.#pending.get(id);
    if (pending !== undefined) return pending;
    this.checked++;
    const { promise, resolve, reject } = Promise.withResolvers<boolean>();
    const settled = quiet(promise.then((bad) => {
      this.#pending.delete(id);
      if (bad) this.#bad.add(id);
      else this.#good.set(id);
      return bad;
    }));
    this.#pending.set(id, settled);
    this.#batch.push({ id, resolve, reject });
    if (this.#batch.length >= this.#batchSize) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), 0);
    return settled;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    this.#source.hasBlobs(batch.map((w) => w.id)).then((present) => {
      batch.forEach((w, i) => {
        if (!present[i]) {
          this.#problems.report("blob-missing", w.id, `blob ${w.id} is not on the server`);
          w.resolve(true);
        } else if (this.#readData?.(w.id)) {
          this.#read(w).then(w.resolve, w.reject);
        } else {
          w.resolve(false);
        }
      });
    }, (error) => batch.forEach((w) => w.reject(error)));
  }

  /** Downloads a blob; resolves whether it is bad. */
  #read(w: Waiting): Promise<boolean> {
    return this.#reads.run(async () => {
      try {
        // The server verifies too: a blob it cannot read intact is its error
        // (blob-unreadable), told apart from bytes that change on the way.
        const data = await this.#source.getBlob(w.id, undefined, { verifyOnServer: true });
        this.#onRead(data.length);
        return false;
      } catch (error) {
        if (error instanceof IntegrityError) {
          const missing = error.message.includes("does not have it");
          this.#problems.report(
            missing ? "blob-missing" : "blob-corrupt",
            w.id,
            missing
              ? `blob ${w.id} is not on the server`
              : `blob ${w.id} is corrupt: ${error.message}`,
          );
          return true;
        }
        if (error instanceof ServerReplyError) {
          this.#problems.report(
            "blob-unreadable",
            w.id,
            `blob ${w.id} cannot be read by the server: ${error.message}`,
          );
          return true;
        }
        throw error;
      }
    });
  }
}
