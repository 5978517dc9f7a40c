import assert from "node:assert/strict";
import { type BenchReply, ReplyParseError, ReplyReader } from "./reply_reader.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function all(reader: ReplyReader): BenchReply[] {
  const out: BenchReply[] = [];
  for (let r = reader.next(); r !== undefined; r = reader.next()) out.push(r);
  return out;
}

Deno.test("ReplyReader parses every RESP2 reply type", () => {
  const reader = new ReplyReader();
  reader.push(bytes("+OK\r\n-ERR no\r\n:-12\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n*-1\r\n"));
  assert.deepEqual(all(reader), [
    { kind: "simple", value: "OK" },
    { kind: "error", message: "ERR no" },
    { kind: "int", value: -12 },
    { kind: "bulk", value: bytes("abc") },
    { kind: "bulk", value: null },
    { kind: "array", items: [{ kind: "int", value: 1 }, { kind: "bulk", value: bytes("") }] },
    { kind: "array", items: null },
  ]);
  assert.equal(reader.pending, 0);
});

Deno.test("ReplyReader waits for replies split across pushes, byte by byte", () => {
  const reader = new ReplyReader();
  const wire = "$5\r\nhe\r\nx\r\n*2\r\n+a\r\n+b\r\n";
  const got: BenchReply[] = [];
  for (const byte of bytes(wire)) {
    reader.push(new Uint8Array([byte]));
    got.push(...all(reader));
  }
  assert.deepEqual(got, [
    { kind: "bulk", value: bytes("he\r\nx") },
    { kind: "array", items: [{ kind: "simple", value: "a" }, { kind: "simple", value: "b" }] },
  ]);
});

Deno.test("ReplyReader keeps a partial reply across buffer growth", () => {
  const reader = new ReplyReader();
  const big = "x".repeat(10_000);
  reader.push(bytes(`+first\r\n$${big.length}\r\n${big.slice(0, 100)}`));
  assert.deepEqual(reader.next(), { kind: "simple", value: "first" });
  assert.equal(reader.next(), undefined);
  reader.push(bytes(`${big.slice(100)}\r\n`));
  const reply = reader.next();
  assert.equal(reply?.kind, "bulk");
  assert.equal(reply?.kind === "bulk" ? reply.value?.length : 0, big.length);
});

Deno.test("ReplyReader rejects bytes that are not RESP2", () => {
  for (const wire of ["?x\r\n", ":12a\r\n", "$2\r\nabcd\r\n", "$-2\r\n"]) {
    const reader = new ReplyReader();
    reader.push(bytes(wire));
    assert.throws(() => reader.next(), ReplyParseError, wire);
  }
});
