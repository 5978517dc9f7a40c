/**
 * Benchmark: sequential read speed through a FUSE mount of the in-memory
 * demo file system (`fuse/_testing/serve_memory_fs.ts`, served by a child
 * process), with `dd bs=1M`, cold (page cache dropped first) and warm
 * (again, from the page cache kept by keep_cache), for several
 * read_ahead_kb values and simulated read latencies. Needs root.
 *
 * Usage: `deno run -A scripts/fuse_read_bench.ts [--size MiB] [--runs N]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { forceUnmount, run, spawnServe } from "../fuse/_testing/mount_process.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
  },
});
const sizeMiB = Number(values.size);
const runs = Number(values.runs);

/** Runs dd over `path`; returns MB/s (10^6 bytes per second). */
async function ddSpeed(path: string): Promise<number> {
  const started = performance.now();
  const dd = await run(["dd", `if=${path}`, "of=/dev/null", "bs=1M", "status=none"], 600_000);
  if (dd.code !== 0) throw new Error(`dd failed: ${dd.stderr}`);
  return (sizeMiB * 1024 * 1024) / ((performance.now() - started) / 1000) / 1e6;
}

async function dropCaches(): Promise<void> {
  await run(["sync"]);
  await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3\n");
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const dir = await Deno.makeTempDir({ prefix: "ddb-fuse-bench-" });
const mountpoint = `${dir}/mnt`;
await Deno.mkdir(mountpoint);
console.log(`| read_ahead_kb | read delay | cold MB/s (median of ${runs}) | warm MB/s |`);
console.log("|---:|---:|---:|---:|");
try {
  for (const delayMs of [0, 5]) {
    for (const readAheadKb of [128, 1024, 4096, 16384]) {
      const serve = spawnServe(mountpoint, {
        args: [
          "--big-size",
          String(sizeMiB * 1024 * 1024),
          "--read-ahead-kb",
          String(readAheadKb),
          "--read-delay-ms",
          String(delayMs),
        ],
      });
      try {
        await serve.waitFor("ready");
        const cold: number[] = [];
        for (let i = 0; i < runs; i++) {
          await dropCaches();
          cold.push(await ddSpeed(`${mountpoint}/big.bin`));
        }
        const warm = await ddSpeed(`${mountpoint}/big.bin`);
        console.log(
          `| ${readAheadKb} | ${delayMs} ms | ${median(cold).toFixed(0)} | ${warm.toFixed(0)} |`,
        );
      } finally {
        await serve.stop("SIGTERM");
        await forceUnmount(mountpoint);
      }
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
