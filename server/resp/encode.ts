/**
 * Encoding of {@linkcode Reply} values into RESP2 or RESP3 bytes.
 *
 * | reply      | RESP2                      | RESP3                       |
 * | ---------- | -------------------------- | --------------------------- |
 * | `simple`   | `+value\r\n`               | same                        |
 * | `error`    | `-message\r\n`             | same                        |
 * | `int`      | `:123\r\n`                 | same                        |
 * | `bulk`     | `$len\r\n<bytes>\r\n`      | same                        |
 * | `null`     | `$-1\r\n` (in arrays too)  | `_\r\n`                     |
 * | `array`    | `*N\r\n<items>`            | same                        |
 * | `map`      | `*2N\r\n<k1><v1>…` (flat)  | `%N\r\n<k1><v1>…`           |
 * | `verbatim` | bulk string of the text    | `=len\r\nfmt:<text>\r\n`    |
 *
 * CR and LF in simple strings and error messages are replaced by spaces, so a
 * reply can never break the framing. Strings are encoded as UTF-8.
 *
 * Small replies are written into a shared scratch buffer; bulk payloads of
 * 16 KiB or more are not copied but referenced, so
 * {@linkcode ReplyWriter.takeChunks} hands them to a vectored write as they
 * are, and {@linkcode ReplyWriter.takeBytes} copies them once. Such payloads
 * must not be modified until the taken bytes are written.
 *
 * @module
 */

import type { Reply } from "./reply.ts";

const KiB = 1024;

const CR = 0x0d;
const LF = 0x0a;
const MINUS = 0x2d;
const ZERO = 0x30;

/** First scratch buffer size: enough for most single replies. */
const MIN_SCRATCH = 512;
/** Largest scratch buffer allocated for small writes. */
const MAX_SCRATCH = 64 * KiB;
/** Bulk payloads at least this large are referenced instead of copied. */
const REFERENCE_MIN = 16 * KiB;
/** Room for a type byte, a signed 64-bit number and CRLF. */
const HEADER_ROOM = 1 + 20 + 2;

const textEncoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const NEWLINES = /[\r\n]/g;

/** Type bytes. */
const SIMPLE = 0x2b; // +
const ERROR = 0x2d; // -
const INTEGER = 0x3a; // :
const BULK = 0x24; // $
const ARRAY = 0x2a; // *
const MAP = 0x25; // %
const VERBATIM = 0x3d; // =
const NULL3 = 0x5f; // _

/**
 * Accumulates encoded replies for one connection.
 *
 * @example
 * ```ts
 * import { OK, int } from "./reply.ts";
 * const writer = new ReplyWriter(2);
 * writer.write(OK);
 * writer.write(int(42));
 * writer.takeBytes(); // "+OK\r\n:42\r\n"
 * ```
 */
export class ReplyWriter {
  /** The RESP version written. */
  readonly protocol: 2 | 3;
  /** Finished chunks, in order. */
  #chunks: Uint8Array[] = [];
  /** Scratch buffer; `[#segmentStart, #pos)` is written and not yet a chunk. */
  #buf: Uint8Array = EMPTY;
  #segmentStart = 0;
  #pos = 0;
  /** Bytes of `#chunks`. */
  #size = 0;

  /** Builds a writer for RESP2 (`2`) or RESP3 (`3`). */
  constructor(protocol: 2 | 3) {
    this.protocol = protocol;
  }

  /** Bytes written since the last take. */
  get size(): number {
    return this.#size + this.#pos - this.#segmentStart;
  }

  /**
   * Encodes one reply.
   *
   * @throws {RangeError} when an `int` reply is not an integer, or a
   * `verbatim` format is not three ASCII characters.
   * @throws {TypeError} when `reply` is not a {@linkcode Reply}.
   */
  write(reply: Reply): void {
    switch (reply.kind) {
      case "simple":
        this.#writeLine(SIMPLE, reply.value);
        break;
      case "error":
        this.#writeLine(ERROR, reply.message);
        break;
      case "int":
        this.#writeInteger(reply.value);
        break;
      case "bulk":
        this.#writeBulk(BULK, reply.value, EMPTY);
        break;
      case "null":
        if (this.protocol === 3) {
          this.#ensure(3);
          this.#buf[this.#pos++] = NULL3;
          this.#writeCrlf();
        } else {
          this.#writeHeader(BULK, -1);
        }
        break;
      case "array":
        this.#writeHeader(ARRAY, reply.items.length);
        for (const item of reply.items) this.write(item);
        break;
      case "map":
        if (this.protocol === 3) {
          this.#writeHeader(MAP, reply.entries.length);
        } else {
          this.#writeHeader(ARRAY, reply.entries.length * 2);
        }
        for (const [key, value] of reply.entries) {
          this.write(key);
          this.write(value);
        }
        break;
      case "verbatim":
        this.#writeVerbatim(reply.format, reply.value);
        break;
      default: {
        const unknown: never = reply;
        const kind = String((unknown as { kind?: unknown }).kind);
        throw new TypeError(`Cannot encode reply of kind "${kind}": unknown kind`);
      }
    }
  }

  /**
   * Everything written since the last take, as chunks to write in order (for
   * a vectored write). Resets the writer. The writer never modifies the
   * returned bytes afterwards.
   */
  takeChunks(): Uint8Array[] {
    this.#endSegment();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#size = 0;
    return chunks;
  }

  /**
   * Everything written since the last take, as one array. Resets the writer.
   * The writer never modifies the returned bytes afterwards.
   */
  takeBytes(): Uint8Array {
    const size = this.size;
    const chunks = this.takeChunks();
    if (chunks.length === 1) return chunks[0];
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }

  /** Makes the written part of the scratch buffer a chunk. */
  #endSegment(): void {
    if (this.#pos > this.#segmentStart) {
      this.#chunks.push(this.#buf.subarray(this.#segmentStart, this.#pos));
      this.#size += this.#pos - this.#segmentStart;
      this.#segmentStart = this.#pos;
    }
  }

  /** Makes room for `n` bytes in the scratch buffer. */
  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.#endSegment();
    const capacity = Math.max(
      n,
      Math.min(MAX_SCRATCH, Math.max(MIN_SCRATCH, this.#buf.length * 2)),
    );
    this.#buf = new Uint8Array(capacity);
    this.#segmentStart = 0;
    this.#pos = 0;
  }

  #writeCrlf(): void {
    this.#buf[this.#pos++] = CR;
    this.#buf[this.#pos++] = LF;
  }

  /** Writes the decimal digits of a safe integer; room must be ensured. */
  #writeDigits(value: number): void {
    const buf = this.#buf;
    if (value < 0) {
      buf[this.#pos++] = MINUS;
      value = -value;
    }
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let at = this.#pos + digits;
    this.#pos = at;
    do {
      buf[--at] = ZERO + (value % 10);
      value = Math.floor(value / 10);
    } while (value > 0);
  }

  /** Writes `<type><n>\r\n` for a safe integer `n`. */
  #writeHeader(type: number, n: number): void {
    this.#ensure(HEADER_ROOM);
    this.#buf[this.#pos++] = type;
    this.#writeDigits(n);
    this.#writeCrlf();
  }

  #writeInteger(value: number | bigint): void {
    if (typeof value === "number" && Number.isSafeInteger(value)) {
      this.#writeHeader(INTEGER, value);
      return;
    }
    if (typeof value === "number" && !Number.isInteger(value)) {
      throw new RangeError(`Cannot encode integer reply ${value}: not an integer`);
    }
    this.#writeAsciiLine(INTEGER, BigInt(value).toString());
  }

  /** Writes `<type><text>\r\n` for a one-line simple string or error. */
  #writeLine(type: number, text: string): void {
    const line = text.includes("\r") || text.includes("\n") ? text.replace(NEWLINES, " ") : text;
    this.#writeAsciiLine(type, line);
  }

  /** Writes `<type><text>\r\n`, encoding `text` as UTF-8. */
  #writeAsciiLine(type: number, text: string): void {
    this.#ensure(text.length * 3 + 3);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = type;
    const n = text.length;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    if (i < n) pos += textEncoder.encodeInto(text.slice(i), buf.subarray(pos)).written;
    this.#pos = pos;
    this.#writeCrlf();
  }

  /** Writes `<type><len>\r\n<prefix><payload>\r\n`. */
  #writeBulk(type: number, payload: Uint8Array, prefix: Uint8Array): void {
    const len = prefix.length + payload.length;
    this.#writeHeader(type, len);
    if (prefix.length > 0) {
      this.#ensure(prefix.length);
      this.#buf.set(prefix, this.#pos);
      this.#pos += prefix.length;
    }
    if (payload.length >= REFERENCE_MIN) {
      this.#endSegment();
      this.#chunks.push(payload);
      this.#size += payload.length;
    } else {
      this.#ensure(payload.length);
      this.#buf.set(payload, this.#pos);
      this.#pos += payload.length;
    }
    this.#ensure(2);
    this.#writeCrlf();
  }

  #writeVerbatim(format: string, text: string): void {
    const payload = textEncoder.encode(text);
    if (this.protocol === 2) {
      this.#writeBulk(BULK, payload, EMPTY);
      return;
    }
    if (!/^[\x21-\x7e]{3}$/.test(format)) {
      throw new RangeError(
        `Cannot encode verbatim reply format "${format}": expected three ASCII characters`,
      );
    }
    this.#writeBulk(VERBATIM, payload, textEncoder.encode(`${format}:`));
  }
}

/** Encodes one reply into fresh bytes (see {@linkcode ReplyWriter}). */
export function encodeReply(reply: Reply, protocol: 2 | 3): Uint8Array {
  const writer = new ReplyWriter(protocol);
  writer.write(reply);
  return writer.takeBytes();
}
