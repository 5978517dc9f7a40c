/**
 * Measures candidate chunker parameters, for docs/chunking.md: chunk size
 * statistics, scan throughput, what small edits cost to upload, and how many
 * chunks a photo collection makes.
 *
 *     deno run -A client/chunker/_tools/measure_params.ts [MiB]
 *
 * The data is `randomBytes` (incompressible, like JPEG or RAW photos) of
 * the given size (default 256 MiB). "Upload" is what a second backup after
 * the edit sends: the chunks whose SHA-256 was not in the first backup.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { cutPoints } from "../fastcdc.ts";
import type { ChunkerParams } from "../params.ts";
import { randomBytes } from "../_testing/random_bytes.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

const CANDIDATES: ChunkerParams[] = [
  { min: 64 * KIB, avg: 128 * KIB, max: 1 * MIB },
  { min: 128 * KIB, avg: 512 * KIB, max: 2 * MIB },
  { min: 256 * KIB, avg: 1 * MIB, max: 4 * MIB },
  { min: 512 * KIB, avg: 1 * MIB, max: 8 * MIB },
  { min: 512 * KIB, avg: 2 * MIB, max: 8 * MIB },
];

/** A deterministic source of positions. */
function positions(count: number, below: number, seed: number): number[] {
  const bytes = randomBytes(count * 4, seed);
  const view = new DataView(bytes.buffer);
  return Array.from({ length: count }, (_, k) => view.getUint32(k * 4, true) % below);
}

function chunkIds(data: Uint8Array, cuts: readonly number[]): string[] {
  const ids: string[] = [];
  let start = 0;
  for (const cut of cuts) {
    ids.push(createHash("sha256").update(data.subarray(start, cut)).digest("hex"));
    start = cut;
  }
  return ids;
}

/** Chunks and bytes of `after` whose content is not among the chunks of `before`. */
function upload(
  before: Uint8Array,
  after: Uint8Array,
  params: ChunkerParams,
): { chunks: number; bytes: number } {
  const known = new Set(chunkIds(before, cutPoints(before, params)));
  const cuts = cutPoints(after, params);
  const ids = chunkIds(after, cuts);
  let chunks = 0;
  let bytes = 0;
  const sent = new Set<string>();
  for (let k = 0; k < cuts.length; k++) {
    if (known.has(ids[k]) || sent.has(ids[k])) continue;
    sent.add(ids[k]);
    chunks++;
    bytes += cuts[k] - (k === 0 ? 0 : cuts[k - 1]);
  }
  return { chunks, bytes };
}

function insert(data: Uint8Array, at: readonly number[], length: number): Uint8Array {
  const sorted = [...at].sort((a, b) => a - b);
  const out = new Uint8Array(data.length + sorted.length * length);
  let from = 0;
  let to = 0;
  for (const [k, p] of sorted.entries()) {
    out.set(data.subarray(from, p), to);
    to += p - from;
    out.set(randomBytes(length, 1000 + k), to);
    to += length;
    from = p;
  }
  out.set(data.subarray(from), to);
  return out;
}

function overwrite(data: Uint8Array, at: readonly number[], length: number): Uint8Array {
  const out = data.slice();
  for (const [k, p] of at.entries()) out.set(randomBytes(length, 2000 + k), p);
  return out;
}

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(2);
}

function label(p: ChunkerParams): string {
  const size = (n: number) => n >= MIB ? `${n / MIB}M` : `${n / KIB}K`;
  return `${size(p.min)}/${size(p.avg)}/${size(p.max)}`;
}

const size = Number(Deno.args[0] ?? 256) * MIB;
const data = randomBytes(size, 42);
const spots = positions(10, size - 100, 7);
const edited = overwrite(data, spots, 100);
const shifted = insert(data, [0], 7);
const inserted = insert(data, spots, 100);

// A photo collection: 40 files of 2 to 30 MB (log-uniform), and an edit of
// each one's metadata that inserts 300 bytes at offset 2 KiB.
const photoSizes = positions(40, 1 << 16, 11).map((r) =>
  Math.round(2e6 * Math.pow(15, r / (1 << 16)))
);
const photos = photoSizes.map((n, k) => randomBytes(n, 3000 + k));
const photosEdited = photos.map((p) => insert(p, [2048], 300));
const photoBytes = photoSizes.reduce((a, b) => a + b, 0);

console.log(`data ${mib(size)} MiB; photos: ${photos.length} files, ${mib(photoBytes)} MiB`);
console.log(
  "| params | chunks | mean | stddev | smallest | largest | scan MB/s " +
    "| 10×100 B overwritten | 7 B inserted at 0 | 10×100 B inserted " +
    "| photo chunks (per file) | photo edit upload |",
);
for (const params of CANDIDATES) {
  let best = Infinity;
  let cuts: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    cuts = cutPoints(data, params);
    best = Math.min(best, performance.now() - t0);
  }
  const sizes = cuts.map((c, k) => c - (k === 0 ? 0 : cuts[k - 1])).slice(0, -1);
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  const sd = Math.sqrt(sizes.reduce((a, b) => a + (b - mean) ** 2, 0) / sizes.length);
  const e = upload(data, edited, params);
  const s = upload(data, shifted, params);
  const i = upload(data, inserted, params);
  let photoChunks = 0;
  let photoUpload = 0;
  for (const [k, photo] of photos.entries()) {
    photoChunks += cutPoints(photo, params).length;
    photoUpload += upload(photo, photosEdited[k], params).bytes;
  }
  console.log(
    `| ${label(params)} | ${cuts.length} | ${mib(mean)} MiB | ${mib(sd)} MiB | ` +
      `${mib(Math.min(...sizes))} MiB | ${mib(Math.max(...sizes))} MiB | ` +
      `${(size / 1e6 / (best / 1000)).toFixed(0)} | ` +
      `${e.chunks} chunks, ${mib(e.bytes)} MiB | ${s.chunks}, ${mib(s.bytes)} MiB | ` +
      `${i.chunks}, ${mib(i.bytes)} MiB | ${photoChunks} (${
        (photoChunks / photos.length).toFixed(1)
      }) | ` +
      `${mib(photoUpload)} MiB (${(100 * photoUpload / photoBytes).toFixed(0)} %) |`,
  );
}
