/**
 * Benchmark of reading a backed-up file back: through `ddb mount` (with
 * `dd bs=1M`), with `ddb restore`, and through `restic mount` when restic is
 * installed, on the same random file, same machine, same run. Needs root
 * (FUSE mounts, `/proc/sys/vm/drop_caches`).
 *
 *     deno task bench:mount [--size-mib M] [--runs N] [--json FILE] [--no-restic]
 *                           [--read-ahead-kb K] [--cache-mib M] [--cpu-prof DIR]
 *
 * A fresh `ddb serve` gets one backup of a directory holding one file of M
 * MiB of random data (1024 by default). Each measured run starts from cold
 * caches: page cache dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`),
 * and for the mounts a new mount process (so no blob is cached either); the
 * time to mount is not counted. MB/s are 10^6 bytes per second of wall
 * time; the median of N runs (3) is reported. The load average is printed
 * with the results, since other jobs on the machine change them.
 *
 * - `ddb mount`: `dd if=<mnt>/latest/<name>/random.bin of=/dev/null bs=1M`.
 * - `ddb restore`: `ddb restore -q latest <new dir>` (includes starting
 *   deno and writing the file into the page cache).
 * - `restic mount`: `restic backup` of the same directory into a repository
 *   in the work directory, then `dd` of `snapshots/latest/<path>/random.bin`.
 *
 * `--cpu-prof DIR` runs the `ddb mount` processes with `deno run
 * --cpu-prof`, writing one `.cpuprofile` per run into DIR.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { eventually, forceUnmount, run } from "../fuse/_testing/mount_process.ts";
import { startServer } from "../tests/_server.ts";
import { denoDir } from "../tests/_client_env.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;
const FILE_NAME = "random.bin";

/** The measured runs of one way of reading the file. */
interface Measurement {
  /** What was measured. */
  method: string;
  /** MB/s of each run. */
  runs: number[];
  /** Their median. */
  median: number;
}

/** The whole result, as written by `--json`. */
interface BenchResult {
  sizeMiB: number;
  readAheadKb: number | null;
  cacheMiB: number | null;
  loadAverageBefore: string;
  loadAverageAfter: string;
  cpus: number;
  measurements: Measurement[];
}

const HELP = `Usage: deno task bench:mount [options]

Reads a backed-up random file back through 'ddb mount' (dd bs=1M), with 'ddb restore',
and through 'restic mount' (when installed), each from cold caches. Needs root.

Options:
  --size-mib M       size of the file (1024)
  --runs N           measured runs of each method; the median is reported (3)
  --read-ahead-kb K  passed to 'ddb mount'
  --cache-mib M      passed to 'ddb mount'
  --no-restic        leave restic out
  --cpu-prof DIR     profile the 'ddb mount' processes (deno --cpu-prof) into DIR
  --json FILE        also write the results to FILE
  -h, --help         this help`;

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

async function dropCaches(): Promise<void> {
  await run(["sync"]);
  await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3\n");
}

async function hasCommand(command: string): Promise<boolean> {
  return (await run(["sh", "-c", `command -v ${command}`])).code === 0;
}

/** Writes `size` random bytes to `path`; resolves with their SHA-256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(8 * MiB);
  for (let offset = 0; offset < size; offset += block.length) {
    const part = block.subarray(0, Math.min(block.length, size - offset));
    for (let i = 0; i < part.length; i += 65536) {
      crypto.getRandomValues(part.subarray(i, i + 65536));
    }
    hash.update(part);
    let written = 0;
    while (written < part.length) written += await file.write(part.subarray(written));
  }
  return hash.digest("hex");
}

/** Runs `command` and fails with its output unless it exits 0. */
async function mustRun(command: string[], env?: Record<string, string>): Promise<string> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  const decoder = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(
      `${command.join(" ")} exited ${out.code}:\n${decoder.decode(out.stderr)}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** A background FUSE server (`ddb mount`, `restic mount`) that logs to a string. */
interface Background {
  stop(): Promise<void>;
  log(): string;
}

/** Starts `command`; resolves once `ready(log)` holds and `path` exists. */
async function startBackground(
  command: string[],
  env: Record<string, string>,
  ready: (log: string) => boolean,
  path: string,
  mountpoint: string,
): Promise<Background> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let exited = false;
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const status = child.status.then(async (result) => {
    exited = true;
    await pumps;
    return result;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    const killer = setTimeout(() => !exited && child.kill("SIGKILL"), 20_000);
    await status;
    clearTimeout(killer);
    await forceUnmount(mountpoint);
  };
  try {
    await eventually(
      `${command[0]} serves ${path}`,
      async () => {
        if (exited) throw new Error(`${command.join(" ")} exited:\n${text}`);
        if (!ready(text)) return false;
        try {
          await Deno.stat(path);
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop, log: () => text };
}

/** `dd` of `path` to /dev/null; MB/s. Checks the byte count. */
async function ddSpeed(path: string, size: number): Promise<number> {
  const started = performance.now();
  const dd = await run(["dd", `if=${path}`, "of=/dev/null", "bs=1M"], 1_800_000);
  const seconds = (performance.now() - started) / 1000;
  if (dd.code !== 0) throw new Error(`dd ${path} failed: ${dd.stderr}`);
  const copied = /^(\d+) bytes/m.exec(dd.stderr);
  if (copied === null || Number(copied[1]) !== size) {
    throw new Error(`dd ${path} copied ${copied?.[1]} bytes, not ${size}:\n${dd.stderr}`);
  }
  return size / seconds / 1e6;
}

async function measure(
  method: string,
  runs: number,
  once: (run: number) => Promise<number>,
): Promise<Measurement> {
  const speeds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const speed = await once(i);
    console.error(`${method}: run ${i + 1}/${runs}: ${speed.toFixed(0)} MB/s`);
    speeds.push(speed);
  }
  return { method, runs: speeds, median: median(speeds) };
}

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value <= 0) throw new Error(`--${flag} takes a positive integer`);
  return value;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        "size-mib": { type: "string", default: "1024" },
        runs: { type: "string", default: "3" },
        "read-ahead-kb": { type: "string" },
        "cache-mib": { type: "string" },
        "no-restic": { type: "boolean", default: false },
        "cpu-prof": { type: "string" },
        json: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
    positive(values["size-mib"], "size-mib");
    positive(values.runs, "runs");
    positive(values["read-ahead-kb"], "read-ahead-kb");
    positive(values["cache-mib"], "cache-mib");
  } catch (error) {
    console.error(`bench:mount: ${error instanceof Error ? error.message : error}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (Deno.uid() !== 0) {
    console.error("bench:mount: needs root (FUSE mounts and drop_caches)");
    return 1;
  }
  const sizeMiB = Number(values["size-mib"]);
  const size = sizeMiB * MiB;
  const runs = Number(values.runs);
  const mountArgs = [
    ...(values["read-ahead-kb"] ? ["--read-ahead-kb", values["read-ahead-kb"]] : []),
    ...(values["cache-mib"] ? ["--cache-mib", values["cache-mib"]] : []),
  ];
  const cpuProf = values["cpu-prof"];
  if (cpuProf !== undefined) await Deno.mkdir(cpuProf, { recursive: true });

  const loadAverageBefore = await loadAverage();
  const work = await Deno.makeTempDir({ prefix: "ddb-mount-bench-" });
  const src = join(work, "src");
  const mnt = join(work, "mnt");
  await Deno.mkdir(src);
  await Deno.mkdir(mnt);
  const measurements: Measurement[] = [];
  const server = await startServer({
    dataDir: join(work, "server"),
    args: ["--log-level", "info"],
  });
  try {
    console.error(`writing ${sizeMiB} MiB of random data …`);
    const sha256 = await writeRandomFile(join(src, FILE_NAME), size);
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      XDG_CACHE_HOME: join(work, "cache"),
      DENO_DIR: denoDir(),
      XDG_CONFIG_HOME: join(work, "config"),
    };
    const ddb = [Deno.execPath(), "run", "-A", MAIN];
    await mustRun([...ddb, "backup", "-q", src], env);

    const mountDdb = async (label: string) => {
      const deno = cpuProf === undefined ? ddb : [
        Deno.execPath(),
        "run",
        "-A",
        "--cpu-prof",
        `--cpu-prof-dir=${cpuProf}`,
        `--cpu-prof-name=mount-${label}.cpuprofile`,
        MAIN,
      ];
      return await startBackground(
        [...deno, "mount", mnt, ...mountArgs],
        env,
        (log) => log.includes("ddb mount: serving"),
        join(mnt, "latest"),
        mnt,
      );
    };

    // Find the file in the mount (latest/<name>/) and check it once.
    let file: string;
    const check = await mountDdb("check");
    try {
      const groups = [];
      for await (const entry of Deno.readDir(join(mnt, "latest"))) groups.push(entry.name);
      if (groups.length !== 1) throw new Error(`latest/ holds ${groups.join(", ")}`);
      file = join(mnt, "latest", groups[0], FILE_NAME);
      const sum = await run(["sha256sum", file], 1_800_000);
      if (sum.stdout.split(" ")[0] !== sha256) {
        throw new Error(`${file} reads back wrong: ${sum.stdout} ${sum.stderr}`);
      }
    } finally {
      await check.stop();
    }

    measurements.push(
      await measure("ddb mount (dd bs=1M)", runs, async (i) => {
        const mount = await mountDdb(`run-${i}`);
        try {
          await dropCaches();
          return await ddSpeed(file, size);
        } finally {
          await mount.stop();
        }
      }),
    );

    measurements.push(
      await measure("ddb restore", runs, async (i) => {
        const target = join(work, `restore-${i}`);
        await dropCaches();
        const started = performance.now();
        await mustRun([...ddb, "restore", "-q", "latest", target], env);
        const seconds = (performance.now() - started) / 1000;
        const restored = await Deno.stat(join(target, FILE_NAME));
        if (restored.size !== size) throw new Error(`restored ${restored.size} bytes`);
        await Deno.remove(target, { recursive: true });
        return size / seconds / 1e6;
      }),
    );

    if (values["no-restic"]) {
      // Left out on request.
    } else if (!await hasCommand("restic")) {
      console.error("restic is not installed: leaving it out (apt-get install restic)");
    } else {
      const renv = {
        RESTIC_REPOSITORY: join(work, "restic-repo"),
        RESTIC_PASSWORD: "bench",
        RESTIC_CACHE_DIR: join(work, "restic-cache"),
      };
      await mustRun(["restic", "init"], renv);
      await mustRun(["restic", "backup", "-q", src], renv);
      const resticFile = join(mnt, "snapshots", "latest", src, FILE_NAME);
      measurements.push(
        await measure("restic mount (dd bs=1M)", runs, async () => {
          const mount = await startBackground(
            ["restic", "mount", mnt],
            renv,
            (log) => log.includes("serving"),
            resticFile,
            mnt,
          );
          try {
            await dropCaches();
            return await ddSpeed(resticFile, size);
          } finally {
            await mount.stop();
          }
        }),
      );
    }
  } finally {
    await forceUnmount(mnt);
    await server.stop();
    await Deno.remove(work, { recursive: true });
  }

  const result: BenchResult = {
    sizeMiB,
    readAheadKb: values["read-ahead-kb"] ? Number(values["read-ahead-kb"]) : null,
    cacheMiB: values["cache-mib"] ? Number(values["cache-mib"]) : null,
    loadAverageBefore,
    loadAverageAfter: await loadAverage(),
    cpus: navigator.hardwareConcurrency,
    measurements,
  };
  console.log(
    `\n${sizeMiB} MiB random file, cold caches, ${result.cpus} CPUs, load average ` +
      `${result.loadAverageBefore} before, ${result.loadAverageAfter} after\n`,
  );
  console.log(`| method | MB/s (median of ${runs}) | runs |`);
  console.log("|---|---:|---|");
  for (const m of measurements) {
    console.log(
      `| ${m.method} | ${m.median.toFixed(0)} | ${m.runs.map((r) => r.toFixed(0)).join(", ")} |`,
    );
  }
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(result, null, 2) + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
