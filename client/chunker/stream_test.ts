import assert from "node:assert/strict";
import { cutPoints } from "./fastcdc.ts";
import { type ChunkerParams, InvalidChunkerParamsError } from "./params.ts";
import { chunkBuffer, chunkStream } from "./stream.ts";
import { randomBytes } from "./_testing/random_bytes.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const SMALL: ChunkerParams = { min: 2 * KIB, avg: 8 * KIB, max: 64 * KIB };

/** `data` in pieces of sizes from `sizes` (cycled), each a fresh copy. */
async function* pieces(data: Uint8Array, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let k = 0;
  for (let offset = 0; offset < data.length;) {
    const size = Math.min(sizes[k++ % sizes.length], data.length - offset);
    yield data.slice(offset, offset + size);
    offset += size;
  }
}

/** Random piece sizes from 1 to `most`, with many 1-byte pieces and some empty ones. */
function randomSizes(count: number, most: number, seed: number): number[] {
  const bytes = randomBytes(count * 3, seed);
  return Array.from({ length: count }, (_, k) => {
    const kind = bytes[3 * k] % 4;
    if (kind === 0) return 1;
    if (kind === 1 && k % 7 === 0) return 0;
    return 1 + ((bytes[3 * k + 1] * 256 + bytes[3 * k + 2]) % most);
  });
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function endsOf(chunks: readonly Uint8Array[]): number[] {
  let offset = 0;
  return chunks.map((chunk) => (offset += chunk.length));
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

Deno.test("chunkStream cuts like cutPoints whatever the piece sizes", async () => {
  const data = randomBytes(2 * MIB, 1);
  const whole = cutPoints(data, SMALL);
  const cases = [
    randomSizes(1000, 16, 2),
    randomSizes(1000, 5000, 3),
    randomSizes(1000, 300 * KIB, 4),
    [data.length],
    [SMALL.max],
    [SMALL.min + 1],
  ];
  for (const sizes of cases) {
    const chunks = await collect(chunkStream(pieces(data, sizes), SMALL));
    assert.deepEqual(endsOf(chunks), whole);
    assert.deepEqual(concat(chunks), data);
  }
});

Deno.test("chunkStream takes 1-byte pieces", async () => {
  const data = randomBytes(200 * KIB, 5);
  const chunks = await collect(chunkStream(pieces(data, [1]), SMALL));
  assert.deepEqual(endsOf(chunks), cutPoints(data, SMALL));
  assert.deepEqual(concat(chunks), data);
});

Deno.test("chunkStream reads a ReadableStream and yields owned chunks", async () => {
  const data = randomBytes(MIB, 6);
  const source = ReadableStream.from(pieces(data, [10_000, 1, 70_000]));
  const chunks = await collect(chunkStream(source, SMALL));
  assert.deepEqual(endsOf(chunks), cutPoints(data, SMALL));
  for (const chunk of chunks) {
    assert.equal(chunk.byteOffset, 0);
    assert.equal(chunk.buffer.byteLength, chunk.length);
  }
  // A chunk that lies inside one piece is copied too.
  const big = await collect(chunkStream(pieces(data, [data.length]), SMALL));
  assert.ok(big.every((chunk) => chunk.buffer.byteLength === chunk.length));
});

Deno.test("chunkStream holds less than max bytes of the input", async () => {
  const data = randomBytes(4 * MIB, 7);
  data.fill(0, MIB, 2 * MIB); // chunks of max size
  const sizes = randomSizes(500, 20 * KIB, 8);
  let read = 0;
  let given = 0;
  let most = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const piece of pieces(data, sizes)) {
      read += piece.length;
      most = Math.max(most, read - given - piece.length);
      yield piece;
    }
  }
  for await (const chunk of chunkStream(counted(), SMALL)) given += chunk.length;
  assert.equal(given, data.length);
  assert.ok(most < SMALL.max, `held ${most} bytes`);
  assert.ok(most > SMALL.max - 20 * KIB, `held ${most} bytes`);
});

Deno.test("chunkStream: no chunk for empty input, one for input up to min + 1 bytes", async () => {
  assert.deepEqual(await collect(chunkStream(pieces(new Uint8Array(0), [1]), SMALL)), []);
  assert.deepEqual(await collect(chunkStream(ReadableStream.from<Uint8Array>([]), SMALL)), []);
  for (const length of [1, 100, SMALL.min + 1]) {
    const data = randomBytes(length, 9);
    const chunks = await collect(chunkStream(pieces(data, [1, 1000]), SMALL));
    assert.deepEqual(chunks, [data]);
  }
});

Deno.test("chunkStream uses the default params and checks given ones", async () => {
  const zeros = new Uint8Array(20 * MIB);
  const chunks = await collect(chunkStream(pieces(zeros, [MIB])));
  assert.deepEqual(chunks.map((chunk) => chunk.length), [8 * MIB, 8 * MIB, 4 * MIB]);
  await assert.rejects(
    collect(chunkStream(pieces(zeros, [MIB]), { min: 1, avg: 3, max: 5 })),
    InvalidChunkerParamsError,
  );
});

Deno.test("breaking out of chunkStream cancels a ReadableStream source", async () => {
  let cancelled = false;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(randomBytes(100 * KIB, 10));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const chunk of chunkStream(source, SMALL)) {
    assert.ok(chunk.length > 0);
    break;
  }
  assert.ok(cancelled);
});

Deno.test("chunkBuffer yields views at the cut points", () => {
  const data = randomBytes(3 * MIB, 11);
  const chunks = [...chunkBuffer(data, SMALL)];
  assert.deepEqual(endsOf(chunks), cutPoints(data, SMALL));
  assert.ok(chunks.every((chunk) => chunk.buffer === data.buffer));
  assert.deepEqual([...chunkBuffer(new Uint8Array(0))], []);
  assert.deepEqual([...chunkBuffer(data.subarray(0, 5), SMALL)], [data.subarray(0, 5)]);
  const zeros = [...chunkBuffer(new Uint8Array(10_000_000))].map((chunk) => chunk.length);
  assert.deepEqual(zeros, [8388608, 1611392]);
});

Deno.test("chunkStream allows a source that refills one buffer for every piece", async () => {
  const data = randomBytes(3 * MIB, 11);
  data.fill(0, MIB, MIB + 200 * KIB);
  const sizes = randomSizes(400, 24 * KIB, 12);
  async function* refilled(): AsyncGenerator<Uint8Array> {
    const buffer = new Uint8Array(24 * KIB);
    for await (const piece of pieces(data, sizes)) {
      buffer.set(piece);
      yield buffer.subarray(0, piece.length);
      buffer.fill(0xee); // the next piece overwrites it; earlier bytes must be copied by now
    }
  }
  const chunks = await collect(chunkStream(refilled(), SMALL));
  assert.deepEqual(endsOf(chunks), cutPoints(data, SMALL));
  assert.deepEqual(concat(chunks), data);
});
