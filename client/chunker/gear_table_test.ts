import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { GEAR_SEED, makeGearTable } from "./gear_table.ts";

/** SHA-256 of the table as 1024 bytes, each entry big-endian. */
function tableDigest(table: Uint32Array): string {
  const bytes = new Uint8Array(table.length * 4);
  const view = new DataView(bytes.buffer);
  table.forEach((entry, k) => view.setUint32(k * 4, entry));
  return createHash("sha256").update(bytes).digest("hex");
}

Deno.test("the version 1 gear table is pinned", () => {
  assert.equal(GEAR_SEED, "ddb-gear-v1");
  const table = makeGearTable();
  assert.equal(table.length, 256);
  // `printf 'ddb-gear-v1\x00\x00\x00\x00' | sha256sum` starts with efb592e1.
  assert.equal(table[0], 0xefb592e1);
  assert.equal(table[1], 0x3ccfc2f0);
  assert.equal(table[2], 0x0d25de75);
  assert.equal(table[127], 0x66feffeb);
  assert.equal(table[128], 0x0d506edd);
  assert.equal(table[255], 0x8e772de9);
  assert.equal(
    tableDigest(table),
    "fde37f675ba1ffb2958d446524833074100c90dd3bbaab99e34681c1b54e8940",
  );
});

Deno.test("makeGearTable returns a fresh table, different for another seed", () => {
  const a = makeGearTable();
  a[0] = 0;
  assert.equal(makeGearTable()[0], 0xefb592e1);
  assert.notDeepEqual(makeGearTable("ddb-gear-v2"), makeGearTable());
  assert.equal(new Set(makeGearTable()).size, 256);
});
