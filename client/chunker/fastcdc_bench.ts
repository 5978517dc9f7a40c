/**
 * Throughput of the chunker on 256 MiB of pseudo-random data (as
 * incompressible as photos): the cut-point search for several parameter
 * sets, the whole stream path (64 KiB pieces in, owned chunks out), and
 * SHA-256 of the same bytes for scale. MB/s = 268.4 MB / time per iteration.
 *
 * Run with `deno bench -A client/chunker/`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { cutPoints } from "./fastcdc.ts";
import { type ChunkerParams, DEFAULT_PARAMS } from "./params.ts";
import { chunkStream } from "./stream.ts";
import { randomBytes } from "./_testing/random_bytes.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const data = randomBytes(256 * MIB, 42);

const sets: [string, Readonly<ChunkerParams>][] = [
  ["512K/1M/8M (default)", DEFAULT_PARAMS],
  ["256K/1M/4M", { min: 256 * KIB, avg: MIB, max: 4 * MIB }],
  ["128K/512K/2M", { min: 128 * KIB, avg: 512 * KIB, max: 2 * MIB }],
  ["2K/8K/64K", { min: 2 * KIB, avg: 8 * KIB, max: 64 * KIB }],
];

for (const [name, params] of sets) {
  Deno.bench({
    name: `cutPoints ${name}, 256 MiB`,
    group: "chunker",
    baseline: params === DEFAULT_PARAMS,
    n: 10,
    warmup: 3,
    fn() {
      if (cutPoints(data, params).length === 0) throw new Error("no chunks");
    },
  });
}

async function* pieces(size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += size) {
    yield data.subarray(offset, offset + size);
  }
}

Deno.bench({
  name: "chunkStream default, 64 KiB pieces, 256 MiB",
  group: "chunker",
  n: 10,
  warmup: 3,
  async fn() {
    let total = 0;
    for await (const chunk of chunkStream(pieces(64 * KIB))) total += chunk.length;
    if (total !== data.length) throw new Error("lost bytes");
  },
});

Deno.bench({
  name: "SHA-256 of 256 MiB (for scale)",
  group: "chunker",
  n: 10,
  warmup: 3,
  fn() {
    createHash("sha256").update(data).digest();
  },
});
