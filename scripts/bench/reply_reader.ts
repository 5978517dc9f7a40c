/**
 * Incremental parser of RESP2 replies as a server sends them: push bytes as
 * they arrive, take complete replies out. No I/O.
 *
 * @module
 */

/** One RESP2 reply. `bulk` and `array` hold `null` for the null reply. */
export type BenchReply =
  | { kind: "simple"; value: string }
  | { kind: "error"; message: string }
  | { kind: "int"; value: number }
  | { kind: "bulk"; value: Uint8Array | null }
  | { kind: "array"; items: BenchReply[] | null };

/** The server sent bytes that are not a RESP2 reply. */
export class ReplyParseError extends Error {
  /** Builds the error with a message such as `Cannot parse reply "x": reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ReplyParseError";
  }
}

const CR = 0x0d;
const LF = 0x0a;
const decoder = new TextDecoder();

interface Parsed {
  reply: BenchReply;
  end: number;
}

/**
 * Buffers bytes and parses complete replies.
 *
 * @example
 * ```ts
 * const reader = new ReplyReader();
 * reader.push(new TextEncoder().encode("+OK\r\n:4"));
 * reader.next(); // { kind: "simple", value: "OK" }
 * reader.next(); // undefined: ":4" is not complete yet
 * ```
 */
export class ReplyReader {
  #buffer = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  /** Appends received bytes (copied). */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      const size = Math.max(this.#buffer.length, (live + chunk.length) * 2);
      if (size > this.#buffer.length) {
        const next = new Uint8Array(size);
        next.set(this.#buffer.subarray(this.#start, this.#end), 0);
        this.#buffer = next;
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next complete reply, or undefined when more bytes are needed. */
  next(): BenchReply | undefined {
    const parsed = this.#parse(this.#start);
    if (parsed === undefined) return undefined;
    this.#start = parsed.end;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return parsed.reply;
  }

  /** Bytes received but not yet returned as replies. */
  get pending(): number {
    return this.#end - this.#start;
  }

  #line(from: number): { text: string; end: number } | undefined {
    for (let i = from; i + 1 < this.#end; i++) {
      if (this.#buffer[i] === CR && this.#buffer[i + 1] === LF) {
        return { text: decoder.decode(this.#buffer.subarray(from, i)), end: i + 2 };
      }
    }
    return undefined;
  }

  #parse(at: number): Parsed | undefined {
    if (at >= this.#end) return undefined;
    const type = String.fromCharCode(this.#buffer[at]);
    const line = this.#line(at + 1);
    if (line === undefined) return undefined;
    switch (type) {
      case "+":
        return { reply: { kind: "simple", value: line.text }, end: line.end };
      case "-":
        return { reply: { kind: "error", message: line.text }, end: line.end };
      case ":":
        return { reply: { kind: "int", value: integer(line.text) }, end: line.end };
      case "$": {
        const length = integer(line.text);
        if (length === -1) return { reply: { kind: "bulk", value: null }, end: line.end };
        if (length < 0) throw new ReplyParseError(`Cannot parse reply "$${line.text}": bad length`);
        const end = line.end + length + 2;
        if (end > this.#end) return undefined;
        if (this.#buffer[end - 2] !== CR || this.#buffer[end - 1] !== LF) {
          throw new ReplyParseError(`Cannot parse reply "$${line.text}": no CRLF after the data`);
        }
        const value = this.#buffer.slice(line.end, end - 2);
        return { reply: { kind: "bulk", value }, end };
      }
      case "*": {
        const count = integer(line.text);
        if (count === -1) return { reply: { kind: "array", items: null }, end: line.end };
        if (count < 0) throw new ReplyParseError(`Cannot parse reply "*${line.text}": bad count`);
        const items: BenchReply[] = [];
        let end = line.end;
        for (let i = 0; i < count; i++) {
          const item = this.#parse(end);
          if (item === undefined) return undefined;
          items.push(item.reply);
          end = item.end;
        }
        return { reply: { kind: "array", items }, end };
      }
      default:
        throw new ReplyParseError(
          `Cannot parse reply "${type}${line.text.slice(0, 40)}": unknown type byte`,
        );
    }
  }
}

function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new ReplyParseError(`Cannot parse integer "${text}"`);
  return Number(text);
}
