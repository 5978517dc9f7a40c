import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  decodePack,
  decodePackTrailer,
  encodePack,
  encodePackTrailer,
  PACK_TAIL_BYTES,
  packEntryCount,
  PackFormatError,
  packTrailerBytes,
} from "./pack_format.ts";

const sha = (data: Uint8Array) => new Uint8Array(createHash("sha256").update(data).digest());

Deno.test("encodePack places blobs back to back and decodePack finds them again", () => {
  const datas = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(1000).fill(9)];
  const blobs = datas.map((data) => ({ hash: sha(data), data }));
  const { bytes, entries } = encodePack(blobs);
  assert.deepEqual(entries.map((e) => [e.offset, e.length]), [[0, 0], [0, 3], [3, 1000]]);
  assert.equal(bytes.length, 1003 + 3 * 36 + 12);
  const decoded = decodePack(bytes);
  assert.deepEqual(decoded, entries.map((e, i) => ({ ...e, hash: blobs[i].hash })));
  for (const [i, e] of decoded.entries()) {
    assert.deepEqual(bytes.subarray(e.offset, e.offset + e.length), datas[i]);
  }
  assert.deepEqual(decodePack(encodePack([]).bytes), []);
});

Deno.test("decodePack refuses what is not a whole pack", () => {
  const { bytes } = encodePack([{ hash: sha(Uint8Array.of(7)), data: Uint8Array.of(7) }]);
  assert.throws(() => decodePack(bytes.subarray(1)), PackFormatError);
  assert.throws(() => decodePack(bytes.subarray(0, bytes.length - 1)), PackFormatError);
  assert.throws(() => decodePack(new Uint8Array(5)), PackFormatError);
  const lying = bytes.slice();
  new DataView(lying.buffer).setUint32(lying.length - 12, 1000);
  assert.throws(() => decodePack(lying), PackFormatError);
  assert.throws(
    () => encodePack([{ hash: new Uint8Array(31), data: new Uint8Array(1) }]),
    RangeError,
  );
});

Deno.test("a pack's trailer decodes on its own, from the count at its end", () => {
  const datas = [Uint8Array.of(1, 2), new Uint8Array(500).fill(3)];
  const { bytes, entries } = encodePack(datas.map((data) => ({ hash: sha(data), data })));
  const n = packEntryCount(bytes.subarray(bytes.length - PACK_TAIL_BYTES));
  assert.equal(n, 2);
  const trailer = bytes.subarray(bytes.length - packTrailerBytes(n));
  assert.deepEqual(decodePackTrailer(trailer, bytes.length), entries);
  assert.throws(() => decodePackTrailer(trailer, bytes.length + 1), /entries cover 502 bytes/);
  assert.throws(() => decodePackTrailer(trailer.subarray(1), bytes.length), PackFormatError);
  assert.throws(() => packEntryCount(new Uint8Array(12)), /no pack magic/);
});

Deno.test("encodePackTrailer ends a pack as encodePack does", () => {
  const datas = [Uint8Array.of(5), new Uint8Array(0), new Uint8Array(70).fill(1)];
  const { bytes } = encodePack(datas.map((data) => ({ hash: sha(data), data })));
  const hashes = new Uint8Array(96);
  datas.forEach((data, i) => hashes.set(sha(data), i * 32));
  const trailer = encodePackTrailer(hashes, datas.map((d) => d.length), 3);
  assert.deepEqual(trailer, bytes.subarray(71));
  assert.throws(() => encodePackTrailer(hashes, [1], 2), RangeError);
});
