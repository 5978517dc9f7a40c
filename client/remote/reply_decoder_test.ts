import assert from "node:assert/strict";
import { encodeRequest, ReplyDecoder, RespErrorValue, type RespValue } from "./reply_decoder.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function decodeAll(input: Uint8Array, split: number[]): RespValue[] {
  const decoder = new ReplyDecoder();
  const out: RespValue[] = [];
  let from = 0;
  for (const to of [...split, input.length]) {
    decoder.push(input.subarray(from, to));
    from = to;
    for (let r = decoder.next(); r; r = decoder.next()) out.push(r.value);
  }
  return out;
}

const WIRE = bytes(
  "+OK\r\n-ERR bad\r\n:42\r\n:99999999999999999999\r\n$-1\r\n$5\r\na\r\nb\0\r\n" +
    "*3\r\n$1\r\nx\r\n*0\r\n*-1\r\n_\r\n#t\r\n%1\r\n$1\r\nk\r\n:1\r\n=8\r\ntxt:info\r\n",
);
const EXPECTED: RespValue[] = [
  "OK",
  new RespErrorValue("ERR bad"),
  42,
  99999999999999999999n,
  null,
  bytes("a\r\nb\0"),
  [bytes("x"), [], null],
  null,
  true,
  [bytes("k"), 1],
  bytes("info"),
];

Deno.test("ReplyDecoder decodes every reply type", () => {
  assert.deepEqual(decodeAll(WIRE, []), EXPECTED);
});

Deno.test("ReplyDecoder gives the same result for any split of the input", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let round = 0; round < 300; round++) {
    const cuts = [
      ...new Set(Array.from({ length: 1 + round % 12 }, () => Math.floor(random() * WIRE.length))),
    ].sort((a, b) => a - b);
    assert.deepEqual(decodeAll(WIRE, cuts), EXPECTED);
  }
  const everyByte = Array.from({ length: WIRE.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(decodeAll(WIRE, everyByte), EXPECTED);
});

Deno.test("ReplyDecoder receives large bulk replies in place, for any split", () => {
  const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  const verbatim = new Uint8Array(70_000).fill(9);
  const wire = new Uint8Array([
    ...bytes(`$${big.length}\r\n`),
    ...big,
    ...bytes(`\r\n:1\r\n=${verbatim.length + 4}\r\ntxt:`),
    ...verbatim,
    ...bytes("\r\n+OK\r\n"),
  ]);
  const expected: RespValue[] = [big, 1, verbatim, "OK"];
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let round = 0; round < 200; round++) {
    const cuts = [
      ...new Set(Array.from({ length: 1 + round % 40 }, () => Math.floor(random() * wire.length))),
    ].sort((a, b) => a - b);
    assert.deepEqual(decodeAll(wire, cuts), expected);
  }
  // Cuts right around the terminators.
  const header = `$${big.length}\r\n`.length;
  for (const at of [header + 200_000, header + 200_001, header + 200_002]) {
    assert.deepEqual(decodeAll(wire, [10, at]), expected);
  }
  const broken = wire.slice();
  broken[header + big.length + 1] = 0x41; // the LF after the big reply
  assert.throws(() => decodeAll(broken, [100]), /CR LF/);
});

Deno.test("ReplyDecoder rejects an unknown type byte", () => {
  const decoder = new ReplyDecoder();
  decoder.push(bytes("?what\r\n"));
  assert.throws(() => decoder.next(), /Cannot parse reply: unexpected type byte 0x3f/);
});

Deno.test("encodeRequest writes a RESP array of bulk strings", () => {
  const parts = encodeRequest(["SET", bytes("k\r\n"), ""]);
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    total.set(p, at);
    at += p.length;
  }
  assert.equal(new TextDecoder().decode(total), "*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
});

Deno.test("ReplyDecoder keeps earlier small bulk strings intact while it decodes more", () => {
  const decoder = new ReplyDecoder();
  const kept: { value: RespValue; text: string }[] = [];
  for (let i = 0; i < 5000; i++) {
    // Tiny strings (shared buffer) and larger ones (own buffer), many times over a slab.
    const text = i % 7 === 0 ? `${i}:`.repeat(100) : `v${i}`;
    decoder.push(bytes(`$${text.length}\r\n${text}\r\n`));
    const reply = decoder.next();
    assert.ok(reply);
    kept.push({ value: reply.value, text });
  }
  for (const { value, text } of kept) assert.deepEqual(value, bytes(text));
});
