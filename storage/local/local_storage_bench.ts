/**
 * Put throughput of {@linkcode LocalStorage} (each iteration fills a fresh
 * storage in a temp directory):
 *
 * - 200 × 1 MiB, one at a time and 8 at a time (MB/s = 200 MiB / time);
 * - 2000 × 4 KiB, all at once (blobs/s = 2000 / time).
 *
 * Run with `deno bench -A storage/`.
 *
 * @module
 */

import { blobIdOf } from "../blob_id.ts";
import { LocalStorage } from "./local_storage.ts";

function blobs(count: number, size: number, seed: number): { id: string; data: Uint8Array }[] {
  return Array.from({ length: count }, (_, i) => {
    const data = fill(size, seed * 1_000_003 + i);
    return { id: blobIdOf(data), data };
  });
}

/** Random bytes, distinct per seed (getRandomValues takes at most 64 KiB at a time). */
function fill(size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(data.subarray(offset, Math.min(size, offset + 65536)));
  }
  new DataView(data.buffer).setFloat64(0, seed);
  return data;
}

const MIB = 1024 * 1024;
const large = blobs(200, MIB, 1);
const small = blobs(2000, 4096, 2);

async function run(
  b: Deno.BenchContext,
  items: { id: string; data: Uint8Array }[],
  concurrency: number,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-bench-" });
  const storage = await LocalStorage.open(dir);
  try {
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const { id, data } = items[next++];
        await storage.put(id, data);
      }
    };
    b.start();
    await Promise.all(Array.from({ length: concurrency }, worker));
    b.end();
  } finally {
    await storage.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.bench({
  name: "put 200 × 1 MiB, sequential",
  group: "1 MiB",
  n: 5,
  warmup: 1,
  fn: async (b) => await run(b, large, 1),
});

Deno.bench({
  name: "put 200 × 1 MiB, 8 concurrent",
  group: "1 MiB",
  n: 5,
  warmup: 1,
  fn: async (b) => await run(b, large, 8),
});

Deno.bench({
  name: "put 2000 × 4 KiB, all concurrent",
  n: 5,
  warmup: 1,
  fn: async (b) => await run(b, small, small.length),
});
