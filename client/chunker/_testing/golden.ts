/**
 * Golden test vectors of the chunker: for seeded pseudo-random data, the
 * exact cut points and a digest of the chunks. `testdata/golden_v1.json`
 * holds the vectors of chunker version 1, made by `_tools/make_golden.ts`;
 * the tests recompute and compare them.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { cutPoints } from "../fastcdc.ts";
import type { ChunkerParams } from "../params.ts";
import { randomBytes } from "./random_bytes.ts";

/** What a golden vector pins. */
export interface GoldenVector {
  /** A name for messages. */
  name: string;
  /** The data: `randomBytes(length, seed)`. */
  seed: number;
  /** The data's length in bytes. */
  length: number;
  /** The chunker's parameters. */
  params: ChunkerParams;
  /** The end offset of every chunk (see `cutPoints`). */
  cuts: number[];
  /** Lowercase hex SHA-256 of the chunks' SHA-256 digests (32 bytes each) concatenated in order. */
  chunkDigest: string;
}

/** The vectors of chunker version 1, as a file of this shape stores them. */
export interface GoldenFile {
  /** The chunker version the vectors are for. */
  version: string;
  /** The vectors. */
  vectors: GoldenVector[];
}

/** Computes the vector for `randomBytes(length, seed)` cut with `params`. */
export function computeGolden(
  name: string,
  seed: number,
  length: number,
  params: ChunkerParams,
): GoldenVector {
  const data = randomBytes(length, seed);
  const cuts = cutPoints(data, params);
  return { name, seed, length, params, cuts, chunkDigest: chunkDigest(data, cuts) };
}

/** Lowercase hex SHA-256 of the SHA-256 digests of `data` cut at `cuts`. */
export function chunkDigest(data: Uint8Array, cuts: readonly number[]): string {
  const outer = createHash("sha256");
  let start = 0;
  for (const cut of cuts) {
    outer.update(createHash("sha256").update(data.subarray(start, cut)).digest());
    start = cut;
  }
  return outer.digest("hex");
}
