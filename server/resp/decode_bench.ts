/**
 * Throughput of {@linkcode RequestDecoder}, input pushed in 64 KiB chunks:
 *
 * - 1,000,000 small commands `SET key:N value`;
 * - 200 commands `SET key:N <1 MiB>`.
 *
 * `deno bench -A server/resp/` reports the time of one pass;
 * `deno run server/resp/decode_bench.ts` prints commands/s and MB/s.
 *
 * @module
 */

import { RequestDecoder } from "./decode.ts";

const CHUNK = 64 * 1024;
const SMALL_COMMANDS = 1_000_000;
const LARGE_COMMANDS = 200;
const LARGE_SIZE = 1024 * 1024;

const encoder = new TextEncoder();

function encodeCommand(args: readonly Uint8Array[]): Uint8Array[] {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    parts.push(encoder.encode(`$${arg.length}\r\n`), arg, encoder.encode("\r\n"));
  }
  return parts;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function chunked(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += CHUNK) {
    chunks.push(bytes.subarray(offset, offset + CHUNK));
  }
  return chunks;
}

function smallInput(): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const set = encoder.encode("SET");
  const value = encoder.encode("value");
  for (let i = 0; i < SMALL_COMMANDS; i++) {
    parts.push(...encodeCommand([set, encoder.encode(`key:${i % 1000}`), value]));
  }
  return chunked(concat(parts));
}

function largeInput(): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const set = encoder.encode("SET");
  const value = new Uint8Array(LARGE_SIZE).fill(0x78);
  for (let i = 0; i < LARGE_COMMANDS; i++) {
    parts.push(...encodeCommand([set, encoder.encode(`key:${i}`), value]));
  }
  return chunked(concat(parts));
}

/** Decodes all chunks; returns the number of commands. */
function decodeAll(chunks: readonly Uint8Array[]): number {
  const decoder = new RequestDecoder();
  let count = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    while (decoder.next() !== undefined) count++;
  }
  return count;
}

function check(count: number, expected: number): void {
  if (count !== expected) throw new Error(`Decoded ${count} commands, expected ${expected}`);
}

const small = smallInput();
const large = largeInput();

Deno.bench({
  name: `decode ${SMALL_COMMANDS} small commands (64 KiB chunks)`,
  n: 10,
  warmup: 2,
  fn() {
    check(decodeAll(small), SMALL_COMMANDS);
  },
});

Deno.bench({
  name: `decode ${LARGE_COMMANDS} commands with a 1 MiB argument (64 KiB chunks)`,
  n: 10,
  warmup: 2,
  fn() {
    check(decodeAll(large), LARGE_COMMANDS);
  },
});

if (import.meta.main) {
  const bytesOf = (chunks: readonly Uint8Array[]) => chunks.reduce((n, c) => n + c.length, 0);
  for (
    const [name, chunks, commands] of [["small", small, SMALL_COMMANDS], [
      "large",
      large,
      LARGE_COMMANDS,
    ]] as const
  ) {
    decodeAll(chunks);
    decodeAll(chunks);
    const rounds = 5;
    const started = performance.now();
    for (let i = 0; i < rounds; i++) check(decodeAll(chunks), commands);
    const seconds = (performance.now() - started) / 1000 / rounds;
    const mbPerSecond = bytesOf(chunks) / 1e6 / seconds;
    console.log(
      `${name}: ${Math.round(commands / seconds).toLocaleString("en")} commands/s, ` +
        `${mbPerSecond.toFixed(0)} MB/s`,
    );
  }
}
