/**
 * Benchmarks of {@linkcode FileCache}: 50,000 lookups (all hits, all
 * misses) against a cache of 50,000 files, and recording 50,000 files.
 * Run with `deno bench -A client/cache/file_cache_bench.ts`.
 *
 * @module
 */

import { type CachedFile, FileCache, type FileStat } from "./file_cache.ts";

const N = 50_000;
const STAT: FileStat = {
  size: 123_456,
  mtimeNs: 1_700_000_000_123_456_789n,
  ctimeNs: 1_700_000_000_123_456_789n,
  ino: 1,
  dev: 2049,
};
const ENTRY: CachedFile = {
  contentKey: `c:${"a".repeat(64)}`,
  chunks: 2,
  size: 123_456,
  metaKey: `m:${"b".repeat(64)}`,
};
const PATHS = Array.from({ length: N }, (_, i) => `/home/user/projects/p${i % 97}/src/file${i}.ts`);

const dir = await Deno.makeTempDir();
const hitsPath = `${dir}/hits.sqlite`;
{
  const cache = FileCache.open(hitsPath);
  for (const path of PATHS) cache.record(path, STAT, ENTRY);
  cache.commit("s:bench");
  cache.close();
}
const cache = FileCache.open(hitsPath);
let counter = 0;

Deno.bench(`FileCache ${N} lookups, all hits`, { group: "lookup", baseline: true }, () => {
  for (const path of PATHS) {
    if (cache.lookup(path, STAT) === undefined) throw new Error(`Cannot bench: miss on ${path}`);
  }
});

Deno.bench(`FileCache ${N} lookups, all misses (changed mtime)`, { group: "lookup" }, () => {
  const changed = { ...STAT, mtimeNs: STAT.mtimeNs + 1n };
  for (const path of PATHS) {
    if (cache.lookup(path, changed) !== undefined) throw new Error(`Cannot bench: hit ${path}`);
  }
});

Deno.bench(`FileCache ${N} records and a commit`, { group: "record" }, () => {
  const writer = FileCache.open(`${dir}/records${counter++}.sqlite`);
  for (const path of PATHS) writer.record(path, STAT, ENTRY);
  writer.commit("s:bench");
  writer.close();
});

globalThis.addEventListener("unload", () => {
  cache.close();
  Deno.removeSync(dir, { recursive: true });
});
