/**
 * A streaming, I/O-free decoder of server replies (RESP2, plus the RESP3
 * types a ddb server may send after `HELLO 3`), for the client side.
 *
 * @module
 */

/** A decoded reply. Errors are values here; the client turns them into exceptions. */
export type RespValue =
  | string
  | Uint8Array
  | number
  | bigint
  | null
  | boolean
  | RespErrorValue
  | RespValue[];

/** An error reply (`-ERR …`), kept as a value inside arrays (EXEC). */
export class RespErrorValue {
  /** The full error text, code first. */
  readonly message: string;
  /** Wraps `message`. */
  constructor(message: string) {
    this.message = message;
  }
}

/** The server sent bytes that are not a valid reply. */
export class ReplyParseError extends Error {
  /** Builds the error. */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot parse reply: ${detail}`, options);
    this.name = "ReplyParseError";
  }
}

const CR = 13;
/** {@linkcode ReplyDecoder}'s internal "more bytes are needed". */
const INCOMPLETE: unique symbol = Symbol("incomplete");
const decoder = new TextDecoder();

/** Bulk replies at least this long are received straight into their own array. */
const DIRECT_MIN = 64 * 1024;

/**
 * Bulk strings at most this long are copied into a shared slab rather than
 * each into its own buffer: a metadata reply holds dozens of tiny strings,
 * and an array buffer apiece costs more than the copy.
 */
const SLAB_MAX = 128;
const SLAB_SIZE = 64 * 1024;

/**
 * Feed bytes with `push`, take complete replies with `next`. The bytes of
 * the bulk strings returned are never reused by the decoder, but small ones
 * share a buffer with others: do not write into them.
 */
export class ReplyDecoder {
  #buf = new Uint8Array(64 * 1024);
  /** Where small bulk strings are copied (see {@linkcode SLAB_MAX}). */
  /** Where the value {@linkcode #parse} returned last ends. */
  #parsedEnd = 0;
  #slab = new Uint8Array(0);
  #slabAt = 0;
  #start = 0;
  #end = 0;
  /**
   * A large bulk reply being received straight into its own array (one copy
   * of its bytes instead of three: into the buffer, through its growth, and
   * out of it). `filled` counts its bytes and then its CR LF.
   */
  #direct: { bytes: Uint8Array; filled: number; verbatim: boolean } | undefined;

  /** Appends bytes received from the server (copied). */
  push(chunk: Uint8Array): void {
    const direct = this.#direct;
    if (direct !== undefined) {
      const want = direct.bytes.length + 2 - direct.filled;
      const take = Math.min(want, chunk.length);
      const dataPart = Math.min(take, Math.max(0, direct.bytes.length - direct.filled));
      if (dataPart > 0) direct.bytes.set(chunk.subarray(0, dataPart), direct.filled);
      for (let i = dataPart; i < take; i++) {
        const at = direct.filled + i - direct.bytes.length;
        if (chunk[i] !== (at === 0 ? CR : 10)) {
          throw new ReplyParseError("expected CR LF after a bulk string");
        }
      }
      direct.filled += take;
      if (take === chunk.length) return;
      chunk = chunk.subarray(take);
    }
    if (this.#end + chunk.length > this.#buf.length) {
      const used = this.#end - this.#start;
      if (used + chunk.length <= this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(this.#buf.length * 2, used + chunk.length));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      }
      this.#start = 0;
      this.#end = used;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next complete reply, or `undefined` when more bytes are needed. */
  next(): { value: RespValue } | undefined {
    const direct = this.#direct;
    if (direct !== undefined) {
      if (direct.filled < direct.bytes.length + 2) return undefined;
      this.#direct = undefined;
      return { value: direct.verbatim ? direct.bytes.subarray(4) : direct.bytes };
    }
    const value = this.#parse(this.#start);
    if (value === INCOMPLETE) return undefined;
    this.#start = this.#parsedEnd;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { value };
  }

  #line(from: number): number {
    for (let i = from; i + 1 < this.#end; i++) {
      if (this.#buf[i] === CR && this.#buf[i + 1] === 10) return i;
    }
    return -1;
  }

  /**
   * The reply starting at `at`, its end put in {@linkcode #parsedEnd}; or
   * {@linkcode INCOMPLETE} when more bytes are needed (no result object per
   * value: a metadata reply holds dozens).
   */
  #parse(at: number): RespValue | typeof INCOMPLETE {
    if (at >= this.#end) return INCOMPLETE;
    const type = this.#buf[at];
    const eol = this.#line(at + 1);
    if (eol < 0) return INCOMPLETE;
    const after = eol + 2;
    switch (type) {
      case 0x2b: // +
        return this.#done(this.#text(at + 1, eol), after);
      case 0x2d: // -
        return this.#done(new RespErrorValue(this.#text(at + 1, eol)), after);
      case 0x3a: { // :
        let n: number | bigint | undefined = this.#integer(at + 1, eol);
        if (n === undefined) {
          const text = this.#text(at + 1, eol);
          const parsed = Number(text);
          n = Number.isSafeInteger(parsed) ? parsed : BigInt(text);
        }
        return this.#done(n, after);
      }
      case 0x5f: // _
        return this.#done(null, after);
      case 0x23: // #
        return this.#done(this.#text(at + 1, eol) === "t", after);
      case 0x24: // $
      case 0x3d: { // =
        const length = this.#count(at + 1, eol);
        if (length < 0) return this.#done(null, after);
        if (after + length + 2 > this.#end) {
          if (at === this.#start && length >= DIRECT_MIN) {
            // A large reply on its own: receive the rest straight into place.
            const bytes = new Uint8Array(length);
            const have = Math.min(this.#end - after, length + 2);
            bytes.set(this.#buf.subarray(after, after + Math.min(have, length)));
            this.#direct = { bytes, filled: 0, verbatim: type === 0x3d };
            this.#start = this.#end = 0;
            this.#direct.filled = Math.min(have, length);
            // Any CR of the terminator already here is checked as it is pushed.
            if (have > length) this.push(this.#buf.subarray(after + length, after + have));
          }
          return INCOMPLETE;
        }
        let bytes = length <= SLAB_MAX
          ? this.#small(after, length)
          : this.#buf.slice(after, after + length);
        if (type === 0x3d) bytes = bytes.subarray(4);
        return this.#done(bytes, after + length + 2);
      }
      case 0x2a: // *
      case 0x7e: // ~ (set)
      case 0x25: { // % (map: flattened)
        let count = this.#count(at + 1, eol);
        if (count < 0) return this.#done(null, after);
        if (type === 0x25) count *= 2;
        const items: RespValue[] = [];
        let end = after;
        for (let i = 0; i < count; i++) {
          const item = this.#parse(end);
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
          end = this.#parsedEnd;
        }
        return this.#done(items, end);
      }
      default:
        throw new ReplyParseError(`unexpected type byte 0x${type.toString(16)}`);
    }
  }

  #done(value: RespValue, end: number): RespValue {
    this.#parsedEnd = end;
    return value;
  }

  /** A copy of `length` (≤ SLAB_MAX) bytes at `from`, in the slab. */
  #small(from: number, length: number): Uint8Array {
    if (this.#slabAt + length > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB_SIZE);
      this.#slabAt = 0;
    }
    const at = this.#slabAt;
    const bytes = this.#slab.subarray(at, at + length);
    bytes.set(this.#buf.subarray(from, from + length));
    this.#slabAt = at + length;
    return bytes;
  }

  #text(from: number, to: number): string {
    return decoder.decode(this.#buf.subarray(from, to));
  }

  /**
   * The decimal integer in bytes [from, to) (an optional `-`, then 1–15
   * digits), read without decoding text; `undefined` for anything else.
   */
  #integer(from: number, to: number): number | undefined {
    const buf = this.#buf;
    const negative = buf[from] === 0x2d;
    let i = negative ? from + 1 : from;
    if (i >= to || to - i > 15) return undefined;
    let n = 0;
    for (; i < to; i++) {
      const digit = buf[i] - 0x30;
      if (digit < 0 || digit > 9) return undefined;
      n = n * 10 + digit;
    }
    return negative ? -n : n;
  }

  /** A length or count header in bytes [from, to). */
  #count(from: number, to: number): number {
    const n = this.#integer(from, to);
    if (n !== undefined) return n;
    const text = this.#text(from, to);
    const parsed = Number(text);
    if (!Number.isSafeInteger(parsed)) {
      throw new ReplyParseError(`bad length "${text.slice(0, 20)}"`);
    }
    return parsed;
  }
}

/**
 * Encodes one request as a RESP array of bulk strings, as a list of parts to
 * write in order (large arguments are not copied).
 */
export function encodeRequest(args: readonly (string | Uint8Array)[]): Uint8Array[] {
  // Text arguments and headers are gathered into one string and encoded at
  // once (one TextEncoder call per run of text, not two per argument).
  const parts: Uint8Array[] = [];
  let text = `*${args.length}\r\n`;
  for (const arg of args) {
    if (typeof arg === "string") {
      text += `$${utf8Length(arg)}\r\n${arg}\r\n`;
    } else {
      parts.push(encoder.encode(`${text}$${arg.length}\r\n`), arg);
      text = "\r\n";
    }
  }
  parts.push(encoder.encode(text));
  return parts;
}

const encoder = new TextEncoder();

/** The UTF-8 length of `text` without encoding it. */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
        continue;
      }
      n += 2;
    } else n += 2;
  }
  return n;
}
