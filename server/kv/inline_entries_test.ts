import assert from "node:assert/strict";
import {
  decodeInlineEntries,
  encodeInlineEntries,
  fitsInline,
  INLINE_MAX_BYTES,
  INLINE_MAX_ENTRIES,
  InlineEntriesError,
  type InlineEntry,
  inlineSize,
} from "./inline_entries.ts";
import { decodeRegistryValue, encodeRegistryValue } from "./keys.ts";

const enc = new TextEncoder();
const entry = (suffix: string, value: string): InlineEntry => ({
  suffix: enc.encode(suffix),
  value: enc.encode(value),
});
const text = (entries: InlineEntry[]) =>
  entries.map((e) => [new TextDecoder().decode(e.suffix), new TextDecoder().decode(e.value)]);

Deno.test("inline entries encode to a pinned byte layout", () => {
  // A two-field hash: "attrs" -> "A", "ref" -> "c:1".
  const bytes = encodeInlineEntries([entry("attrs", "A"), entry("ref", "c:1")]);
  assert.equal(
    bytes.toHex(),
    "05" + "6174747273" + "01" + "41" + "03" + "726566" + "03" + "633a31",
  );
  assert.deepEqual(text(decodeInlineEntries(bytes)), [["attrs", "A"], ["ref", "c:1"]]);
  assert.equal(inlineSize([entry("attrs", "A"), entry("ref", "c:1")]), bytes.length);
});

Deno.test("inline entries round-trip empty parts, binary bytes and multi-byte lengths", () => {
  const long = new Uint8Array(300).fill(0xff);
  const entries: InlineEntry[] = [
    { suffix: new Uint8Array(0), value: new Uint8Array(0) },
    { suffix: Uint8Array.of(0), value: long },
    { suffix: Uint8Array.of(0, 0), value: Uint8Array.of(13, 10) },
    { suffix: Uint8Array.of(0xff), value: new Uint8Array(0) },
  ];
  const bytes = encodeInlineEntries(entries);
  // 300 needs two LEB128 bytes: 0xac 0x02.
  assert.ok(bytes.toHex().includes("00ac02ffff"));
  assert.equal(bytes.length, inlineSize(entries));
  const back = decodeInlineEntries(bytes);
  assert.deepEqual(
    back.map((e) => [e.suffix.toHex(), e.value.toHex()]),
    entries.map((e) => [
      e.suffix.toHex(),
      e.value.toHex(),
    ]),
  );
  assert.deepEqual(decodeInlineEntries(new Uint8Array(0)), []);
});

Deno.test("encoding refuses unsorted or repeated suffixes", () => {
  assert.throws(() => encodeInlineEntries([entry("b", ""), entry("a", "")]), RangeError);
  assert.throws(() => encodeInlineEntries([entry("a", "1"), entry("a", "2")]), RangeError);
});

Deno.test("decoding refuses truncated, overlong and unsorted input", () => {
  const good = encodeInlineEntries([entry("a", "xy"), entry("b", "")]);
  for (let cut = 1; cut < good.length; cut++) {
    if (cut === 5) continue; // the whole first entry: valid on its own
    assert.throws(
      () => decodeInlineEntries(good.subarray(0, cut)),
      InlineEntriesError,
      `cut ${cut}`,
    );
  }
  assert.throws(() => decodeInlineEntries(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80)), {
    name: "InlineEntriesError",
  });
  const unsorted = Uint8Array.of(1, 0x62, 0, 1, 0x61, 0);
  assert.throws(() => decodeInlineEntries(unsorted), /entry 1 is not after the one before/);
});

Deno.test("fitsInline bounds entries and bytes", () => {
  assert.equal(fitsInline(0, 0), false);
  assert.equal(fitsInline(1, INLINE_MAX_BYTES), true);
  assert.equal(fitsInline(1, INLINE_MAX_BYTES + 1), false);
  assert.equal(fitsInline(INLINE_MAX_ENTRIES, 100), true);
  assert.equal(fitsInline(INLINE_MAX_ENTRIES + 1, 100), false);
});

Deno.test("registry values carry inline entries after the header", () => {
  const inline = encodeInlineEntries([entry("f", "v")]);
  const value = encodeRegistryValue("hash", 1, inline);
  assert.equal(value.toHex(), "68" + "0000000000000001" + inline.toHex());
  const decoded = decodeRegistryValue(value);
  assert.equal(decoded.type, "hash");
  assert.equal(decoded.count, 1);
  assert.deepEqual(decoded.inline, inline);
  assert.equal(decodeRegistryValue(encodeRegistryValue("set", 3)).inline, undefined);
  assert.throws(() => encodeRegistryValue("string", 1, inline), RangeError);
  assert.throws(() => encodeRegistryValue("hash", 0, inline), RangeError);
  assert.throws(() => encodeRegistryValue("hash", 1, new Uint8Array(0)), RangeError);
  assert.throws(
    () => decodeRegistryValue(Uint8Array.of(0x73, 0, 0, 0, 0, 0, 0, 0, 1, 5)),
    RangeError,
  );
  assert.throws(() => decodeRegistryValue(Uint8Array.of(0x68, 0)), RangeError);
});
