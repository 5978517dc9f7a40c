import assert from "node:assert/strict";
import {
  decodeDump,
  DUMP_MAGIC,
  DumpDecoder,
  DumpEncoder,
  DumpFormatError,
  type DumpHeader,
  type DumpRecord,
  type DumpSummary,
  encodeDump,
} from "./dump_format.ts";

const HEADER: DumpHeader = {
  database: "photos-ü",
  createdAt: 1_700_000_000_123,
  kvFormatVersion: 1,
};

/** Records with edge cases: empty key and value, 0x00/0xff bytes, a value larger than a chunk. */
function sampleRecords(): DumpRecord[] {
  const records: DumpRecord[] = [
    { key: new Uint8Array(0), value: Uint8Array.of(1) },
    { key: Uint8Array.of(0), value: new Uint8Array(0) },
    { key: Uint8Array.of(0, 0x62, 0xff), value: new Uint8Array(300).fill(7) },
  ];
  for (let i = 0; i < 50; i++) {
    records.push({
      key: new TextEncoder().encode(`K${String(i).padStart(3, "0")}`),
      value: new TextEncoder().encode(`value ${i}`.repeat(i % 7)),
    });
  }
  records.push({ key: Uint8Array.of(0xff, 0xff), value: new Uint8Array(5000).fill(0xab) });
  return records;
}

function encodeAll(records: DumpRecord[], chunkBytes = 64): Uint8Array {
  const chunks = [...encodeDump(HEADER, records, chunkBytes)];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Decodes `bytes` pushed in pieces of `step`; returns the header, records and summary. */
function decodeAll(
  bytes: Uint8Array,
  step = bytes.length,
): { header: DumpHeader; records: DumpRecord[]; summary: DumpSummary } {
  const decoder = new DumpDecoder();
  const records: DumpRecord[] = [];
  let header: DumpHeader | undefined;
  let ended: DumpSummary | undefined;
  for (let at = 0; at < bytes.length; at += step) {
    decoder.push(bytes.subarray(at, Math.min(bytes.length, at + step)));
    for (let item = decoder.next(); item !== undefined; item = decoder.next()) {
      if (item.kind === "header") header = item.header;
      else if (item.kind === "record") records.push({ key: item.key, value: item.value });
      else ended = item.summary;
    }
  }
  const summary = decoder.finish();
  assert.deepEqual(ended, summary);
  assert.ok(header !== undefined);
  return { header, records, summary };
}

/** Byte offsets where each record starts, and where the trailer starts (last). */
function boundaries(records: DumpRecord[]): number[] {
  let at = DUMP_MAGIC.length + 14 + new TextEncoder().encode(HEADER.database).length;
  const out = [at];
  for (const { key, value } of records) {
    at += 9 + key.length + value.length;
    out.push(at);
  }
  return out;
}

Deno.test("dump round trip: any chunk size in, any push size out", () => {
  const records = sampleRecords();
  for (const chunkBytes of [64, 100, 4096, 1024 * 1024]) {
    const bytes = encodeAll(records, chunkBytes);
    for (const step of [1, 7, 4096, bytes.length]) {
      const decoded = decodeAll(bytes, step);
      assert.deepEqual(decoded.header, HEADER);
      assert.deepEqual(decoded.records, records);
      assert.equal(decoded.summary.records, records.length);
      assert.equal(decoded.summary.bytes, bytes.length);
    }
  }
});

Deno.test("dump encoder: chunks are full except the last, summary matches the bytes", () => {
  const encoder = new DumpEncoder(HEADER, 100);
  for (const { key, value } of sampleRecords()) encoder.record(key, value);
  const summary = encoder.end();
  const chunks = encoder.take();
  for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.length, 100);
  assert.ok(chunks[chunks.length - 1].length <= 100);
  assert.equal(summary.bytes, chunks.reduce((n, c) => n + c.length, 0));
  assert.match(summary.checksum, /^[0-9a-f]{64}$/);
  assert.equal(decodeAll(encodeAll(sampleRecords(), 100)).summary.checksum, summary.checksum);
});

Deno.test("dump of no records round-trips", () => {
  const bytes = encodeAll([]);
  const decoded = decodeAll(bytes, 3);
  assert.deepEqual(decoded.records, []);
  assert.equal(decoded.summary.records, 0);
});

Deno.test("dump encoder refuses keys out of order or repeated", () => {
  const encoder = new DumpEncoder(HEADER);
  encoder.record(Uint8Array.of(2), Uint8Array.of());
  assert.throws(() => encoder.record(Uint8Array.of(1), Uint8Array.of()), RangeError);
  assert.throws(() => encoder.record(Uint8Array.of(2), Uint8Array.of()), RangeError);
  encoder.record(Uint8Array.of(2, 0), Uint8Array.of());
});

Deno.test("dump truncated at every record boundary is refused", () => {
  const records = sampleRecords();
  const bytes = encodeAll(records);
  const starts = boundaries(records);
  assert.equal(starts.length, records.length + 1);
  for (const [i, at] of starts.entries()) {
    assert.throws(
      () => decodeAll(bytes.subarray(0, at)),
      (e: Error) =>
        e instanceof DumpFormatError &&
        new RegExp(`truncated after record ${i} .*no trailer`).test(e.message),
    );
  }
});

Deno.test("dump truncated inside a record, the header or the trailer is refused", () => {
  const records = sampleRecords();
  const bytes = encodeAll(records);
  const starts = boundaries(records);
  for (let r = 0; r < records.length; r++) {
    // One byte into the record, in its key length, just before its end.
    for (const at of [starts[r] + 1, starts[r] + 4, starts[r + 1] - 1]) {
      assert.throws(
        () => decodeAll(bytes.subarray(0, at)),
        (e: Error) =>
          e instanceof DumpFormatError && e.name === "DumpFormatError" &&
          e.message.includes(`truncated inside record ${r + 1}`),
      );
    }
  }
  for (let at = 1; at < starts[0]; at++) {
    assert.throws(() => decodeAll(bytes.subarray(0, at)), /truncated in the header/);
  }
  for (let at = starts[records.length] + 1; at < bytes.length; at++) {
    assert.throws(() => decodeAll(bytes.subarray(0, at)), /truncated inside the trailer/);
  }
  assert.throws(() => decodeAll(new Uint8Array(0)), /the input is empty/);
});

Deno.test("dump with any single flipped byte is refused", () => {
  const bytes = encodeAll(sampleRecords().slice(0, 12));
  for (let at = 0; at < bytes.length; at++) {
    for (const mask of [0x01, 0x80]) {
      const damaged = bytes.slice();
      damaged[at] ^= mask;
      assert.throws(() => decodeAll(damaged, 13), DumpFormatError, `flip at ${at}`);
    }
  }
});

Deno.test("dump with wrong magic, version or trailing bytes is refused", () => {
  const bytes = encodeAll(sampleRecords());
  const magic = bytes.slice();
  magic[0] = 0x44;
  assert.throws(() => decodeAll(magic), /not a ddb dump/);
  // The magic is checked as soon as it arrives, before the rest.
  const early = new DumpDecoder();
  early.push(new TextEncoder().encode("SQLite"));
  assert.throws(() => early.next(), /not a ddb dump/);
  const version = bytes.slice();
  version[9] = 2;
  assert.throws(() => decodeAll(version), /format version 2 is not supported/);
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeAll(longer), /unexpected bytes after the trailer/);
  const decoder = new DumpDecoder();
  decoder.push(bytes);
  while (decoder.next() !== undefined) {
    // Read to the end.
  }
  assert.throws(() => decoder.push(Uint8Array.of(0)), /unexpected bytes after the trailer/);
});

Deno.test("dump with records out of order, absurd lengths or a wrong count is refused", () => {
  const records = ["a1", "a2", "a3", "a4", "a5"].map((k) => ({
    key: new TextEncoder().encode(k),
    value: new TextEncoder().encode(`v${k}`),
  }));
  const bytes = encodeAll(records);
  const starts = boundaries(records);
  // Swap records 4 and 5 (same lengths).
  const swapped = bytes.slice();
  swapped.set(bytes.subarray(starts[4], starts[5]), starts[3]);
  swapped.set(bytes.subarray(starts[3], starts[4]), starts[4]);
  assert.throws(() => decodeAll(swapped), /record 5 is out of key order/);
  const huge = bytes.slice();
  new DataView(huge.buffer).setUint32(starts[1] + 1, 0xffff_fff0);
  assert.throws(() => decodeAll(huge), /key of 4294967280 bytes/);
  const count = bytes.slice();
  count[starts[5] + 8] ^= 1;
  assert.throws(() => decodeAll(count), /the trailer counts 4 records, the dump holds 5/);
  const tag = bytes.slice();
  tag[starts[2]] = 0x58;
  assert.throws(() => decodeAll(tag), /unknown tag 0x58 after record 2/);
});

Deno.test("decodeDump yields the items of chunks and checks the end", async () => {
  const records = sampleRecords();
  const bytes = encodeAll(records);
  const kinds: string[] = [];
  for await (const item of decodeDump([bytes.subarray(0, 10), bytes.subarray(10)])) {
    kinds.push(item.kind);
  }
  assert.equal(kinds.length, records.length + 2);
  assert.equal(kinds[0], "header");
  assert.equal(kinds[kinds.length - 1], "end");
  await assert.rejects(async () => {
    for await (const _ of decodeDump([bytes.subarray(0, bytes.length - 1)])) {
      // Drain.
    }
  }, /truncated inside the trailer/);
});
