import assert from "node:assert/strict";
import { BlobCorruptError, InvalidBlobIdError } from "./blob_storage.ts";
import {
  assertBlobId,
  blobIdOf,
  bytesToHex,
  hexInto,
  hexToBytes,
  isBlobId,
  verifyBlob,
} from "./blob_id.ts";

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

Deno.test("blobIdOf is the lowercase hex SHA-256", () => {
  assert.equal(blobIdOf(new Uint8Array()), EMPTY);
  assert.equal(blobIdOf(new TextEncoder().encode("abc")), ABC);
});

Deno.test("isBlobId and assertBlobId accept only 64 lowercase hex characters", () => {
  assert.equal(isBlobId(ABC), true);
  for (
    const bad of [
      "",
      ABC.toUpperCase(),
      ABC.slice(1),
      ABC + "0",
      "../../etc/passwd",
      `ab/${ABC.slice(3)}`,
      `${ABC}\n`,
    ]
  ) {
    assert.equal(isBlobId(bad), false, JSON.stringify(bad));
    assert.throws(() => assertBlobId(bad), InvalidBlobIdError);
  }
  assertBlobId(ABC);
});

Deno.test("verifyBlob throws BlobCorruptError saying what the content hashes to", () => {
  verifyBlob(ABC, new TextEncoder().encode("abc"));
  assert.throws(() => verifyBlob(ABC, new Uint8Array()), (error: unknown) => {
    assert.ok(error instanceof BlobCorruptError);
    assert.equal(error.id, ABC);
    assert.equal(
      error.message,
      `Cannot read blob "${ABC}": content (0 bytes) hashes to "${EMPTY.slice(0, 12)}…"`,
    );
    return true;
  });
});

Deno.test("hexToBytes and bytesToHex convert both ways and refuse non-hex", () => {
  const id = "00ff10a9" +
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8".slice(0, 56);
  const bytes = hexToBytes(id);
  assert.equal(bytes.length, 32);
  assert.deepEqual([...bytes.subarray(0, 4)], [0x00, 0xff, 0x10, 0xa9]);
  assert.equal(bytesToHex(bytes), id);
  assert.equal(bytesToHex(new Uint8Array()), "");
  assert.throws(() => hexToBytes("abc"), /odd length/);
  assert.throws(() => hexToBytes("AB"), /not a lowercase hex digit/);
  assert.throws(() => hexToBytes("zz"), /not a lowercase hex digit/);
  // Chars beyond ASCII, including ones whose low byte is a hex digit's code.
  assert.throws(() => hexToBytes("\u0130a"), /not a lowercase hex digit/);
  assert.throws(() => hexToBytes("a\u00e0"), /not a lowercase hex digit/);
  assert.throws(() => hexToBytes("0/"), /not a lowercase hex digit/);
  assert.throws(() => hexToBytes("g0"), /not a lowercase hex digit/);
});

Deno.test("hexInto writes at an offset", () => {
  const out = new Uint8Array(4);
  hexInto("beef", out, 1);
  assert.deepEqual([...out], [0, 0xbe, 0xef, 0]);
  assert.throws(() => hexInto("bee", out, 0), /odd length/);
});
