import assert from "node:assert/strict";
import { randomBytes } from "./random_bytes.ts";

Deno.test("randomBytes is mulberry32, little-endian words", () => {
  // mulberry32(1) gives 0xa087eaf3, 0x00b349c9, …
  assert.deepEqual(
    randomBytes(8, 1),
    new Uint8Array([0xf3, 0xea, 0x87, 0xa0, 0xc9, 0x49, 0xb3, 0x00]),
  );
  assert.deepEqual(randomBytes(6, 1), randomBytes(8, 1).subarray(0, 6));
  assert.deepEqual(randomBytes(0, 1), new Uint8Array(0));
  assert.notDeepEqual(randomBytes(8, 2), randomBytes(8, 1));
});
