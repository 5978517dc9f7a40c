/**
 * A streaming, I/O-free decoder of client requests in the Redis protocol.
 *
 * Feed it the bytes read from a connection with
 * {@linkcode RequestDecoder.push} and take complete commands with
 * {@linkcode RequestDecoder.next}. Two request forms are accepted, as in
 * Redis:
 *
 * - RESP arrays of bulk strings, `*N\r\n$len\r\n<bytes>\r\n…`, which are
 *   binary safe. Headers must end in CRLF and hold a decimal number without
 *   `+` or leading zeros (`$0` is an empty argument). Arrays of zero or a
 *   negative count (`*0`, `*-1`) are skipped, as Redis does. Every bulk string
 *   must be followed by CRLF.
 * - Inline commands: any request not starting with `*` is one line ending in
 *   LF or CRLF, split with redis-cli quoting (see {@linkcode splitArgs}).
 *   Blank lines are skipped.
 *
 * Limits ({@linkcode DecoderLimits}) keep memory bounded: a header declaring
 * too many arguments, a too large bulk string or a too large request is
 * rejected as soon as the header is read, before its data arrives. Header
 * numbers are at most 15 digits long. Memory for a large bulk string is taken
 * as its bytes arrive (up to 8 MiB at once), so a header alone cannot make
 * the decoder allocate hundreds of megabytes.
 *
 * Malformed input throws a {@linkcode ProtocolError} whose message is the
 * Redis error text (`Protocol error: invalid bulk length`); the connection
 * should reply `-ERR <message>` and close. Once it has thrown, the decoder
 * throws the same error again on every call of `next` and ignores pushes.
 *
 * Returned arguments are never written by the decoder again. Small ones
 * (copied out of the receive buffer in batches of at most 4 KiB) are views
 * into shared 16 KiB slabs, which saves an allocation per argument; a caller
 * keeping an argument for long should keep a copy (`arg.slice()`) so as not
 * to pin its slab. Larger arguments have arrays of their own.
 *
 * Performance: each byte is scanned once; parse state is kept across pushes,
 * so a bulk string arriving in many small chunks is not re-scanned. Bulk
 * strings of 16 KiB or more that are not yet complete are copied straight
 * from the pushed chunks into their own array. Consumed buffer space is
 * reused, and the internal buffer shrinks back once drained.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { splitArgs } from "./split_args.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Longest decimal number accepted in a header (exact as a double). */
const MAX_DIGITS = 15;
/** Initial size of the receive buffer. */
const INITIAL_CAPACITY = 64 * KiB;
/** A drained receive buffer larger than this is replaced by a small one. */
const SHRINK_ABOVE = 1 * MiB;
/** Incomplete bulk strings of at least this size are filled in place. */
const DIRECT_BULK_MIN = 16 * KiB;
/** Size of the slabs small arguments are copied into. */
const SLAB_SIZE = 16 * KiB;
/** At most this much of a bulk string is allocated before its bytes arrive. */
const PREALLOCATE_MAX = 8 * MiB;

/** The limits of a {@linkcode RequestDecoder}. */
export interface DecoderLimits {
  /** Longest bulk string (one argument), in bytes. */
  maxBulkBytes: number;
  /** Most arguments in one command. */
  maxArgs: number;
  /** Longest inline command line, in bytes without its LF. */
  maxInlineBytes: number;
  /** Largest RESP array request as sent on the wire, headers included. */
  maxRequestBytes: number;
}

/** The default limits: 512 MiB arguments, 1 Mi arguments, 64 KiB inline lines. */
export const DEFAULT_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxBulkBytes: 512 * MiB,
  maxArgs: 1_048_576,
  maxInlineBytes: 64 * KiB,
  maxRequestBytes: 512 * MiB + 64 * KiB,
});

/** Renders a byte for an error message: itself when printable, else `\xHH`. */
function showByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
}

/** `#args` between commands; never written (a command gets a fresh array). */
const NO_ARGS: Uint8Array[] = [];

/**
 * Decodes a stream of client requests into commands, each an array of
 * arguments (the command name first).
 *
 * @example
 * ```ts
 * const decoder = new RequestDecoder();
 * decoder.push(new TextEncoder().encode("*1\r\n$4\r\nPING\r\nECHO hi\r\n"));
 * decoder.next(); // [PING]
 * decoder.next(); // [ECHO, hi]
 * decoder.next(); // undefined: more bytes needed
 * ```
 */
export class RequestDecoder {
  readonly #limits: DecoderLimits;
  /** Received bytes; `[#start, #end)` are not consumed yet. */
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #start = 0;
  #end = 0;
  /** Inline: bytes after `#start` known to hold no LF. */
  #scanned = 0;
  /** Bulk strings still to read in the current array; 0 between commands. */
  #argsLeft = 0;
  /** Arguments read so far of the current array. */
  #args: Uint8Array[] = NO_ARGS;
  /**
   * Arguments parsed but still in the buffer: start and length pairs in
   * `[0, #spanCount)` (a count rather than `length = 0`, which would free
   * the array's storage after every command).
   */
  readonly #spans: number[] = [];
  #spanCount = 0;
  /** Small arguments are copied into slabs; `[#slabUsed, end)` is free. */
  #slab = new Uint8Array(0);
  #slabUsed = 0;
  /** Length of the bulk string whose header was read, or -1. */
  #bulkLen = -1;
  /** Declared wire size of the current array so far. */
  #requestBytes = 0;
  /** Bytes of the current array consumed from the buffer so far. */
  #pendingBytes = 0;
  /** A large bulk string being filled in place, maybe not yet at full size. */
  #direct: Uint8Array | undefined;
  #directFilled = 0;
  /** The number parsed by `#readNumberLine`. */
  #number = 0;
  #error: ProtocolError | undefined;

  /** Builds a decoder; missing limits take their {@linkcode DEFAULT_LIMITS}. */
  constructor(limits: Partial<DecoderLimits> = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * Bytes received and not yet returned as commands: the unparsed buffer plus
   * the part already parsed of an incomplete command.
   */
  get bufferedBytes(): number {
    return this.#end - this.#start + this.#pendingBytes;
  }

  /**
   * Adds received bytes. They are copied: the caller may reuse `chunk`.
   * Decoding happens in {@linkcode RequestDecoder.next}. Ignored once `next`
   * has thrown.
   */
  push(chunk: Uint8Array): void {
    if (this.#error !== undefined) return;
    let offset = 0;
    if (this.#direct !== undefined && this.#directFilled < this.#bulkLen) {
      // The receive buffer is empty while a bulk string is filled in place.
      offset = this.#fillDirect(chunk);
    }
    if (offset < chunk.length) this.#append(offset === 0 ? chunk : chunk.subarray(offset));
  }

  /**
   * Decodes the next complete command.
   *
   * The decoder never writes the returned arrays again; small arguments may
   * share an underlying buffer (see the module documentation).
   *
   * @returns the command's arguments (at least one), or `undefined` when more
   * bytes are needed.
   * @throws {ProtocolError} on malformed input or a broken limit.
   */
  next(): Uint8Array[] | undefined {
    if (this.#error !== undefined) throw this.#error;
    try {
      const command = this.#decode();
      if (this.#start === this.#end) this.#reset();
      return command;
    } catch (error) {
      if (error instanceof ProtocolError) this.#error = error;
      throw error;
    }
  }

  #decode(): Uint8Array[] | undefined {
    for (;;) {
      if (this.#argsLeft === 0) {
        const start = this.#start;
        if (start === this.#end) return undefined;
        if (this.#buf[start] !== STAR) {
          const command = this.#readInline();
          if (command === undefined) return undefined;
          if (command.length > 0) return command;
          continue;
        }
        const next = this.#readNumberLine(start + 1);
        if (next === 0) return undefined;
        if (next < 0) throw new ProtocolError("invalid multibulk length");
        const count = this.#number;
        this.#start = next;
        if (count <= 0) continue;
        if (count > this.#limits.maxArgs) throw new ProtocolError("too many arguments");
        this.#argsLeft = count;
        this.#args = [];
        this.#requestBytes = next - start;
        this.#pendingBytes = next - start;
      }
      if (!this.#readBulks()) return undefined;
      const command = this.#args;
      this.#args = NO_ARGS;
      this.#pendingBytes = 0;
      this.#requestBytes = 0;
      return command;
    }
  }

  /** Reads bulk strings of the current array; false when more bytes are needed. */
  #readBulks(): boolean {
    const complete = this.#scanBulks();
    // Spans point into the buffer, which `push` may move: copy them out now.
    this.#takeSpans();
    return complete;
  }

  #scanBulks(): boolean {
    const limits = this.#limits;
    const spans = this.#spans;
    while (this.#argsLeft > 0) {
      const buf = this.#buf;
      let start = this.#start;
      if (this.#bulkLen < 0) {
        if (start === this.#end) return false;
        if (buf[start] !== DOLLAR) {
          throw new ProtocolError(`expected '$', got '${showByte(buf[start])}'`);
        }
        const next = this.#readNumberLine(start + 1);
        if (next === 0) return false;
        const len = this.#number;
        if (next < 0 || len < 0) throw new ProtocolError("invalid bulk length");
        if (len > limits.maxBulkBytes) {
          throw new ProtocolError(`bulk string exceeds the limit of ${limits.maxBulkBytes} bytes`);
        }
        const wireBytes = next - start + len + 2;
        if (this.#requestBytes + wireBytes > limits.maxRequestBytes) {
          throw new ProtocolError(`request exceeds the limit of ${limits.maxRequestBytes} bytes`);
        }
        this.#requestBytes += wireBytes;
        this.#pendingBytes += next - start;
        this.#start = start = next;
        this.#bulkLen = len;
      }
      const len = this.#bulkLen;
      const available = this.#end - start;
      if (this.#direct !== undefined) {
        if (this.#directFilled < len || available < 2) return false;
        this.#checkTerminator(start);
        this.#takeSpans();
        this.#args.push(this.#direct);
        this.#direct = undefined;
        this.#directFilled = 0;
        this.#start = start + 2;
      } else if (available >= len + 2) {
        this.#checkTerminator(start + len);
        spans[this.#spanCount++] = start;
        spans[this.#spanCount++] = len;
        this.#pendingBytes += len;
        this.#start = start + len + 2;
      } else if (len >= DIRECT_BULK_MIN) {
        const taken = Math.min(available, len);
        const direct = new Uint8Array(Math.min(len, Math.max(taken, PREALLOCATE_MAX)));
        direct.set(buf.subarray(start, start + taken));
        this.#direct = direct;
        this.#directFilled = taken;
        this.#pendingBytes += taken;
        this.#start = start + taken;
        continue;
      } else {
        return false;
      }
      this.#pendingBytes += 2;
      this.#bulkLen = -1;
      this.#argsLeft--;
    }
    return true;
  }

  /**
   * Copies the arguments recorded in `#spans` out of the buffer into `#args`,
   * all in one block: a part of the current slab when small, else a new
   * array. Each argument is a view of the block.
   */
  #takeSpans(): void {
    const spans = this.#spans;
    const n = this.#spanCount;
    if (n === 0) return;
    const buf = this.#buf;
    const first = spans[0];
    const size = spans[n - 2] + spans[n - 1] - first;
    let block: Uint8Array;
    let base: number;
    if (size > SLAB_SIZE >>> 2) {
      block = buf.slice(first, first + size);
      base = -first;
    } else {
      if (this.#slabUsed + size > this.#slab.length) {
        this.#slab = new Uint8Array(SLAB_SIZE);
        this.#slabUsed = 0;
      }
      block = this.#slab;
      base = this.#slabUsed - first;
      if (size <= 64) {
        for (let i = first, j = this.#slabUsed; i < first + size; i++, j++) block[j] = buf[i];
      } else {
        block.set(buf.subarray(first, first + size), this.#slabUsed);
      }
      this.#slabUsed += size;
    }
    for (let i = 0; i < n; i += 2) {
      const offset = spans[i] + base;
      this.#args.push(block.subarray(offset, offset + spans[i + 1]));
    }
    this.#spanCount = 0;
  }

  #checkTerminator(at: number): void {
    if (this.#buf[at] !== CR || this.#buf[at + 1] !== LF) {
      throw new ProtocolError("expected CRLF after bulk string");
    }
  }

  /** Reads one inline line: its arguments, or undefined when incomplete. */
  #readInline(): Uint8Array[] | undefined {
    const buf = this.#buf;
    const start = this.#start;
    const end = this.#end;
    const max = this.#limits.maxInlineBytes;
    const from = start + this.#scanned;
    const found = buf.subarray(from, end).indexOf(LF);
    if (found < 0) {
      if (end - start > max) throw new ProtocolError("too big inline request");
      this.#scanned = end - start;
      return undefined;
    }
    const newline = from + found;
    if (newline - start > max) throw new ProtocolError("too big inline request");
    this.#scanned = 0;
    this.#start = newline + 1;
    const lineEnd = newline > start && buf[newline - 1] === CR ? newline - 1 : newline;
    const args = splitArgs(buf.subarray(start, lineEnd));
    if (args === undefined) throw new ProtocolError("unbalanced quotes in request");
    if (args.length > this.#limits.maxArgs) throw new ProtocolError("too many arguments");
    return args;
  }

  /**
   * Parses `-?digits\r\n` at `pos` into `#number`.
   *
   * @returns the index after the LF, 0 when more bytes are needed, or -1 when
   * malformed.
   */
  #readNumberLine(pos: number): number {
    const buf = this.#buf;
    const end = this.#end;
    let i = pos;
    const negative = i < end && buf[i] === MINUS;
    if (negative) i++;
    const digitsStart = i;
    let value = 0;
    while (i < end) {
      const c = buf[i];
      if (c < ZERO || c > NINE) break;
      value = value * 10 + (c - ZERO);
      i++;
      if (i - digitsStart > MAX_DIGITS) return -1;
    }
    if (i === end) return 0;
    const digits = i - digitsStart;
    if (digits === 0 || buf[i] !== CR) return -1;
    if (digits > 1 && buf[digitsStart] === ZERO) return -1;
    if (negative && value === 0) return -1;
    if (i + 1 === end) return 0;
    if (buf[i + 1] !== LF) return -1;
    this.#number = negative ? -value : value;
    return i + 2;
  }

  /** Copies the start of `chunk` into the bulk string filled in place. */
  #fillDirect(chunk: Uint8Array): number {
    const len = this.#bulkLen;
    const filled = this.#directFilled;
    const n = Math.min(chunk.length, len - filled);
    let direct = this.#direct as Uint8Array;
    if (direct.length < filled + n) {
      const grown = new Uint8Array(Math.min(len, Math.max(direct.length * 2, filled + n)));
      grown.set(direct.subarray(0, filled));
      this.#direct = direct = grown;
    }
    direct.set(n === chunk.length ? chunk : chunk.subarray(0, n), filled);
    this.#directFilled = filled + n;
    this.#pendingBytes += n;
    return n;
  }

  /** Appends to the receive buffer, compacting or growing it as needed. */
  #append(bytes: Uint8Array): void {
    const n = bytes.length;
    if (this.#end + n > this.#buf.length) {
      const used = this.#end - this.#start;
      const capacity = this.#buf.length;
      if (used + n <= capacity >>> 1) {
        // Reclaiming consumed space frees at least half the buffer.
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(used + n, capacity * 2));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      }
      this.#start = 0;
      this.#end = used;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += n;
  }

  /** Empties the drained receive buffer, shrinking it when it grew large. */
  #reset(): void {
    this.#start = 0;
    this.#end = 0;
    this.#scanned = 0;
    if (this.#buf.length > SHRINK_ABOVE) this.#buf = new Uint8Array(INITIAL_CAPACITY);
  }
}
