/**
 * Exporting one database: a dump of a consistent snapshot of its kv file,
 * produced lazily, one chunk at a time, while its server keeps writing.
 *
 * @module
 */

import {
  DEFAULT_CHUNK_BYTES,
  type DumpHeader,
  type DumpSummary,
  encodeDump,
} from "./dump_format.ts";
import { KvSnapshot } from "./kv_snapshot.ts";

/**
 * The dump of one kv file, chunk by chunk. The snapshot is taken at
 * {@linkcode KvExport.open} and released after the last chunk or at
 * {@linkcode KvExport.close} (iterating with `for…of` closes it too, also
 * when left early): memory stays at about one chunk and one page of rows
 * whatever the database's size, and the writer is never blocked.
 */
export class KvExport implements Iterable<Uint8Array> {
  /** The dump's header. */
  readonly header: DumpHeader;
  readonly #snapshot: KvSnapshot;
  readonly #chunks: Generator<Uint8Array, DumpSummary, undefined>;
  #summary: DumpSummary | undefined;
  #closed = false;

  private constructor(snapshot: KvSnapshot, header: DumpHeader, chunkBytes: number) {
    this.#snapshot = snapshot;
    this.header = header;
    this.#chunks = encodeDump(header, snapshot.entries(), chunkBytes);
  }

  /**
   * Takes a snapshot of the kv file at `kvPath`; the dump's header names the
   * database `database` and dates it `createdAt` (ms since the epoch). Chunks
   * are `chunkBytes` long (1 MiB by default), the last one shorter.
   *
   * @throws {KvFormatError} when the file is missing or not a kv file.
   */
  static open(
    kvPath: string,
    database: string,
    createdAt: number,
    chunkBytes: number = DEFAULT_CHUNK_BYTES,
  ): KvExport {
    const snapshot = KvSnapshot.open(kvPath);
    try {
      const header = { database, createdAt, kvFormatVersion: snapshot.kvFormatVersion };
      return new KvExport(snapshot, header, chunkBytes);
    } catch (error) {
      snapshot.close();
      throw error;
    }
  }

  /** The next chunk, or `undefined` after the last one (the snapshot is then released). */
  next(): Uint8Array | undefined {
    if (this.#closed) return undefined;
    let result: IteratorResult<Uint8Array, DumpSummary>;
    try {
      result = this.#chunks.next();
    } catch (error) {
      this.close();
      throw error;
    }
    if (!result.done) return result.value;
    this.#summary = result.value;
    this.close();
    return undefined;
  }

  /** What the dump held, once its last chunk was taken. */
  get summary(): DumpSummary | undefined {
    return this.#summary;
  }

  /** Releases the snapshot (idempotent); later calls of `next` return `undefined`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#snapshot.close();
  }

  /** The chunks; leaving the loop early closes the export. */
  *[Symbol.iterator](): Iterator<Uint8Array> {
    try {
      for (let chunk = this.next(); chunk !== undefined; chunk = this.next()) yield chunk;
    } finally {
      this.close();
    }
  }
}
