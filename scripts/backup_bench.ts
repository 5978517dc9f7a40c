/**
 * Backup benchmark: ddb against restic on the same generated dataset, same
 * machine, same run. Phases: first backup, unchanged second backup, backup
 * after a small mutation, full restore. Reports wall time, MB/s, CPU time, the
 * client's peak RSS and the repository size.
 *
 *     deno run -A scripts/backup_bench.ts [--small N] [--large-mib M] [--storage local|sftp|s3]
 *                                         [--storage-bench] [--json FILE] [--no-restic] [--rounds N]
 *
 * The dataset (deterministic): N small files (1–16 KiB, half of them
 * compressible text, in a tree of directories) plus three large files of
 * M MiB (random, random, and a copy of the first with a changed header —
 * redundant data). Page caches are dropped before each phase when possible
 * (root), so reads are cold. Nothing is deleted until the last round ends
 * (about 6 GB per round stay on disk until then): see docs/benchmarks.md.
 *
 * `--storage` picks where both tools store their backups: the server's local
 * storage and a local restic repository (the default), a directory on a
 * private sshd (SFTP), or a bucket on a throwaway Ceph radosgw (S3); see
 * `scripts/bench/backup_storage.ts`. `--storage-bench` first measures the
 * storage itself with `scripts/storage_bench.ts` (200 puts and gets of 1 MiB).
 * Ctrl-C (or SIGTERM) stops every server the script started and removes its
 * temp directories.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type BackupStorage,
  isStorageKind,
  startBackupStorage,
  STORAGE_KINDS,
} from "./bench/backup_storage.ts";
import { duBytes } from "./bench/du_bytes.ts";
import { denoDir } from "../tests/_client_env.ts";
import { processCpuSeconds } from "./bench/proc_cpu.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const STORAGE_BENCH = new URL("./storage_bench.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;

interface PhaseResult {
  storage: string;
  tool: string;
  phase: string;
  seconds: number;
  mbPerSecond: number;
  peakRssMiB: number;
  /** CPU seconds, user + system (ddb: client and server). */
  cpuSeconds: number;
  repoMiB: number;
  code: number;
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  const next = xorshift(seed);
  for (let i = 0; i < words.length; i++) words[i] = next();
  return out;
}

async function generate(
  root: string,
  small: number,
  largeMiB: number,
  signal: AbortSignal,
): Promise<number> {
  const next = xorshift(7);
  let total = 0;
  const words = ["photo", "backup", "ddb", "lorem", "ipsum", "data", "file", "summer", "beach"];
  for (let i = 0; i < small; i++) {
    signal.throwIfAborted();
    const dir = join(root, "small", `d${i % 50}`, `e${Math.floor(i / 50) % 40}`);
    if (i < 2000) await Deno.mkdir(dir, { recursive: true });
    const size = 1024 + (next() % (15 * 1024));
    let data: Uint8Array;
    if (i % 2 === 0) {
      data = randomBytes(size, i + 1);
    } else {
      let text = "";
      while (text.length < size) text += words[next() % words.length] + " ";
      data = new TextEncoder().encode(text.slice(0, size));
    }
    await Deno.writeFile(join(dir, `f${i}.dat`), data);
    total += size;
  }
  await Deno.mkdir(join(root, "large"), { recursive: true });
  const big = randomBytes(largeMiB * MiB, 99);
  await Deno.writeFile(join(root, "large", "a.bin"), big);
  await Deno.writeFile(join(root, "large", "b.bin"), randomBytes(largeMiB * MiB, 98));
  big.set(randomBytes(4096, 5), 0);
  await Deno.writeFile(join(root, "large", "a-copy-edited.bin"), big);
  return total + 3 * largeMiB * MiB;
}

async function mutate(root: string, small: number): Promise<void> {
  for (let i = 0; i < small; i += Math.max(1, Math.floor(small / 100))) {
    const dir = join(root, "small", `d${i % 50}`, `e${Math.floor(i / 50) % 40}`);
    await Deno.writeFile(join(dir, `f${i}.dat`), randomBytes(4096, 1000 + i));
  }
  const file = await Deno.open(join(root, "large", "b.bin"), { append: true });
  await file.write(randomBytes(MiB, 77));
  file.close();
}

async function dropCaches(): Promise<void> {
  try {
    await new Deno.Command("sync").output();
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3");
  } catch {
    // Not root: warm caches.
  }
}

/** The outcome of {@linkcode timed}. */
interface Timed {
  seconds: number;
  /** CPU seconds (user + system) of the command, and of the server for ddb; sampled every 50 ms. */
  cpuSeconds: number;
  peakRssMiB: number;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command, sampling its peak RSS (VmHWM) until it exits. An abort of
 * `signal` kills it and rejects.
 */
async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  signal: AbortSignal,
): Promise<Timed> {
  signal.throwIfAborted();
  const start = performance.now();
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped", signal })
    .spawn();
  let peak = 0;
  let cpu = 0;
  const sampler = setInterval(async () => {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb / 1024);
      cpu = (await processCpuSeconds(child.pid)) ?? cpu;
    } catch {
      // Exited.
    }
  }, 50);
  const out = await child.output();
  clearInterval(sampler);
  signal.throwIfAborted();
  const decoder = new TextDecoder();
  return {
    seconds: (performance.now() - start) / 1000,
    peakRssMiB: peak,
    cpuSeconds: cpu,
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr).slice(-2000),
  };
}

/** A running `ddb serve`. */
interface BenchServer {
  port: number;
  /** Its CPU seconds so far. */
  cpuSeconds(): Promise<number>;
  /** Stops it (SIGTERM) and waits for it to exit; idempotent. */
  stop(): Promise<void>;
}

/** Starts `ddb serve` on a free port, with `configFile` when given and `env` added. */
async function startServer(
  dataDir: string,
  configFile: string | undefined,
  env: Record<string, string>,
): Promise<BenchServer> {
  const args = ["run", "-A", MAIN, "serve", "--listen", "127.0.0.1:0", "--data", dataDir];
  if (configFile !== undefined) args.push("--config", configFile);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "--log-level", "info"],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited: ${text}`);
    text += value;
    const match = /address=\S+:(\d+)/.exec(text);
    if (match) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      let stopped: Promise<void> | undefined;
      return {
        port: Number(match[1]),
        cpuSeconds: async () => (await processCpuSeconds(child.pid)) ?? 0,
        stop: () =>
          stopped ??= (async () => {
            child.kill("SIGTERM");
            await child.status;
          })(),
      };
    }
  }
}

/** Cleanup steps (servers to stop, directories to remove), run last added first. */
class Teardown {
  readonly #steps: (() => Promise<void>)[] = [];

  /** Adds a step, to run before the steps added earlier. */
  add(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  /** Runs every step once; a step that fails is reported and the others still run. */
  async run(): Promise<void> {
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await step();
      } catch (error) {
        console.error(`bench:backup: cleanup failed: ${(error as Error).message}`);
      }
    }
  }
}

/** Blobs put and got by `--storage-bench`. */
const STORAGE_BENCH_COUNT = 200;

/** Puts and gets 200 blobs of 1 MiB with `scripts/storage_bench.ts` into the storage's URL. */
async function storageBench(
  storage: BackupStorage,
  signal: AbortSignal,
): Promise<PhaseResult[]> {
  console.error(`storage_bench: ${STORAGE_BENCH_COUNT} x 1 MiB into ${storage.url} …`);
  const args = ["run", "-A", STORAGE_BENCH, storage.url, "--size", "1MiB", "--json"];
  args.push("--count", String(STORAGE_BENCH_COUNT));
  const r = await timed(Deno.execPath(), args, storage.env, signal);
  const row = (phase: string, seconds: number, mbPerSecond: number) => ({
    storage: storage.kind,
    tool: "storage_bench",
    phase: `${phase} ${STORAGE_BENCH_COUNT} x 1 MiB`,
    seconds: Number(seconds.toFixed(2)),
    mbPerSecond: Number(mbPerSecond.toFixed(1)),
    peakRssMiB: Number(r.peakRssMiB.toFixed(0)),
    cpuSeconds: Number(r.cpuSeconds.toFixed(1)),
    repoMiB: 0,
    code: r.code,
  });
  if (r.code !== 0) {
    console.error(`storage_bench exited ${r.code}: ${r.stderr}`);
    return [row("put+get", r.seconds, 0)];
  }
  const result = JSON.parse(r.stdout) as {
    putSeconds: number;
    putMBps: number;
    getSeconds: number;
    getMBps: number;
  };
  const rows = [
    row("put", result.putSeconds, result.putMBps),
    row("get", result.getSeconds, result.getMBps),
  ];
  for (const one of rows) console.error(JSON.stringify(one));
  return rows;
}

const HELP = `Usage: deno task bench:backup [options]

Backs up a generated dataset with ddb (and restic, when installed): first backup, unchanged
backup, backup after a small mutation, full restore. See docs/benchmarks.md.

Options:
  --small N           small files (50000)
  --large-mib M       size of each of the three large files (200)
  --storage KIND      where both tools store their backups (local):
                        local  the server's default storage; restic: a local repository
                        sftp   a directory on a private sshd started for the run (needs
                               openssh-server); restic: sftp: on the same sshd
                        s3     a bucket on a throwaway Ceph radosgw, objects in RAM (needs
                               radosgw, ceph-mon, ceph-osd); restic: s3: on the same radosgw
  --storage-bench     first put and get 200 blobs of 1 MiB in the storage
                      (scripts/storage_bench.ts)
  --no-restic         measure ddb only
  --json FILE         also write the results to FILE
  --rounds N          run everything N times (each round from scratch, ddb then restic) and
                      report the median of each phase with its range (1); on a shared or
                      virtual machine single runs vary by 20% and more
  --dir DIR           work directory, kept (default: a new temp dir, removed)
  -h, --help          this help

Ctrl-C stops every server started and removes the temp directories.`;

/** What the command line asked for. */
interface BenchOptions {
  small: number;
  largeMiB: number;
  storage: BackupStorage["kind"];
  storageBench: boolean;
  restic: boolean;
}

/** What one round measured. */
interface RoundResult {
  results: PhaseResult[];
  /** Bytes of the dataset. */
  bytes: number;
  /** Whether a tool failed to set up (its phases are missing). */
  failed: boolean;
}

/** Runs one round of the benchmark in `work`; what must be undone goes to `teardown`. */
async function runBench(
  options: BenchOptions,
  work: string,
  teardown: Teardown,
  signal: AbortSignal,
): Promise<RoundResult> {
  const { small, largeMiB } = options;
  const src = join(work, "src");
  const serverDir = join(work, "ddb-server");
  console.error(`starting the ${options.storage} storage …`);
  const storage = await startBackupStorage(options.storage, work, serverDir);
  teardown.add(() => storage.stop());
  console.error(`storage: ${storage.url}`);
  console.error(`generating ${small} small files + 3 x ${largeMiB} MiB in ${src} …`);
  const bytes = await generate(src, small, largeMiB, signal);
  const results: PhaseResult[] = [];
  let failed = false;
  const record = (
    tool: string,
    phase: string,
    r: Timed,
    mb: number,
    repo: number,
  ) => {
    if (r.code !== 0) console.error(`${tool} ${phase} exited ${r.code}: ${r.stderr}`);
    const result = {
      storage: storage.kind,
      tool,
      phase,
      seconds: Number(r.seconds.toFixed(2)),
      mbPerSecond: Number((mb / r.seconds).toFixed(1)),
      peakRssMiB: Number(r.peakRssMiB.toFixed(0)),
      cpuSeconds: Number(r.cpuSeconds.toFixed(1)),
      repoMiB: Number(repo.toFixed(0)),
      code: r.code,
    };
    results.push(result);
    console.error(JSON.stringify(result));
  };
  const totalMB = bytes / 1e6;

  /** One tool's four phases over the same tree; the tree is regenerated first. */
  const runPhases = async (
    tool: string,
    backup: () => Promise<Timed>,
    restore: () => Promise<Timed>,
    repoMiB: () => Promise<number>,
  ) => {
    // The previous tool's tree is moved aside, not deleted: see "Nothing is
    // deleted while measuring" in docs/benchmarks.md.
    await Deno.rename(src, join(work, `src-before-${tool}`)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await generate(src, small, largeMiB, signal);
    for (const phase of ["first backup", "unchanged backup", "after mutation"]) {
      if (phase === "after mutation") await mutate(src, small);
      await dropCaches();
      record(tool, phase, await backup(), totalMB, await repoMiB());
    }
    await dropCaches();
    record(tool, "full restore", await restore(), totalMB, 0);
  };

  if (options.storageBench) results.push(...await storageBench(storage, signal));

  let configFile: string | undefined;
  if (storage.configured) {
    configFile = join(work, "ddb-server.json");
    const config = { databases: { default: { storage: storage.url } } };
    await Deno.writeTextFile(configFile, JSON.stringify(config, null, 2) + "\n");
  }
  const server = await startServer(serverDir, configFile, storage.env);
  teardown.add(() => server.stop());
  const env = {
    DDB_SERVER: `127.0.0.1:${server.port}`,
    XDG_CACHE_HOME: join(work, "ddb-cache"),
    DENO_DIR: denoDir(),
    XDG_CONFIG_HOME: join(work, "ddb-config"),
  };
  const ddb = async (args: string[]) => {
    // The tool's CPU is the client's plus what the server spent meanwhile.
    const before = await server.cpuSeconds();
    const r = await timed(Deno.execPath(), ["run", "-A", MAIN, ...args], env, signal);
    return { ...r, cpuSeconds: r.cpuSeconds + (await server.cpuSeconds()) - before };
  };
  try {
    await runPhases(
      "ddb",
      () => ddb(["backup", "-q", src]),
      () => ddb(["restore", "-q", "latest", join(work, "ddb-restore")]),
      async () => (await duBytes(serverDir) + await storage.remoteBytes()) / MiB,
    );
  } finally {
    await server.stop();
  }

  if (options.restic) {
    const hasRestic =
      (await new Deno.Command("sh", { args: ["-c", "command -v restic"] }).output()).success;
    if (!hasRestic) {
      console.error("restic is not installed: skipping the comparison (apt-get install restic)");
    } else {
      const target = storage.restic;
      const renv = {
        RESTIC_REPOSITORY: target.repository,
        RESTIC_PASSWORD: "bench",
        RESTIC_CACHE_DIR: join(work, "restic-cache"),
        ...target.env,
      };
      const restic = (args: string[]) => timed("restic", [...target.args, ...args], renv, signal);
      const init = await restic(["init"]);
      if (init.code !== 0) {
        console.error(`restic init exited ${init.code}: skipping restic\n${init.stderr}`);
        failed = true;
      } else {
        await runPhases(
          "restic",
          () => restic(["backup", "-q", src]),
          () => restic(["restore", "-q", "latest", "--target", join(work, "restic-restore")]),
          async () => await target.bytes() / MiB,
        );
      }
    }
  }

  return { results, bytes, failed };
}

/** The median of `values` (the mean of the middle two for an even count). */
function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Prints the results: one row per tool and phase, the median over rounds with the range. */
function report(
  results: PhaseResult[],
  run: {
    small: number;
    largeMiB: number;
    bytes: number;
    storage: string;
    rounds: number;
    loadBefore: number[];
  },
): void {
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  console.log(
    `\nDataset: ${run.small} small files + 3 x ${run.largeMiB} MiB = ` +
      `${(run.bytes / MiB).toFixed(0)} MiB\n` +
      `Storage: ${run.storage}\n` +
      (run.rounds > 1 ? `Rounds: ${run.rounds} (median, [min–max] of seconds)\n` : "") +
      `Load average (1, 5, 15 min): ${load(run.loadBefore)} before, ` +
      `${load(Deno.loadavg())} after\n`,
  );
  console.log(
    "| storage | tool | phase | seconds | MB/s | CPU s (ddb: client + server) | peak RSS MiB | repo MiB |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const rows = Map.groupBy(results, (r) => `${r.storage}\0${r.tool}\0${r.phase}`);
  for (const group of rows.values()) {
    const r = group[0];
    const seconds = group.map((g) => g.seconds);
    const range = group.length > 1
      ? ` [${Math.min(...seconds).toFixed(2)}–${Math.max(...seconds).toFixed(2)}]`
      : "";
    const m = (f: (g: PhaseResult) => number, digits: number) =>
      Number(median(group.map(f)).toFixed(digits));
    console.log(
      `| ${r.storage} | ${r.tool} | ${r.phase} | ${m((g) => g.seconds, 2)}${range} | ` +
        `${m((g) => g.mbPerSecond, 1)} | ${m((g) => g.cpuSeconds, 1)} | ` +
        `${Math.max(...group.map((g) => g.peakRssMiB))} | ${m((g) => g.repoMiB, 0)} |`,
    );
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        small: { type: "string", default: "50000" },
        "large-mib": { type: "string", default: "200" },
        storage: { type: "string", default: "local" },
        "storage-bench": { type: "boolean", default: false },
        json: { type: "string" },
        "no-restic": { type: "boolean", default: false },
        dir: { type: "string" },
        rounds: { type: "string", default: "1" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`bench:backup: ${error instanceof Error ? error.message : error}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const small = Number(values.small);
  const largeMiB = Number(values["large-mib"]);
  const rounds = Number(values.rounds);
  if (!Number.isSafeInteger(small) || small < 0 || !(largeMiB >= 0)) {
    console.error(`bench:backup: --small and --large-mib take non-negative numbers\n\n${HELP}`);
    return 2;
  }
  if (!Number.isSafeInteger(rounds) || rounds < 1) {
    console.error(
      `bench:backup: --rounds takes a positive integer, not "${values.rounds}"\n\n${HELP}`,
    );
    return 2;
  }
  const storage = values.storage;
  if (!isStorageKind(storage)) {
    console.error(
      `bench:backup: --storage takes one of ${STORAGE_KINDS.join(", ")}, not "${storage}"\n\n` +
        HELP,
    );
    return 2;
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const teardown = new Teardown();
  try {
    const options: BenchOptions = {
      small,
      largeMiB,
      storage,
      storageBench: values["storage-bench"],
      restic: !values["no-restic"],
    };
    const loadBefore = Deno.loadavg();
    const results: PhaseResult[] = [];
    let bytes = 0;
    let failed = false;
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) console.error(`round ${round} of ${rounds}`);
      let work: string;
      if (values.dir === undefined) {
        work = await Deno.makeTempDir({ prefix: "ddb-backup-bench-" });
      } else {
        work = rounds > 1 ? join(values.dir, `round-${round}`) : values.dir;
        await Deno.mkdir(work, { recursive: true });
      }
      // Each round stops its servers before the next. Its files (unless kept)
      // are removed only after the last round: on a file system without a
      // journal, creating files within minutes of deleting many is several
      // times slower, which would slow the next round's restores.
      const roundTeardown = new Teardown();
      if (values.dir === undefined) teardown.add(() => Deno.remove(work, { recursive: true }));
      teardown.add(() => roundTeardown.run());
      const round1 = await runBench(
        { ...options, storageBench: options.storageBench && round === 1 },
        work,
        roundTeardown,
        interrupt.signal,
      );
      await roundTeardown.run();
      results.push(...round1.results);
      bytes = round1.bytes;
      failed ||= round1.failed;
    }
    report(results, { small, largeMiB, bytes, storage, rounds, loadBefore });
    if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(results, null, 2));
    return failed || results.some((r) => r.code !== 0) ? 1 : 0;
  } catch (error) {
    const message = interrupt.signal.aborted
      ? "interrupted"
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`bench:backup: ${message}`);
    return 1;
  } finally {
    await teardown.run();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
