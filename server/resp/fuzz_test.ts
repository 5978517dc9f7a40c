import assert from "node:assert/strict";
import { type DecoderLimits, DEFAULT_LIMITS, RequestDecoder } from "./decode.ts";
import { ProtocolError } from "./errors.ts";

const encoder = new TextEncoder();

/** A small seeded PRNG (mulberry32) returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number, alphabet?: Uint8Array): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = alphabet ? alphabet[this.int(alphabet.length)] : this.int(256);
    }
    return out;
  }
}

const PROTOCOL_BYTES = encoder.encode("*$\r\n\r\n-0123456789 \t\"'\\xaZ\x00");
const PLAIN = /^[A-Za-z0-9:_.-]+$/;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A large argument: a repeated byte with a few random ones, CR and LF. */
function largeArg(random: Random, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(random.int(256));
  for (let i = 0; i < 16; i++) out[random.int(size)] = random.pick([13, 10, random.int(256)]);
  return out;
}

function randomArg(random: Random): Uint8Array {
  const roll = random.int(10_000);
  if (roll < 1000) return new Uint8Array(0);
  if (roll < 2500) return random.bytes(1 + random.int(6), encoder.encode("\r\n\x00ab"));
  if (roll < 6000) return random.bytes(1 + random.int(20), encoder.encode("abcdefgh:_-123"));
  if (roll < 9950) return random.bytes(random.int(300));
  if (roll < 9990) return largeArg(random, 16 * 1024 + random.int(200 * 1024));
  if (roll < 9999) return largeArg(random, 1024 * 1024 + random.int(1000));
  // Beyond the 8 MiB preallocation.
  return largeArg(random, 9 * 1024 * 1024 + random.int(1000));
}

function encodeResp(args: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    parts.push(encoder.encode(`$${arg.length}\r\n`), arg, encoder.encode("\r\n"));
  }
  return concat(parts);
}

/** Quotes one argument for an inline command. */
function quoteInline(random: Random, arg: Uint8Array): string {
  const text = String.fromCharCode(...arg);
  if (PLAIN.test(text) && !random.chance(0.2)) return text;
  const singleQuotable = arg.every((c) => c >= 0x20 && c < 0x7f && c !== 0x5c && c !== 0x27);
  if (singleQuotable && random.chance(0.5)) return `'${text}'`;
  let quoted = '"';
  for (const c of arg) {
    if (c === 0x22 || c === 0x5c) quoted += `\\${String.fromCharCode(c)}`;
    else if (c === 0x0a && random.chance(0.5)) quoted += "\\n";
    else if (c >= 0x20 && c < 0x7f) quoted += String.fromCharCode(c);
    else {
      const hex = c.toString(16).padStart(2, "0");
      quoted += `\\x${random.chance(0.5) ? hex : hex.toUpperCase()}`;
    }
  }
  return `${quoted}"`;
}

function encodeInline(random: Random, args: readonly Uint8Array[]): Uint8Array {
  const separator = () => random.pick([" ", "  ", "\t", " \t "]);
  const lead = random.chance(0.2) ? separator() : "";
  const trail = random.chance(0.2) ? separator() : "";
  const line = lead + args.map((arg) => quoteInline(random, arg)).join(separator()) + trail;
  return Uint8Array.from(line + random.pick(["\r\n", "\n"]), (c) => c.charCodeAt(0));
}

/** Splits `bytes` at random positions. */
function randomChunks(random: Random, bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  // Tiny chunks for small inputs only, to keep the run short.
  const style = bytes.length < 100_000 ? random.int(3) : 1 + random.int(2);
  let offset = 0;
  while (offset < bytes.length) {
    const size = style === 0
      ? 1 + random.int(8)
      : style === 1
      ? 1 + random.int(4096)
      : random.chance(0.5)
      ? 1 + random.int(16)
      : 1 + random.int(300_000);
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** The most a drained decoder may hold with these limits. */
function bufferBound(limits: DecoderLimits): number {
  return Math.max(limits.maxInlineBytes, limits.maxRequestBytes) + 20;
}

/** Pushes `chunks`, draining after each; returns the commands or the error. */
function decodeChunks(
  chunks: readonly Uint8Array[],
  limits: Partial<DecoderLimits> = {},
): { commands: Uint8Array[][]; error?: ProtocolError } {
  const decoder = new RequestDecoder(limits);
  const bound = bufferBound({ ...DEFAULT_LIMITS, ...limits });
  const commands: Uint8Array[][] = [];
  let pushed = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    pushed += chunk.length;
    try {
      for (let command = decoder.next(); command !== undefined; command = decoder.next()) {
        commands.push(command);
        assert.ok(command.length > 0, "a command has arguments");
        assert.ok(commands.length <= pushed, "each command consumes input");
      }
    } catch (error) {
      if (error instanceof ProtocolError) return { commands, error };
      throw error;
    }
    assert.ok(
      decoder.bufferedBytes <= bound,
      `buffered ${decoder.bufferedBytes} bytes, more than ${bound}`,
    );
  }
  return { commands };
}

Deno.test("fuzz: random RESP and inline commands split at random positions", () => {
  const random = new Random(0x5eed);
  for (let iteration = 0; iteration < 3000; iteration++) {
    const expected: Uint8Array[][] = [];
    const parts: Uint8Array[] = [];
    const count = 1 + random.int(12);
    for (let i = 0; i < count; i++) {
      const roll = random.int(20);
      if (roll === 0) {
        parts.push(encoder.encode(random.pick(["*0\r\n", "*-1\r\n", "\r\n", "\n", "  \r\n"])));
        continue;
      }
      const argc = random.chance(0.05) ? 1 + random.int(200) : 1 + random.int(6);
      const args = Array.from({ length: argc }, () => randomArg(random));
      const inline = roll < 5 && args.every((arg) => arg.length < 200);
      if (inline) {
        args[0] = random.bytes(1 + random.int(8), encoder.encode("ABCxyz"));
        parts.push(encodeInline(random, args));
      } else {
        parts.push(encodeResp(args));
      }
      expected.push(args);
    }
    const { commands, error } = decodeChunks(randomChunks(random, concat(parts)));
    assert.equal(error, undefined, `iteration ${iteration}: ${error?.message}`);
    assert.equal(commands.length, expected.length, `iteration ${iteration}`);
    for (let c = 0; c < commands.length; c++) {
      assert.equal(commands[c].length, expected[c].length, `iteration ${iteration} command ${c}`);
      for (let a = 0; a < commands[c].length; a++) {
        assert.ok(
          sameBytes(commands[c][a], expected[c][a]),
          `iteration ${iteration} command ${c} argument ${a}`,
        );
      }
    }
  }
});

Deno.test("fuzz: garbage decodes or throws ProtocolError within limits", () => {
  const random = new Random(0xbad);
  const limits: DecoderLimits = {
    maxBulkBytes: 64,
    maxArgs: 8,
    maxInlineBytes: 32,
    maxRequestBytes: 200,
  };
  let errors = 0;
  for (let iteration = 0; iteration < 3000; iteration++) {
    let input: Uint8Array;
    if (random.chance(0.5)) {
      input = random.bytes(1 + random.int(400), random.chance(0.8) ? PROTOCOL_BYTES : undefined);
    } else {
      // A mutated valid stream.
      const parts: Uint8Array[] = [];
      for (let i = random.int(5); i >= 0; i--) {
        const args = Array.from({ length: 1 + random.int(4) }, () => random.bytes(random.int(40)));
        parts.push(random.chance(0.7) ? encodeResp(args) : encodeInline(random, args));
      }
      const bytes = Array.from(concat(parts));
      for (let m = 1 + random.int(4); m > 0; m--) {
        const at = random.int(bytes.length + 1);
        const roll = random.int(3);
        if (roll === 0) bytes.splice(at, 1);
        else if (roll === 1) bytes.splice(at, 0, PROTOCOL_BYTES[random.int(PROTOCOL_BYTES.length)]);
        else bytes[at] = random.int(256);
      }
      input = Uint8Array.from(bytes);
    }
    const useLimits = random.chance(0.7) ? limits : {};
    const { error } = decodeChunks(randomChunks(random, input), useLimits);
    if (error !== undefined) errors++;
  }
  assert.ok(errors > 100, `only ${errors} inputs were rejected`);
});

Deno.test("fuzz: headers alone never buffer more than the limits allow", () => {
  const random = new Random(42);
  const limits: DecoderLimits = {
    maxBulkBytes: 1000,
    maxArgs: 10,
    maxInlineBytes: 100,
    maxRequestBytes: 3000,
  };
  for (let iteration = 0; iteration < 500; iteration++) {
    const count = 1 + random.int(20);
    const parts: Uint8Array[] = [encoder.encode(`*${count}\r\n`)];
    for (let i = 0; i < count; i++) {
      const len = random.int(1500);
      parts.push(encoder.encode(`$${len}\r\n`), random.bytes(len), encoder.encode("\r\n"));
    }
    const { error } = decodeChunks(randomChunks(random, concat(parts)), limits);
    if (error !== undefined) {
      assert.ok(
        ["too many arguments", "request exceeds the limit of 3000 bytes"].includes(error.detail) ||
          error.detail.startsWith("bulk string exceeds"),
        error.detail,
      );
    }
  }
});
