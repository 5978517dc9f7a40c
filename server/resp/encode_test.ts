import assert from "node:assert/strict";
import { encodeReply, ReplyWriter } from "./encode.ts";
import {
  array,
  bulk,
  bulkArray,
  error,
  int,
  map,
  NULL,
  OK,
  QUEUED,
  type Reply,
  simple,
  verbatim,
} from "./reply.ts";

const decoder = new TextDecoder();

/** Asserts the encoding of `reply` in RESP2 and RESP3. */
function assertEncodes(reply: Reply, resp2: string, resp3 = resp2): void {
  assert.equal(decoder.decode(encodeReply(reply, 2)), resp2, "RESP2");
  assert.equal(decoder.decode(encodeReply(reply, 3)), resp3, "RESP3");
}

Deno.test("encodeReply writes simple strings", () => {
  assertEncodes(OK, "+OK\r\n");
  assertEncodes(QUEUED, "+QUEUED\r\n");
  assertEncodes(simple(""), "+\r\n");
  assertEncodes(simple("a\r\nb\nc"), "+a  b c\r\n");
  assertEncodes(simple("héllo"), "+héllo\r\n");
});

Deno.test("encodeReply writes errors on one line", () => {
  assertEncodes(error("ERR unknown command 'x'"), "-ERR unknown command 'x'\r\n");
  assertEncodes(error("ERR bad\r\nthing\nhere"), "-ERR bad  thing here\r\n");
  assertEncodes(error("ERR ü ✓ 😀"), "-ERR ü ✓ 😀\r\n");
});

Deno.test("encodeReply writes integers", () => {
  assertEncodes(int(0), ":0\r\n");
  assertEncodes(int(7), ":7\r\n");
  assertEncodes(int(10), ":10\r\n");
  assertEncodes(int(-1), ":-1\r\n");
  assertEncodes(int(1234567890), ":1234567890\r\n");
  assertEncodes(int(Number.MAX_SAFE_INTEGER), `:${Number.MAX_SAFE_INTEGER}\r\n`);
  assertEncodes(int(Number.MIN_SAFE_INTEGER), `:${Number.MIN_SAFE_INTEGER}\r\n`);
  assertEncodes(int(1e21), ":1000000000000000000000\r\n");
  assertEncodes(int(9223372036854775807n), ":9223372036854775807\r\n");
  assertEncodes(int(-9223372036854775808n), ":-9223372036854775808\r\n");
  assert.throws(() => encodeReply(int(1.5), 2), RangeError);
  assert.throws(() => encodeReply(int(NaN), 3), RangeError);
});

Deno.test("encodeReply writes bulk strings, binary safe", () => {
  assertEncodes(bulk("hello"), "$5\r\nhello\r\n");
  assertEncodes(bulk(""), "$0\r\n\r\n");
  assertEncodes(bulk("é"), "$2\r\né\r\n");
  assert.deepEqual(
    encodeReply(bulk(Uint8Array.of(13, 10, 0, 255)), 3),
    Uint8Array.of(0x24, 0x34, 13, 10, 13, 10, 0, 255, 13, 10),
  );
});

Deno.test("encodeReply writes null", () => {
  assertEncodes(NULL, "$-1\r\n", "_\r\n");
  assertEncodes(array([NULL, bulk("a")]), "*2\r\n$-1\r\n$1\r\na\r\n", "*2\r\n_\r\n$1\r\na\r\n");
});

Deno.test("encodeReply writes arrays", () => {
  assertEncodes(array([]), "*0\r\n");
  assertEncodes(bulkArray(["a", "bc"]), "*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
  assertEncodes(
    array([int(1), array([simple("x"), error("ERR y")]), OK]),
    "*3\r\n:1\r\n*2\r\n+x\r\n-ERR y\r\n+OK\r\n",
  );
});

Deno.test("encodeReply writes maps", () => {
  assertEncodes(map([]), "*0\r\n", "%0\r\n");
  assertEncodes(
    map([[bulk("a"), int(1)], [bulk("b"), NULL]]),
    "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n",
    "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n",
  );
  assertEncodes(
    array([map([[simple("k"), map([[int(1), int(2)]])]])]),
    "*1\r\n*2\r\n+k\r\n*2\r\n:1\r\n:2\r\n",
    "*1\r\n%1\r\n+k\r\n%1\r\n:1\r\n:2\r\n",
  );
});

Deno.test("encodeReply writes verbatim strings", () => {
  assertEncodes(verbatim("hi\r\nthere"), "$9\r\nhi\r\nthere\r\n", "=13\r\ntxt:hi\r\nthere\r\n");
  assertEncodes(verbatim("# x", "mkd"), "$3\r\n# x\r\n", "=7\r\nmkd:# x\r\n");
  assertEncodes(verbatim(""), "$0\r\n\r\n", "=4\r\ntxt:\r\n");
  assertEncodes(verbatim("é"), "$2\r\né\r\n", "=6\r\ntxt:é\r\n");
  assert.throws(() => encodeReply(verbatim("x", "text"), 3), RangeError);
});

Deno.test("ReplyWriter accumulates replies until taken", () => {
  const writer = new ReplyWriter(2);
  assert.equal(writer.size, 0);
  assert.deepEqual(writer.takeBytes(), new Uint8Array(0));
  assert.deepEqual(writer.takeChunks(), []);
  writer.write(OK);
  writer.write(int(42));
  assert.equal(writer.size, 10);
  const first = writer.takeBytes();
  assert.equal(decoder.decode(first), "+OK\r\n:42\r\n");
  assert.equal(writer.size, 0);
  writer.write(bulk("x"));
  assert.equal(decoder.decode(writer.takeBytes()), "$1\r\nx\r\n");
  assert.equal(decoder.decode(first), "+OK\r\n:42\r\n", "taken bytes are not reused");
});

Deno.test("ReplyWriter references large payloads instead of copying them", () => {
  const payload = new Uint8Array(100_000).fill(0x61);
  const writer = new ReplyWriter(3);
  writer.write(array([bulk(payload), int(1)]));
  assert.equal(writer.size, 4 + 9 + 100_000 + 2 + 4);
  const chunks = writer.takeChunks();
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1], payload);
  assert.equal(decoder.decode(chunks[0]), "*2\r\n$100000\r\n");
  assert.equal(decoder.decode(chunks[2]), "\r\n:1\r\n");

  writer.write(bulk(payload));
  const bytes = writer.takeBytes();
  assert.equal(bytes.length, 9 + 100_000 + 2);
  assert.equal(decoder.decode(bytes.subarray(0, 9)), "$100000\r\n");
  assert.equal(decoder.decode(bytes.subarray(100_009)), "\r\n");
  assert.deepEqual(bytes.subarray(9, 100_009), payload);
});

Deno.test("ReplyWriter handles many replies across scratch buffers", () => {
  const writer = new ReplyWriter(2);
  let expected = "";
  for (let i = 0; i < 20_000; i++) {
    const text = "v".repeat(i % 300);
    writer.write(bulk(text));
    expected += `$${text.length}\r\n${text}\r\n`;
  }
  const chunks = writer.takeChunks();
  assert.ok(chunks.length > 1);
  assert.equal(chunks.reduce((n, c) => n + c.length, 0), expected.length);
  writer.write(bulk("tail"));
  assert.equal(decoder.decode(writer.takeBytes()), "$4\r\ntail\r\n");
  const joined = chunks.map((c) => decoder.decode(c)).join("");
  assert.equal(joined, expected);
});

Deno.test("ReplyWriter encodes long error messages with multibyte text", () => {
  const message = "ERR " + "ü✓".repeat(40_000);
  assert.equal(decoder.decode(encodeReply(error(message), 2)), `-${message}\r\n`);
});

Deno.test("ReplyWriter rejects an unknown reply kind", () => {
  const bogus = { kind: "double", value: 1.5 } as unknown as Reply;
  assert.throws(() => encodeReply(bogus, 3), TypeError);
});
