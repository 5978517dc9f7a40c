/**
 * The dump format: every record of one database's kv store, in key order, as
 * one self-checking byte stream (see `docs/dump-format.md`).
 *
 * ```text
 * header   "ddb-dump" | uint16 format version | uint16 kv format version
 *          | uint64 created (ms since the epoch) | uint16 name length | name (UTF-8)
 * record   'R' | uint32 key length | key | uint32 value length | value     (keys ascending)
 * trailer  'E' | uint64 record count | SHA-256 of every byte before it
 * ```
 *
 * All integers are big-endian. {@linkcode DumpEncoder} writes the stream in
 * chunks of a fixed size; {@linkcode DumpDecoder} reads it back from chunks
 * of any size and checks as it goes (magic, versions, lengths, key order) and
 * at the end (record count, checksum). Pure: no I/O.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { compareBytes } from "../kv/keys.ts";
import { bytesToHex as toHex } from "../../storage/blob_id.ts";

/** The first 8 bytes of every dump: `ddb-dump` in ASCII. */
export const DUMP_MAGIC: Uint8Array = new TextEncoder().encode("ddb-dump");
/** The version of the format this code writes and reads. */
export const DUMP_FORMAT_VERSION = 1;
/** Tag of a record (`R`). */
export const RECORD_TAG = 0x52;
/** Tag of the trailer (`E`). */
export const END_TAG = 0x45;
/**
 * Longest key or value a dump may hold: SQLite's default maximum length of
 * a BLOB. A longer length field is damage, refused before any allocation.
 */
export const MAX_FIELD_BYTES = 1_000_000_000;
/** Longest database name in a header, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
/** Chunk size of {@linkcode DumpEncoder} unless told otherwise: 1 MiB. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** Bytes of the header before the name. */
const HEADER_FIXED_BYTES = DUMP_MAGIC.length + 2 + 2 + 8 + 2;
/** Bytes of the trailer: tag, count, SHA-256. */
const TRAILER_BYTES = 1 + 8 + 32;

const encoder = new TextEncoder();
const fatalDecoder = new TextDecoder("utf-8", { fatal: true });

/** What the header of a dump says. */
export interface DumpHeader {
  /** Name of the database the dump was taken from. */
  database: string;
  /** When the dump was taken (ms since the epoch). */
  createdAt: number;
  /** `user_version` of the kv file the records come from (`KV_FORMAT_VERSION`). */
  kvFormatVersion: number;
}

/** What a complete dump held, known once its trailer is written or checked. */
export interface DumpSummary {
  /** Number of records. */
  records: number;
  /** Length of the whole dump in bytes. */
  bytes: number;
  /**
   * The trailer's checksum (SHA-256 of every byte before it), lowercase hex:
   * it names the dump's content, header included.
   */
  checksum: string;
}

/** One item read by {@linkcode DumpDecoder}. */
export type DumpItem =
  | { readonly kind: "header"; readonly header: DumpHeader }
  | { readonly kind: "record"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: "end"; readonly summary: DumpSummary };

/** The bytes are not a dump, or a damaged, truncated or unsupported one. */
export class DumpFormatError extends Error {
  /** Builds the error; `reason` says what is wrong. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`Cannot read dump: ${reason}`, options);
    this.name = "DumpFormatError";
  }
}

/** A kv record of a dump: a key and its value. */
export interface DumpRecord {
  /** The full encoded kv key. */
  key: Uint8Array;
  /** Its value. */
  value: Uint8Array;
}

/**
 * Writes a dump into chunks of exactly `chunkBytes` bytes (the last one
 * shorter). Feed it the header (constructor), the records in ascending key
 * order ({@linkcode DumpEncoder.record}), then {@linkcode DumpEncoder.end};
 * take the finished chunks with {@linkcode DumpEncoder.take} whenever
 * convenient. Memory stays at about one chunk plus what was not taken.
 */
export class DumpEncoder {
  readonly #chunkBytes: number;
  readonly #hash: Hash = createHash("sha256");
  readonly #scratch = new Uint8Array(8);
  readonly #scratchView = new DataView(this.#scratch.buffer);
  #chunk: Uint8Array;
  #at = 0;
  #hashing = true;
  #done: Uint8Array[] = [];
  #records = 0;
  #bytes = 0;
  #lastKey: Uint8Array | undefined;
  #summary: DumpSummary | undefined;

  /** Starts a dump with `header`, cut into chunks of `chunkBytes` (default 1 MiB). */
  constructor(header: DumpHeader, chunkBytes = DEFAULT_CHUNK_BYTES) {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 64) {
      throw new RangeError(`Cannot encode dump in chunks of ${chunkBytes} bytes: at least 64`);
    }
    const name = encoder.encode(header.database);
    if (name.length > MAX_NAME_BYTES) {
      throw new RangeError(`Cannot encode dump: database name of ${name.length} bytes`);
    }
    if (!Number.isSafeInteger(header.createdAt) || header.createdAt < 0) {
      throw new RangeError(`Cannot encode dump: creation time ${header.createdAt}`);
    }
    if (!isUint16(header.kvFormatVersion)) {
      throw new RangeError(`Cannot encode dump: kv format version ${header.kvFormatVersion}`);
    }
    this.#chunkBytes = chunkBytes;
    this.#chunk = new Uint8Array(chunkBytes);
    this.#write(DUMP_MAGIC);
    this.#uint16(DUMP_FORMAT_VERSION);
    this.#uint16(header.kvFormatVersion);
    this.#scratchView.setBigUint64(0, BigInt(header.createdAt));
    this.#write(this.#scratch);
    this.#uint16(name.length);
    this.#write(name);
  }

  /** Appends one record; keys must be strictly ascending (memcmp order). */
  record(key: Uint8Array, value: Uint8Array): void {
    if (this.#summary !== undefined) throw new TypeError("Cannot add a record: the dump is ended");
    if (key.length > MAX_FIELD_BYTES || value.length > MAX_FIELD_BYTES) {
      throw new RangeError(
        `Cannot encode record ${this.#records}: key or value longer than ${MAX_FIELD_BYTES} bytes`,
      );
    }
    if (this.#lastKey !== undefined && compareBytes(this.#lastKey, key) >= 0) {
      throw new RangeError(`Cannot encode record ${this.#records}: keys are not ascending`);
    }
    this.#lastKey = key;
    const chunk = this.#chunk;
    if (this.#at + 5 <= chunk.length) {
      const at = this.#at;
      chunk[at] = RECORD_TAG;
      writeUint32(chunk, at + 1, key.length);
      this.#at = at + 5;
    } else {
      this.#scratch[0] = RECORD_TAG;
      this.#write(this.#scratch.subarray(0, 1));
      this.#uint32(key.length);
    }
    this.#write(key);
    this.#uint32(value.length);
    this.#write(value);
    this.#records++;
  }

  /** Writes the trailer; returns what the dump holds. Take the last chunks after. */
  end(): DumpSummary {
    if (this.#summary !== undefined) return this.#summary;
    this.#scratch[0] = END_TAG;
    this.#write(this.#scratch.subarray(0, 1));
    this.#scratchView.setBigUint64(0, BigInt(this.#records));
    this.#write(this.#scratch);
    this.#hash.update(this.#chunk.subarray(0, this.#at));
    this.#hashing = false;
    const digest = this.#hash.digest();
    this.#write(digest);
    this.#summary = {
      records: this.#records,
      bytes: this.#bytes + this.#at,
      checksum: toHex(digest),
    };
    if (this.#at > 0) this.#emit();
    return this.#summary;
  }

  /** The finished chunks not taken yet (the last one is partial once ended). */
  take(): Uint8Array[] {
    const out = this.#done;
    this.#done = [];
    return out;
  }

  /** Whether finished chunks wait to be taken. */
  get ready(): boolean {
    return this.#done.length > 0;
  }

  /** Records written so far. */
  get records(): number {
    return this.#records;
  }

  #uint16(value: number): void {
    this.#scratch[0] = value >>> 8;
    this.#scratch[1] = value & 0xff;
    this.#write(this.#scratch.subarray(0, 2));
  }

  #uint32(value: number): void {
    const chunk = this.#chunk;
    if (this.#at + 4 <= chunk.length) {
      writeUint32(chunk, this.#at, value);
      this.#at += 4;
      return;
    }
    writeUint32(this.#scratch, 0, value);
    this.#write(this.#scratch.subarray(0, 4));
  }

  #write(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const room = this.#chunkBytes - this.#at;
      const n = Math.min(room, bytes.length - from);
      this.#chunk.set(n === bytes.length ? bytes : bytes.subarray(from, from + n), this.#at);
      this.#at += n;
      from += n;
      if (this.#at === this.#chunkBytes) this.#emit();
    }
  }

  #emit(): void {
    const chunk = this.#at === this.#chunkBytes ? this.#chunk : this.#chunk.slice(0, this.#at);
    if (this.#hashing) this.#hash.update(chunk);
    this.#done.push(chunk);
    this.#bytes += chunk.length;
    this.#at = 0;
    this.#chunk = new Uint8Array(this.#chunkBytes);
  }
}

/**
 * Encodes a dump of `records` (ascending keys) lazily: yields chunks of
 * `chunkBytes` as the records are read, and returns the summary. Memory stays
 * at about one chunk whatever the number of records.
 */
export function* encodeDump(
  header: DumpHeader,
  records: Iterable<DumpRecord>,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): Generator<Uint8Array, DumpSummary, undefined> {
  const dump = new DumpEncoder(header, chunkBytes);
  yield* dump.take();
  for (const { key, value } of records) {
    dump.record(key, value);
    if (dump.ready) yield* dump.take();
  }
  const summary = dump.end();
  yield* dump.take();
  return summary;
}

type State = "header" | "records" | "done";

/**
 * Reads a dump from chunks of any size: `push` bytes, then take items with
 * `next` until it returns `undefined`; call `finish` at the end of the input.
 * Anything wrong throws {@linkcode DumpFormatError} as soon as it is seen:
 * structure and key order at once, a damaged byte at the latest when the
 * trailer's checksum is checked. A dump is trustworthy only once the `end`
 * item was returned (or `finish` returned): whoever applies records must be
 * able to undo them until then.
 */
export class DumpDecoder {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  /** Bytes of `#buf` before this index are hashed (always ≤ `#start`). */
  #hashed = 0;
  /** Absolute offset in the dump of `#buf[0]`. */
  #base = 0;
  #state: State = "header";
  readonly #hash: Hash = createHash("sha256");
  #records = 0;
  #lastKey: Uint8Array | undefined;
  #header: DumpHeader | undefined;
  #summary: DumpSummary | undefined;

  /** Appends bytes of the dump (copied). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#state === "done") {
      throw new DumpFormatError(`unexpected bytes after the trailer (at byte ${this.#offset})`);
    }
    if (this.#end + chunk.length > this.#buf.length) this.#makeRoom(chunk.length);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next complete item, or `undefined` until more bytes are pushed. */
  next(): DumpItem | undefined {
    switch (this.#state) {
      case "header":
        return this.#readHeader();
      case "records":
        return this.#readRecord();
      case "done":
        return undefined;
    }
  }

  /**
   * Checks that the input ended exactly after the trailer; throws
   * {@linkcode DumpFormatError} (truncated, trailing bytes) otherwise.
   * Returns the summary.
   */
  finish(): DumpSummary {
    const pending = this.#end - this.#start;
    if (this.#state === "done") {
      if (pending > 0) {
        throw new DumpFormatError(`unexpected bytes after the trailer (at byte ${this.#offset})`);
      }
      return this.#summary!;
    }
    if (this.#state === "header") {
      throw new DumpFormatError(
        pending === 0 ? "the input is empty" : `truncated in the header (${pending} bytes)`,
      );
    }
    if (pending === 0) {
      throw new DumpFormatError(
        `truncated after record ${this.#records} (at byte ${this.#offset}): no trailer`,
      );
    }
    const inTrailer = this.#buf[this.#start] === END_TAG;
    throw new DumpFormatError(
      `truncated inside ${inTrailer ? "the trailer" : `record ${this.#records + 1}`} ` +
        `(at byte ${this.#offset}, ${pending} bytes of it)`,
    );
  }

  /** The header, once read. */
  get header(): DumpHeader | undefined {
    return this.#header;
  }

  /** Records read so far. */
  get records(): number {
    return this.#records;
  }

  /** Whether the trailer was read and checked. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Absolute offset of the first byte not consumed yet. */
  get #offset(): number {
    return this.#base + this.#start;
  }

  #makeRoom(incoming: number): void {
    this.#hashTo(this.#start);
    const used = this.#end - this.#start;
    const needed = used + incoming;
    if (needed <= this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, needed));
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = grown;
    }
    this.#base += this.#start;
    this.#start = 0;
    this.#hashed = 0;
    this.#end = used;
  }

  #hashTo(index: number): void {
    if (index > this.#hashed) this.#hash.update(this.#buf.subarray(this.#hashed, index));
    this.#hashed = index;
  }

  #readHeader(): DumpItem | undefined {
    const buf = this.#buf;
    const at = this.#start;
    const available = this.#end - at;
    const magicBytes = Math.min(available, DUMP_MAGIC.length);
    for (let i = 0; i < magicBytes; i++) {
      if (buf[at + i] !== DUMP_MAGIC[i]) {
        throw new DumpFormatError('not a ddb dump (wrong magic; expected "ddb-dump")');
      }
    }
    if (available < HEADER_FIXED_BYTES) return undefined;
    const view = new DataView(buf.buffer, buf.byteOffset + at, HEADER_FIXED_BYTES);
    const version = view.getUint16(8);
    if (version !== DUMP_FORMAT_VERSION) {
      throw new DumpFormatError(
        `format version ${version} is not supported (this build reads ${DUMP_FORMAT_VERSION})`,
      );
    }
    const kvFormatVersion = view.getUint16(10);
    const createdAt = Number(view.getBigUint64(12));
    const nameBytes = view.getUint16(20);
    if (nameBytes > MAX_NAME_BYTES) {
      throw new DumpFormatError(`database name of ${nameBytes} bytes in the header`);
    }
    if (available < HEADER_FIXED_BYTES + nameBytes) return undefined;
    let database: string;
    try {
      database = fatalDecoder.decode(
        buf.subarray(at + HEADER_FIXED_BYTES, at + HEADER_FIXED_BYTES + nameBytes),
      );
    } catch (cause) {
      throw new DumpFormatError("the database name in the header is not UTF-8", { cause });
    }
    this.#start = at + HEADER_FIXED_BYTES + nameBytes;
    this.#state = "records";
    this.#header = { database, createdAt, kvFormatVersion };
    return { kind: "header", header: this.#header };
  }

  #readRecord(): DumpItem | undefined {
    const buf = this.#buf;
    const at = this.#start;
    const available = this.#end - at;
    if (available < 1) return undefined;
    const tag = buf[at];
    if (tag === END_TAG) return this.#readTrailer();
    if (tag !== RECORD_TAG) {
      throw new DumpFormatError(
        `unknown tag 0x${tag.toString(16).padStart(2, "0")} after record ${this.#records} ` +
          `(at byte ${this.#offset})`,
      );
    }
    if (available < 5) return undefined;
    const keyBytes = readUint32(buf, at + 1);
    this.#checkLength("key", keyBytes);
    if (available < 9 + keyBytes) return undefined;
    const valueBytes = readUint32(buf, at + 5 + keyBytes);
    this.#checkLength("value", valueBytes);
    const total = 9 + keyBytes + valueBytes;
    if (available < total) return undefined;
    const key = buf.slice(at + 5, at + 5 + keyBytes);
    if (this.#lastKey !== undefined && compareBytes(this.#lastKey, key) >= 0) {
      throw new DumpFormatError(
        `record ${this.#records + 1} is out of key order (at byte ${this.#offset})`,
      );
    }
    const value = buf.slice(at + 9 + keyBytes, at + total);
    this.#lastKey = key;
    this.#start = at + total;
    this.#records++;
    return { kind: "record", key, value };
  }

  #checkLength(what: string, length: number): void {
    if (length > MAX_FIELD_BYTES) {
      throw new DumpFormatError(
        `record ${this.#records + 1} has a ${what} of ${length} bytes, more than ` +
          `${MAX_FIELD_BYTES} (at byte ${this.#offset})`,
      );
    }
  }

  #readTrailer(): DumpItem | undefined {
    const at = this.#start;
    if (this.#end - at < TRAILER_BYTES) return undefined;
    const buf = this.#buf;
    const count = new DataView(buf.buffer, buf.byteOffset + at + 1, 8).getBigUint64(0);
    if (count !== BigInt(this.#records)) {
      throw new DumpFormatError(
        `the trailer counts ${count} records, the dump holds ${this.#records}`,
      );
    }
    this.#hashTo(at + 9);
    const digest = this.#hash.digest();
    const stored = buf.subarray(at + 9, at + TRAILER_BYTES);
    if (!equalBytes(digest, stored)) {
      throw new DumpFormatError("checksum mismatch: the dump is damaged");
    }
    this.#start = at + TRAILER_BYTES;
    this.#hashed = this.#start;
    this.#state = "done";
    this.#summary = {
      records: this.#records,
      bytes: this.#offset,
      checksum: toHex(stored),
    };
    if (this.#end > this.#start) {
      throw new DumpFormatError(`unexpected bytes after the trailer (at byte ${this.#offset})`);
    }
    return { kind: "end", summary: this.#summary };
  }
}

/**
 * Decodes a whole dump from `chunks`, yielding its items; throws
 * {@linkcode DumpFormatError} when it is damaged, truncated or unsupported
 * (possibly after yielding records: see {@linkcode DumpDecoder}).
 */
export async function* decodeDump(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<DumpItem, DumpSummary, undefined> {
  const decoder = new DumpDecoder();
  for await (const chunk of chunks) {
    decoder.push(chunk);
    for (let item = decoder.next(); item !== undefined; item = decoder.next()) yield item;
  }
  return decoder.finish();
}

function isUint16(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

function writeUint32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
