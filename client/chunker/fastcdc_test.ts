import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CHUNKER_VERSION, cutPoints, FastCdcChunker } from "./fastcdc.ts";
import { makeGearTable } from "./gear_table.ts";
import { type ChunkerParams, DEFAULT_PARAMS, InvalidChunkerParamsError } from "./params.ts";
import { chunkDigest, computeGolden, type GoldenFile } from "./_testing/golden.ts";
import { randomBytes } from "./_testing/random_bytes.ts";
import golden from "./testdata/golden_v1.json" with { type: "json" };

const KIB = 1024;
const MIB = 1024 * KIB;
const SMALL: ChunkerParams = { min: 2 * KIB, avg: 8 * KIB, max: 64 * KIB };
const TINY: ChunkerParams = { min: 64, avg: 256, max: 1024 };

/**
 * The cut rule of docs/chunking.md written as plainly as possible: one byte
 * at a time, the hash as an unsigned number, no shortcuts.
 */
function referenceCuts(data: Uint8Array, { min, avg, max }: ChunkerParams): number[] {
  const gear = makeGearTable();
  const bits = Math.log2(avg);
  const mask = (n: number) => (2 ** n - 1) * 2 ** (31 - n);
  const maskS = mask(bits + 2);
  const maskL = mask(bits - 2);
  const cuts: number[] = [];
  for (let start = 0; start < data.length;) {
    const end = Math.min(start + max, data.length);
    let cut = end;
    let h = 0;
    for (let j = min; start + j < end; j++) {
      h = (h * 2 + gear[data[start + j]]) % 2 ** 32;
      if ((h & (j < avg ? maskS : maskL)) === 0) {
        cut = start + j + 1;
        break;
      }
    }
    cuts.push(cut);
    start = cut;
  }
  return cuts;
}

/** `cutPoints` computed by feeding the chunker pieces of random sizes up to `most`. */
function piecewiseCuts(data: Uint8Array, params: ChunkerParams, seed: number, most: number) {
  const chunker = new FastCdcChunker(params);
  const sizes = randomBytes(2 * data.length, seed);
  const cuts: number[] = [];
  let k = 0;
  for (let offset = 0; offset < data.length;) {
    const size = Math.min(1 + ((sizes[k++] * 257 + sizes[k++]) % most), data.length - offset);
    // Each piece at a different place of a bigger array, as a stream hands them out.
    const piece = new Uint8Array(size + 10);
    piece.set(data.subarray(offset, offset + size), 5);
    for (let start = 5; start < 5 + size;) {
      const cut = chunker.nextCut(piece, start, 5 + size);
      if (cut < 0) break;
      cuts.push(offset + cut - 5);
      start = cut;
    }
    offset += size;
  }
  if (chunker.pending > 0) cuts.push(data.length);
  return cuts;
}

function sizesOf(cuts: readonly number[]): number[] {
  return cuts.map((cut, k) => cut - (k === 0 ? 0 : cuts[k - 1]));
}

/**
 * Random data with 16 runs of zeros up to `longest` bytes long (zeros never
 * match, so chunks in such a run reach max).
 */
function mixedData(length: number, seed: number, longest: number): Uint8Array {
  const data = randomBytes(length, seed);
  const runs = randomBytes(32, seed + 1);
  for (let k = 0; k < 16; k++) {
    const at = Math.floor((runs[k] / 256) * length);
    data.fill(0, at, at + Math.floor((runs[16 + k] / 256) * longest));
  }
  return data;
}

Deno.test("cutPoints follows the documented rule exactly", () => {
  const cases: [ChunkerParams, number][] = [
    [TINY, 300_000],
    [{ min: 1, avg: 256, max: 257 }, 100_000],
    [{ min: 255, avg: 256, max: 300 }, 100_000],
    [{ min: 100, avg: 512, max: 777 }, 200_001],
    [SMALL, 3 * MIB + 3],
    [DEFAULT_PARAMS, 24 * MIB + 1],
  ];
  for (const [k, [params, length]] of cases.entries()) {
    for (const data of [randomBytes(length, 100 + k), mixedData(length, 200 + k, 3 * params.max)]) {
      const cuts = cutPoints(data, params);
      assert.deepEqual(cuts, referenceCuts(data, params), JSON.stringify(params));
      assert.ok(cuts.length > 2);
    }
  }
});

Deno.test("cut points do not depend on how the data is split into pieces", () => {
  const data = mixedData(2 * MIB, 7, 200 * KIB);
  const whole = cutPoints(data, SMALL);
  assert.deepEqual(piecewiseCuts(data, SMALL, 2, 7), whole);
  assert.deepEqual(piecewiseCuts(data, SMALL, 3, 3000), whole);
  assert.deepEqual(piecewiseCuts(data, SMALL, 4, 200_000), whole);
  const tiny = mixedData(100_000, 8, 3000);
  assert.deepEqual(piecewiseCuts(tiny, TINY, 5, 1), cutPoints(tiny, TINY));
  assert.deepEqual(piecewiseCuts(tiny, TINY, 6, 5), cutPoints(tiny, TINY));
});

Deno.test("every chunk but the last is min + 1 to max bytes", () => {
  for (
    const [params, data] of [
      [SMALL, mixedData(4 * MIB, 9, 3 * SMALL.max)],
      [TINY, mixedData(500_000, 10, 3 * TINY.max)],
      [DEFAULT_PARAMS, mixedData(64 * MIB, 11, 3 * DEFAULT_PARAMS.max)],
    ] as const
  ) {
    const sizes = sizesOf(cutPoints(data, params));
    const last = sizes.pop() ?? 0;
    assert.ok(last >= 1 && last <= params.max);
    for (const size of sizes) assert.ok(size > params.min && size <= params.max, `${size}`);
    assert.ok(sizes.includes(params.max), "some chunk reaches max");
  }
});

Deno.test("chunk sizes cluster around avg", () => {
  const data = randomBytes(8 * MIB, 12);
  const sizes = sizesOf(cutPoints(data, SMALL)).slice(0, -1);
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  // Normalized chunking level 2 with min = avg / 4 gives a mean near 1.15 × avg.
  assert.ok(mean > 1.05 * SMALL.avg && mean < 1.25 * SMALL.avg, `mean ${mean}`);
});

Deno.test("all-zero data is cut at max", () => {
  const zeros = new Uint8Array(20 * MIB);
  assert.deepEqual(cutPoints(zeros), [8 * MIB, 16 * MIB, 20 * MIB]);
  const small = cutPoints(zeros.subarray(0, 200 * KIB), SMALL);
  assert.deepEqual(small, [64 * KIB, 128 * KIB, 192 * KIB, 200 * KIB]);
  assert.deepEqual(cutPoints(zeros.subarray(0, 2048), TINY), [1024, 2048]);
});

Deno.test("empty data has no chunk; data up to min + 1 bytes is one chunk", () => {
  assert.deepEqual(cutPoints(new Uint8Array(0)), []);
  for (const length of [1, 1000, SMALL.min - 1, SMALL.min, SMALL.min + 1]) {
    assert.deepEqual(cutPoints(randomBytes(length, 13), SMALL), [length]);
  }
  const chunker = new FastCdcChunker(SMALL);
  assert.equal(chunker.nextCut(new Uint8Array(0), 0, 0), -1);
  assert.equal(chunker.pending, 0);
});

Deno.test("golden vectors: the cut points of version 1 never change", () => {
  const file: GoldenFile = golden;
  assert.equal(file.version, CHUNKER_VERSION);
  assert.equal(CHUNKER_VERSION, "ddb-fastcdc-v1");
  assert.equal(file.vectors.length, 3);
  for (const vector of file.vectors) {
    const { name, seed, length, params } = vector;
    const actual = computeGolden(name, seed, length, params);
    assert.deepEqual(actual.cuts, vector.cuts, `${name}: cut points moved`);
    assert.equal(actual.chunkDigest, vector.chunkDigest, `${name}: chunk digest`);
  }
  const [first, second] = file.vectors;
  assert.deepEqual(first.params, { ...DEFAULT_PARAMS });
  assert.equal(first.length, 32 * MIB);
  assert.deepEqual(second.params, SMALL);
  assert.equal(second.length, 2 * MIB);
  assert.equal(
    chunkDigest(randomBytes(first.length, first.seed), first.cuts),
    first.chunkDigest,
  );
});

Deno.test("shift resistance: inserting bytes changes only the chunks around them", () => {
  const data = randomBytes(64 * MIB, 14);
  const ids = (bytes: Uint8Array) => {
    const out = new Set<string>();
    let start = 0;
    for (const cut of cutPoints(bytes)) {
      out.add(createHash("sha256").update(bytes.subarray(start, cut)).digest("hex"));
      start = cut;
    }
    return out;
  };
  const before = ids(data);
  const changed = (after: Set<string>) => [...after].filter((id) => !before.has(id)).length;

  const atStart = new Uint8Array(data.length + 7);
  atStart.set([1, 2, 3, 4, 5, 6, 7]);
  atStart.set(data, 7);
  const inMiddle = new Uint8Array(data.length + 7);
  inMiddle.set(data.subarray(0, 40_000_000));
  inMiddle.set([1, 2, 3, 4, 5, 6, 7], 40_000_000);
  inMiddle.set(data.subarray(40_000_000), 40_000_007);

  assert.ok(before.size > 40);
  assert.ok(changed(ids(atStart)) <= 3, `${changed(ids(atStart))} chunks changed`);
  assert.ok(changed(ids(inMiddle)) <= 3, `${changed(ids(inMiddle))} chunks changed`);
});

Deno.test("nextCut checks its range", () => {
  const chunker = new FastCdcChunker(SMALL);
  const data = new Uint8Array(10);
  for (const [start, end] of [[-1, 5], [5, 4], [0, 11], [0.5, 5], [0, NaN]]) {
    assert.throws(() => chunker.nextCut(data, start, end), RangeError);
  }
  assert.equal(chunker.nextCut(data, 3, 3), -1);
  assert.equal(chunker.pending, 0);
});

Deno.test("pending counts the current chunk; reset starts a new one", () => {
  const data = randomBytes(300 * KIB, 15);
  const cuts = cutPoints(data, SMALL);
  const chunker = new FastCdcChunker(SMALL);
  assert.equal(chunker.nextCut(data, 0, 1000), -1);
  assert.equal(chunker.pending, 1000);
  assert.equal(chunker.nextCut(data, 1000, data.length), cuts[0]);
  assert.equal(chunker.pending, 0);
  assert.equal(chunker.nextCut(data, 0, 5000), -1);
  chunker.reset();
  assert.equal(chunker.pending, 0);
  assert.equal(chunker.nextCut(data, 0, data.length), cuts[0]);
});

Deno.test("FastCdcChunker validates and copies its params", () => {
  assert.throws(
    () => new FastCdcChunker({ min: 1, avg: 1000, max: 2000 }),
    InvalidChunkerParamsError,
  );
  const params = { ...SMALL };
  const chunker = new FastCdcChunker(params);
  params.max = 1;
  assert.deepEqual(chunker.params, SMALL);
  assert.ok(Object.isFrozen(chunker.params));
  assert.deepEqual(new FastCdcChunker().params, DEFAULT_PARAMS);
});
