/**
 * Blob storage throughput: puts then gets COUNT distinct blobs of SIZE bytes,
 * CONCURRENCY calls in flight, against any storage URL that `openStorage`
 * opens (file:, sftp:, s3:, …), then lists and deletes them.
 *
 *     deno run -A scripts/storage_bench.ts URL [--count 200] [--size 1MiB] [--concurrency 8] [--json]
 *
 * The blobs are random (fresh each run, so no put is skipped as existing)
 * and their ids are computed before the clock starts. MB/s counts 10^6
 * bytes. The blobs are deleted at the end unless `--keep` is given.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { blobIdOf } from "../storage/blob_id.ts";
import type { BlobStorage } from "../storage/blob_storage.ts";
import { openStorage } from "../storage/registry.ts";

/** Parses a size such as `1MiB`, `256KiB`, `4MB` or `1000`. */
function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(|B|KB|KiB|MB|MiB|GB|GiB)$/i.exec(text.trim());
  if (!match) throw new Error(`Cannot parse size "${text}": expected e.g. 1MiB, 256KiB, 4MB`);
  const units: Record<string, number> = {
    "": 1,
    b: 1,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
  };
  return Math.round(Number(match[1]) * units[match[2].toLowerCase()]);
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
async function pool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBlob(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(data.subarray(at, Math.min(size, at + 65536)));
  }
  return data;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

async function bench(storage: BlobStorage, count: number, size: number, concurrency: number) {
  const blobs = Array.from({ length: count }, () => randomBlob(size));
  const ids = blobs.map(blobIdOf);
  const bytes = count * size;
  const putSeconds = await timed(() =>
    pool(count, concurrency, (i) => storage.put(ids[i], blobs[i]))
  );
  let got = 0;
  const getSeconds = await timed(() =>
    pool(count, concurrency, async (i) => {
      const data = await storage.get(ids[i]);
      got += data.length;
    })
  );
  if (got !== bytes) throw new Error(`Read ${got} bytes, expected ${bytes}`);
  const wanted = new Set(ids);
  let listed = 0;
  const listSeconds = await timed(async () => {
    for await (const { id } of storage.list()) if (wanted.has(id)) listed++;
  });
  if (listed !== count) throw new Error(`Listed ${listed} of the ${count} blobs`);
  return {
    blobs: count,
    blobBytes: size,
    concurrency,
    putSeconds,
    putMBps: bytes / 1e6 / putSeconds,
    getSeconds,
    getMBps: bytes / 1e6 / getSeconds,
    listSeconds,
    ids,
  };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      count: { type: "string", default: "200" },
      size: { type: "string", default: "1MiB" },
      concurrency: { type: "string", default: "8" },
      json: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.error(
      "usage: deno run -A scripts/storage_bench.ts URL [--count 200] [--size 1MiB] " +
        "[--concurrency 8] [--json] [--keep]",
    );
    return values.help ? 0 : 2;
  }
  const count = Number(values.count);
  const concurrency = Number(values.concurrency);
  const size = parseSize(values.size);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error("--count must be at least 1");
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new Error("--concurrency must be at least 1");
  }
  const storage = await openStorage(positionals[0]);
  try {
    const { ids, ...result } = await bench(storage, count, size, concurrency);
    if (!values.keep) await pool(ids.length, concurrency, (i) => storage.delete(ids[i]));
    if (values.json) {
      console.log(JSON.stringify({ storage: storage.displayUrl, ...result }));
    } else {
      const mib = (size / 1024 / 1024).toFixed(2);
      console.log(`storage  ${storage.displayUrl}`);
      console.log(`blobs    ${count} × ${mib} MiB, ${concurrency} in flight`);
      console.log(
        `put      ${result.putMBps.toFixed(1)} MB/s (${result.putSeconds.toFixed(2)} s)`,
      );
      console.log(
        `get      ${result.getMBps.toFixed(1)} MB/s (${result.getSeconds.toFixed(2)} s)`,
      );
      console.log(`list     ${(result.listSeconds * 1000).toFixed(0)} ms`);
    }
  } finally {
    await storage.close();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
