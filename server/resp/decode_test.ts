import assert from "node:assert/strict";
import { type DecoderLimits, DEFAULT_LIMITS, RequestDecoder } from "./decode.ts";
import { ProtocolError } from "./errors.ts";
import { splitArgs } from "./split_args.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes of a binary string (each char code is a byte). */
function raw(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Decodes everything from `input` pushed at once, as text. */
function decodeAll(input: string | Uint8Array, limits?: Partial<DecoderLimits>): string[][] {
  const d = new RequestDecoder(limits);
  d.push(typeof input === "string" ? bytes(input) : input);
  const commands: string[][] = [];
  for (let command = d.next(); command !== undefined; command = d.next()) {
    commands.push(command.map((arg) => decoder.decode(arg)));
  }
  return commands;
}

function assertProtocolError(fn: () => unknown, detail: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
    assert.equal(error.name, "ProtocolError");
    assert.equal(error.detail, detail);
    assert.equal(error.message, `Protocol error: ${detail}`);
    return true;
  });
}

/** Pushes `input` and expects `next` to throw `detail`. */
function assertRejects(input: string, detail: string, limits?: Partial<DecoderLimits>): void {
  const d = new RequestDecoder(limits);
  d.push(raw(input));
  assertProtocolError(() => {
    while (d.next() !== undefined);
  }, detail);
}

Deno.test("RequestDecoder decodes RESP arrays of bulk strings", () => {
  assert.deepEqual(decodeAll("*1\r\n$4\r\nPING\r\n"), [["PING"]]);
  assert.deepEqual(decodeAll("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$0\r\n\r\n"), [["SET", "a", ""]]);
  assert.deepEqual(
    decodeAll("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n"),
    [["ECHO", "hi"], ["PING"]],
  );
});

Deno.test("RequestDecoder keeps bulk strings binary safe", () => {
  const d = new RequestDecoder();
  d.push(raw("*2\r\n$3\r\nSET\r\n$6\r\n\r\n\x00\xff\n\r\r\n"));
  assert.deepEqual(d.next(), [bytes("SET"), Uint8Array.of(13, 10, 0, 255, 10, 13)]);
  assert.equal(d.next(), undefined);
});

Deno.test("RequestDecoder returns undefined until a command is complete", () => {
  const input = bytes("*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n");
  for (let split = 0; split <= input.length; split++) {
    const d = new RequestDecoder();
    d.push(input.subarray(0, split));
    const early = d.next();
    if (split < input.length) {
      assert.equal(early, undefined);
      assert.equal(d.bufferedBytes, split);
      d.push(input.subarray(split));
      assert.deepEqual(d.next(), [bytes("ECHO"), bytes("hello")]);
    } else {
      assert.deepEqual(early, [bytes("ECHO"), bytes("hello")]);
    }
    assert.equal(d.next(), undefined);
    assert.equal(d.bufferedBytes, 0);
  }
});

Deno.test("RequestDecoder decodes byte-by-byte input", () => {
  const input = bytes('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nPING\r\n*0\r\nGET "a b"\n');
  const d = new RequestDecoder();
  const commands: string[][] = [];
  for (const byte of input) {
    d.push(Uint8Array.of(byte));
    for (let c = d.next(); c !== undefined; c = d.next()) {
      commands.push(c.map((arg) => decoder.decode(arg)));
    }
  }
  assert.deepEqual(commands, [["SET", "key", "value"], ["PING"], ["GET", "a b"]]);
});

Deno.test("RequestDecoder does not change returned arrays or keep the caller's chunk", () => {
  const d = new RequestDecoder();
  const chunk = bytes("*1\r\n$3\r\nfoo\r\n");
  d.push(chunk);
  chunk.fill(0);
  const first = d.next();
  assert.deepEqual(first, [bytes("foo")]);
  for (let i = 0; i < 10_000; i++) d.push(bytes("*1\r\n$3\r\nbar\r\n"));
  while (d.next() !== undefined);
  assert.deepEqual(first, [bytes("foo")]);
});

Deno.test("RequestDecoder skips empty and null arrays", () => {
  assert.deepEqual(decodeAll("*0\r\n*-1\r\n*-7\r\n*1\r\n$1\r\nx\r\n*0\r\n"), [["x"]]);
});

Deno.test("RequestDecoder decodes inline commands", () => {
  assert.deepEqual(decodeAll("PING\r\n"), [["PING"]]);
  assert.deepEqual(decodeAll("PING\n"), [["PING"]]);
  assert.deepEqual(decodeAll('SET a "b c"\r\nGET a\n'), [["SET", "a", "b c"], ["GET", "a"]]);
  assert.deepEqual(decodeAll("  SET\t a   b  \r\n"), [["SET", "a", "b"]]);
  assert.deepEqual(decodeAll("SET a b\r\r\n"), [["SET", "a", "b"]]);
});

Deno.test("RequestDecoder skips empty inline lines", () => {
  assert.deepEqual(decodeAll("\r\n\n   \r\nPING\r\n\n"), [["PING"]]);
});

Deno.test("RequestDecoder waits for the end of an inline line", () => {
  const d = new RequestDecoder();
  d.push(bytes("SET a"));
  assert.equal(d.next(), undefined);
  d.push(bytes(" b"));
  assert.equal(d.next(), undefined);
  d.push(bytes("\r"));
  assert.equal(d.next(), undefined);
  d.push(bytes("\n"));
  assert.deepEqual(d.next(), [bytes("SET"), bytes("a"), bytes("b")]);
});

Deno.test("splitArgs follows redis-cli quoting", () => {
  const split = (line: string) => splitArgs(raw(line))?.map((a) => Array.from(a));
  const codes = (...args: string[]) => args.map((a) => Array.from(raw(a)));
  assert.deepEqual(split(""), []);
  assert.deepEqual(split("  \t "), []);
  assert.deepEqual(split("a b"), codes("a", "b"));
  assert.deepEqual(split('"a b" c'), codes("a b", "c"));
  assert.deepEqual(split('""'), codes(""));
  assert.deepEqual(split("''"), codes(""));
  assert.deepEqual(split('"\\n\\r\\t\\b\\a\\\\\\"\\q"'), codes('\n\r\t\b\x07\\"q'));
  assert.deepEqual(split('"\\x41\\x7a\\x00\\xFF"'), codes("Az\x00\xff"));
  assert.deepEqual(split('"\\x4g"'), codes("x4g"));
  assert.deepEqual(split("'a \"b\" \\n \\' c'"), codes('a "b" \\n \' c'));
  assert.deepEqual(split('a"b c"'), codes("ab c"));
  assert.deepEqual(split("a'b c'"), codes("ab c"));
  assert.deepEqual(split('a\\"b'), undefined); // a quote opens after the backslash
  assert.deepEqual(split("a\\b"), codes("a\\b"));
  assert.deepEqual(split("a\x0bb"), codes("a\x0bb")); // \v does not end an argument
  assert.deepEqual(split("a\x00 b"), codes("a")); // NUL ends the line
  assert.deepEqual(split('"abc'), undefined);
  assert.deepEqual(split("'abc"), undefined);
  assert.deepEqual(split('"a"b'), undefined);
  assert.deepEqual(split("'a'b"), undefined);
  assert.deepEqual(split('"a\\"'), undefined);
  assert.deepEqual(split('"a"\x0bb'), codes("a", "b"));
});

Deno.test("RequestDecoder rejects unbalanced inline quotes", () => {
  assertRejects('SET a "b\r\n', "unbalanced quotes in request");
  assertRejects("SET a 'b'c\r\n", "unbalanced quotes in request");
});

Deno.test("RequestDecoder rejects malformed RESP arrays", () => {
  assertRejects("*x\r\n", "invalid multibulk length");
  assertRejects("*\r\n", "invalid multibulk length");
  assertRejects("*01\r\n", "invalid multibulk length");
  assertRejects("*-0\r\n", "invalid multibulk length");
  assertRejects("*1\n", "invalid multibulk length");
  assertRejects("*1\rx", "invalid multibulk length");
  assertRejects("*1 \r\n", "invalid multibulk length");
  assertRejects("*1234567890123456\r\n", "invalid multibulk length");
  assertRejects("*1\r\n+PING\r\n", "expected '$', got '+'");
  assertRejects("*1\r\n\n", "expected '$', got '\\x0a'");
  assertRejects("*1\r\n$x\r\n", "invalid bulk length");
  assertRejects("*1\r\n$-1\r\n", "invalid bulk length");
  assertRejects("*1\r\n$\r\n", "invalid bulk length");
  assertRejects("*1\r\n$007\r\n", "invalid bulk length");
  assertRejects("*1\r\n$4\nPING\r\n", "invalid bulk length");
  assertRejects("*1\r\n$4\r\nPINGx\r\n", "expected CRLF after bulk string");
  assertRejects("*1\r\n$4\r\nPING\rx", "expected CRLF after bulk string");
});

Deno.test("RequestDecoder rejects a digit string as soon as it is too long", () => {
  const d = new RequestDecoder();
  d.push(bytes("*1\r\n$1234567890123456"));
  assertProtocolError(() => d.next(), "invalid bulk length");
});

Deno.test("RequestDecoder keeps throwing after a protocol error", () => {
  const d = new RequestDecoder();
  d.push(bytes("*x\r\n"));
  assertProtocolError(() => d.next(), "invalid multibulk length");
  d.push(bytes("PING\r\n"));
  assertProtocolError(() => d.next(), "invalid multibulk length");
});

Deno.test("RequestDecoder rejects too many arguments from the header alone", () => {
  assertRejects("*4\r\n", "too many arguments", { maxArgs: 3 });
  assertRejects(`*${DEFAULT_LIMITS.maxArgs + 1}\r\n`, "too many arguments");
  assert.deepEqual(decodeAll("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", { maxArgs: 3 }), [[
    "a",
    "b",
    "c",
  ]]);
  assertRejects("a b c d\r\n", "too many arguments", { maxArgs: 3 });
});

Deno.test("RequestDecoder rejects a too large bulk string from its header alone", () => {
  assertRejects("*1\r\n$11\r\n", "bulk string exceeds the limit of 10 bytes", { maxBulkBytes: 10 });
  assertRejects(
    `*1\r\n$${DEFAULT_LIMITS.maxBulkBytes + 1}\r\n`,
    `bulk string exceeds the limit of ${DEFAULT_LIMITS.maxBulkBytes} bytes`,
  );
  assert.deepEqual(decodeAll("*1\r\n$10\r\n0123456789\r\n", { maxBulkBytes: 10 }), [[
    "0123456789",
  ]]);
});

Deno.test("RequestDecoder rejects a too large request from its headers alone", () => {
  // "*2\r\n" (4) + "$3\r\nabc\r\n" (9) + "$3\r\nabc\r\n" (9) = 22 bytes.
  const ok = "*2\r\n$3\r\nabc\r\n$3\r\nabc\r\n";
  assert.deepEqual(decodeAll(ok, { maxRequestBytes: 22 }), [["abc", "abc"]]);
  assertRejects("*2\r\n$3\r\nabc\r\n$3\r\n", "request exceeds the limit of 21 bytes", {
    maxRequestBytes: 21,
  });
  const limit = DEFAULT_LIMITS.maxRequestBytes;
  assertRejects(
    `*1\r\n$${limit}\r\n`,
    `request exceeds the limit of ${limit} bytes`,
    { maxBulkBytes: 2 * limit },
  );
  // The largest argument fits in the default request limit.
  const d = new RequestDecoder();
  d.push(bytes(`*2\r\n$3\r\nSET\r\n$${DEFAULT_LIMITS.maxBulkBytes}\r\n`));
  assert.equal(d.next(), undefined);
});

Deno.test("RequestDecoder rejects a too long inline line", () => {
  const limits = { maxInlineBytes: 8 };
  assert.deepEqual(decodeAll("12345678\n", limits), [["12345678"]]);
  assertRejects("123456789", "too big inline request", limits);
  assertRejects("123456789\n", "too big inline request", limits);
  const d = new RequestDecoder();
  d.push(new Uint8Array(DEFAULT_LIMITS.maxInlineBytes).fill(0x61));
  assert.equal(d.next(), undefined);
  d.push(bytes("a"));
  assertProtocolError(() => d.next(), "too big inline request");
});

Deno.test("RequestDecoder fills a large bulk string in place", () => {
  const size = 3 * 1024 * 1024 + 5;
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 7) & 0xff;
  const d = new RequestDecoder();
  d.push(bytes(`*2\r\n$3\r\nSET\r\n$${size}\r\n`));
  d.push(payload.subarray(0, 100));
  assert.equal(d.next(), undefined);
  for (let offset = 100; offset < size; offset += 65536) {
    d.push(payload.subarray(offset, Math.min(size, offset + 65536)));
    assert.equal(d.next(), undefined);
  }
  assert.equal(d.bufferedBytes, 4 + 9 + `$${size}\r\n`.length + size);
  d.push(bytes("\r"));
  assert.equal(d.next(), undefined);
  d.push(bytes("\n*1\r\n$4\r\nPING\r\n"));
  const command = d.next();
  assert.ok(command !== undefined);
  assert.equal(command.length, 2);
  assert.deepEqual(command[1], payload);
  assert.deepEqual(d.next(), [bytes("PING")]);
  assert.equal(d.bufferedBytes, 0);
});

Deno.test("RequestDecoder grows a bulk string larger than the preallocation", () => {
  const size = 20 * 1024 * 1024;
  const d = new RequestDecoder();
  d.push(bytes(`*1\r\n$${size}\r\n`));
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 20; i++) {
    d.push(chunk.fill(i));
    assert.equal(d.next(), undefined);
  }
  d.push(bytes("\r\n"));
  const command = d.next();
  assert.ok(command !== undefined);
  assert.equal(command[0].length, size);
  for (let i = 0; i < 20; i++) assert.equal(command[0][i * 1024 * 1024 + 17], i);
});

Deno.test("RequestDecoder does not grow with total traffic", () => {
  const d = new RequestDecoder();
  const command = bytes("*3\r\n$3\r\nSET\r\n$7\r\nkey:123\r\n$5\r\nvalue\r\n");
  const batch = new Uint8Array(command.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(command, i * command.length);
  let count = 0;
  for (let round = 0; round < 200; round++) {
    for (let offset = 0; offset < batch.length; offset += 4093) {
      d.push(batch.subarray(offset, offset + 4093));
      while (d.next() !== undefined) count++;
      assert.ok(d.bufferedBytes < command.length);
    }
  }
  assert.equal(count, 200_000);
});

Deno.test("RequestDecoder takes a 1 MiB bulk string in 1-byte to 8-byte chunks in linear time", () => {
  const size = 1024 * 1024;
  const input = new Uint8Array(size + 64);
  const header = bytes(`*1\r\n$${size}\r\n`);
  input.set(header);
  input.set(bytes("\r\n"), header.length + size);
  const total = header.length + size + 2;
  const d = new RequestDecoder();
  let command: Uint8Array[] | undefined;
  const started = performance.now();
  for (let offset = 0, step = 1; offset < total; offset += step, step = (step % 8) + 1) {
    d.push(input.subarray(offset, Math.min(total, offset + step)));
    command = d.next() ?? command;
  }
  const elapsed = performance.now() - started;
  assert.ok(command !== undefined);
  assert.equal(command[0].length, size);
  assert.ok(elapsed < 2000, `took ${elapsed} ms`);
});
