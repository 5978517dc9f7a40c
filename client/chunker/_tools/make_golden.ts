/**
 * Prints the golden vectors of the current chunker as JSON, for a new
 * `testdata/golden_vN.json` when the chunker version is bumped on purpose
 * (never to make a failing golden test pass: see docs/chunking.md).
 *
 *     deno run -A client/chunker/_tools/make_golden.ts > client/chunker/testdata/golden_v1.json
 *     deno fmt client/chunker/testdata/
 *
 * @module
 */

import { CHUNKER_VERSION } from "../fastcdc.ts";
import { DEFAULT_PARAMS } from "../params.ts";
import { computeGolden, type GoldenFile } from "../_testing/golden.ts";

const MIB = 1024 * 1024;
const SMALL = { min: 2048, avg: 8192, max: 65536 };

const file: GoldenFile = {
  version: CHUNKER_VERSION,
  vectors: [
    computeGolden("default params, 32 MiB", 1, 32 * MIB, { ...DEFAULT_PARAMS }),
    computeGolden("2 KiB/8 KiB/64 KiB, 2 MiB", 2, 2 * MIB, SMALL),
    computeGolden("256 B/1 KiB/4 KiB, 100003 bytes", 3, 100_003, {
      min: 256,
      avg: 1024,
      max: 4096,
    }),
  ],
};
console.log(JSON.stringify(file, null, 2));
