import assert from "node:assert/strict";
import {
  encodeManifest,
  type Manifest,
  MANIFEST_SIZE_RESIDUE,
  ManifestFormatError,
  MAX_MANIFEST_BYTES,
  mayBeManifest,
  parseManifest,
} from "./manifest.ts";
import { encodePack } from "../packs/pack_format.ts";

const ID_A = "a".repeat(64);
const ID_B = "b".repeat(64);

function sample(pieces = 2): Manifest {
  return {
    database: "photos",
    createdAt: 1_700_000_000_000,
    dumpFormatVersion: 1,
    kvFormatVersion: 1,
    records: 1234,
    bytes: pieces * 100,
    checksum: "c".repeat(64),
    pieces: Array.from({ length: pieces }, (_, i) => ({ id: i % 2 ? ID_B : ID_A, size: 100 })),
  };
}

Deno.test("manifest round trip, with the size of a manifest", () => {
  for (const pieces of [0, 1, 2, 100, 3000]) {
    const manifest = sample(pieces);
    const bytes = encodeManifest(manifest);
    assert.equal(bytes.length % 4096, MANIFEST_SIZE_RESIDUE);
    assert.ok(mayBeManifest(bytes.length));
    assert.deepEqual(parseManifest(bytes), manifest);
  }
});

Deno.test("manifest with a damaged byte, or of the wrong size, is refused", () => {
  const bytes = encodeManifest(sample());
  for (const at of [0, 9, 20, 200, bytes.length - 100, bytes.length - 1]) {
    const damaged = bytes.slice();
    damaged[at] ^= 1;
    assert.throws(() => parseManifest(damaged), ManifestFormatError, `byte ${at}`);
  }
  assert.throws(() => parseManifest(bytes.subarray(1)), /size/);
  assert.equal(mayBeManifest(bytes.length + 1), false);
  assert.equal(mayBeManifest(MAX_MANIFEST_BYTES + MANIFEST_SIZE_RESIDUE), false);
});

Deno.test("a pack of manifest size is not a manifest", () => {
  // Its first blob may start like a manifest; a pack still ends with its own trailer.
  const fake = encodeManifest(sample());
  const data = new Uint8Array(fake.length - 48);
  data.set(fake.subarray(0, data.length));
  const { bytes } = encodePack([{ hash: new Uint8Array(32), data }]);
  assert.equal(bytes.length, fake.length);
  assert.ok(mayBeManifest(bytes.length));
  assert.throws(() => parseManifest(bytes), /checksum mismatch/);
});

Deno.test("manifest of inconsistent content is refused", () => {
  const bad = sample();
  bad.bytes = 999;
  assert.throws(() => parseManifest(encodeManifest(bad)), /do not add up/);
  const badId = sample();
  badId.pieces[0].id = "XYZ";
  assert.throws(() => parseManifest(encodeManifest(badId)), /not \{id, size\}/);
});

Deno.test("manifest too large to stay below the pack threshold is refused", () => {
  assert.throws(() => encodeManifest(sample(7000)), RangeError);
});
