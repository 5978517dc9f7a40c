/**
 * Benchmarks of reading through {@linkcode SnapshotFs} from a real
 * `ddb serve` on loopback: a sequential copy of a 64 MiB file (backed up
 * with the default chunk sizes) in the kernel's 128 KiB reads, with a cold
 * cache each time, with and without read-ahead; and, as the link's
 * ceiling, fetching the same blobs directly, one at a time and 8 at once.
 * Each runs as is and with 5 ms added to every blob fetch, as over a
 * slower link.
 * Run with `deno bench -A fuse/snapshot_fs_bench.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { backup } from "../client/backup/backup.ts";
import { denoSourceFs } from "../client/backup/source_fs.ts";
import { Repository } from "../client/repo/repository.ts";
import { resolvePath } from "../client/snapshot/walk.ts";
import { startServer } from "../tests/_server.ts";
import { ROOT_INODE } from "./file_system.ts";
import { SnapshotFs, type SnapshotReader } from "./snapshot_fs.ts";
import { groupName } from "./tree.ts";

const SIZE = 64 * 1024 * 1024;
const PIECE = 128 * 1024;

const server = await startServer();
const source = await Deno.makeTempDir({ prefix: "ddb-mount-bench-" });
globalThis.addEventListener("unload", () => {
  try {
    server.process.kill("SIGKILL");
  } catch {
    // Already gone.
  }
  try {
    Deno.removeSync(server.dataDir, { recursive: true });
  } catch (error) {
    console.error(`Cannot remove ${server.dataDir}: ${error}`);
  }
});
const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port });
{
  const data = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(join(source, "big.bin"), data);
}
const { snapshot } = await backup(
  { path: source, host: "bench", tags: [] },
  { fs: denoSourceFs, repo, now: () => new Date() },
);
await Deno.remove(source, { recursive: true });
const node = await resolvePath(repo, snapshot.ref, ["big.bin"]);
const chunks = await repo.readContent(node.meta.ref!, node.meta.size);
const silent = { debug() {}, warn() {} };

async function copy(reader: SnapshotReader, readAhead: number): Promise<void> {
  const fs = new SnapshotFs(reader, { logger: silent, readAhead });
  let ino = ROOT_INODE;
  for (const name of ["latest", groupName("bench", source), "big.bin"]) {
    ino = (await fs.lookup(ino, name)).ino;
  }
  const handle = await fs.open(ino);
  let total = 0;
  for (let offset = 0; offset < SIZE; offset += PIECE) {
    total += (await fs.read(ino, handle, offset, PIECE)).length;
  }
  await fs.release(ino, handle);
  if (total !== SIZE) throw new Error(`Cannot bench: read ${total} bytes of ${SIZE}`);
}

/** Adds `delayMs` to every blob fetch, as a slower link would. */
function delayed(delayMs: number): SnapshotReader {
  return {
    listSnapshots: () => repo.listSnapshots(),
    readMeta: (key) => repo.readMeta(key),
    readDir: (key) => repo.readDir(key),
    readContent: (key, size) => repo.readContent(key, size),
    getBlob: async (id) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return await repo.getBlob(id);
    },
  };
}

const RUNS = { n: 5, warmup: 1 };

for (const delayMs of [0, 5]) {
  const reader = delayMs === 0 ? repo : delayed(delayMs);
  const group = `copy, ${delayMs} ms added per blob`;
  for (const readAhead of [4, 0]) {
    Deno.bench(
      `SnapshotFs sequential copy of 64 MiB (${chunks.length} chunks), read-ahead ${readAhead}`,
      { group, baseline: readAhead === 4, ...RUNS },
      async () => await copy(reader, readAhead),
    );
  }
  Deno.bench("getBlob of the same chunks, one at a time", { group, ...RUNS }, async () => {
    for (const chunk of chunks) await reader.getBlob(chunk.id);
  });
  Deno.bench("getBlob of the same chunks, 8 at once", { group, ...RUNS }, async () => {
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) await reader.getBlob(chunks[next++].id);
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  });
}
