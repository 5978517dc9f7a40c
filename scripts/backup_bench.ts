/**
 * Backup benchmark: ddb against restic on the same generated dataset, same
 * machine, same run. Phases: first backup, unchanged second backup, backup
 * after a small mutation, full restore. Reports wall time, MB/s, the
 * client's peak RSS and the repository size.
 *
 *     deno run -A scripts/backup_bench.ts [--small N] [--large-mib M] [--json FILE] [--no-restic]
 *
 * The dataset (deterministic): N small files (1–16 KiB, half of them
 * compressible text, in a tree of directories) plus three large files of
 * M MiB (random, random, and a copy of the first with a changed header —
 * redundant data). Page caches are dropped before each phase when possible
 * (root), so reads are cold.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;

interface PhaseResult {
  tool: string;
  phase: string;
  seconds: number;
  mbPerSecond: number;
  peakRssMiB: number;
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

async function generate(root: string, small: number, largeMiB: number): Promise<number> {
  const next = xorshift(7);
  let total = 0;
  const words = ["photo", "backup", "ddb", "lorem", "ipsum", "data", "file", "summer", "beach"];
  for (let i = 0; i < small; i++) {
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

async function duMiB(path: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-sb", path] }).output();
  return Number(new TextDecoder().decode(out.stdout).split("\t")[0]) / MiB;
}

/** The outcome of {@linkcode timed}. */
interface Timed {
  seconds: number;
  peakRssMiB: number;
  code: number;
  stderr: string;
}

/** Runs a command, sampling its peak RSS (VmHWM) until it exits. */
async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<Timed> {
  const start = performance.now();
  const child = new Deno.Command(cmd, { args, env, stdout: "null", stderr: "piped" }).spawn();
  let peak = 0;
  const sampler = setInterval(async () => {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb / 1024);
    } catch {
      // Exited.
    }
  }, 50);
  const out = await child.output();
  clearInterval(sampler);
  return {
    seconds: (performance.now() - start) / 1000,
    peakRssMiB: peak,
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr).slice(-2000),
  };
}

async function startServer(dataDir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      dataDir,
      "--log-level",
      "info",
    ],
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
      return {
        port: Number(match[1]),
        stop: async () => {
          child.kill("SIGTERM");
          await child.status;
        },
      };
    }
  }
}

const HELP = `Usage: deno task bench:backup [options]

Backs up a generated dataset with ddb (and restic, when installed): first backup, unchanged
backup, backup after a small mutation, full restore. See docs/benchmarks.md.

Options:
  --small N         small files (50000)
  --large-mib M     size of each of the three large files (200)
  --no-restic       measure ddb only
  --json FILE       also write the results to FILE
  --dir DIR         work directory (default: a new temp dir)
  -h, --help        this help`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        small: { type: "string", default: "50000" },
        "large-mib": { type: "string", default: "200" },
        json: { type: "string" },
        "no-restic": { type: "boolean", default: false },
        dir: { type: "string" },
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
  if (!Number.isSafeInteger(small) || small < 0 || !(largeMiB >= 0)) {
    console.error(`bench:backup: --small and --large-mib take non-negative numbers\n\n${HELP}`);
    return 2;
  }
  const work = values.dir ?? await Deno.makeTempDir({ prefix: "ddb-backup-bench-" });
  const src = join(work, "src");
  console.error(`generating ${small} small files + 3 x ${largeMiB} MiB in ${src} …`);
  const bytes = await generate(src, small, largeMiB);
  const results: PhaseResult[] = [];
  const record = (
    tool: string,
    phase: string,
    r: Timed,
    mb: number,
    repo: number,
  ) => {
    if (r.code !== 0) console.error(`${tool} ${phase} exited ${r.code}: ${r.stderr}`);
    const result = {
      tool,
      phase,
      seconds: Number(r.seconds.toFixed(2)),
      mbPerSecond: Number((mb / r.seconds).toFixed(1)),
      peakRssMiB: Number(r.peakRssMiB.toFixed(0)),
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
    await Deno.remove(src, { recursive: true });
    await generate(src, small, largeMiB);
    for (const phase of ["first backup", "unchanged backup", "after mutation"]) {
      if (phase === "after mutation") await mutate(src, small);
      await dropCaches();
      record(tool, phase, await backup(), totalMB, await repoMiB());
    }
    await dropCaches();
    record(tool, "full restore", await restore(), totalMB, 0);
  };

  const server = await startServer(join(work, "ddb-server"));
  const env = {
    DDB_SERVER: `127.0.0.1:${server.port}`,
    XDG_CACHE_HOME: join(work, "ddb-cache"),
    XDG_CONFIG_HOME: join(work, "ddb-config"),
  };
  const ddb = (args: string[]) => timed(Deno.execPath(), ["run", "-A", MAIN, ...args], env);
  try {
    await runPhases(
      "ddb",
      () => ddb(["backup", "-q", src]),
      () => ddb(["restore", "-q", "latest", join(work, "ddb-restore")]),
      () => duMiB(join(work, "ddb-server")),
    );
  } finally {
    await server.stop();
  }

  if (!values["no-restic"]) {
    const hasRestic =
      (await new Deno.Command("sh", { args: ["-c", "command -v restic"] }).output()).success;
    if (!hasRestic) {
      console.error("restic is not installed: skipping the comparison (apt-get install restic)");
    } else {
      const repo = join(work, "restic-repo");
      const renv = {
        RESTIC_REPOSITORY: repo,
        RESTIC_PASSWORD: "bench",
        RESTIC_CACHE_DIR: join(work, "restic-cache"),
      };
      await timed("restic", ["init"], renv);
      await runPhases(
        "restic",
        () => timed("restic", ["backup", "-q", src], renv),
        () =>
          timed(
            "restic",
            ["restore", "-q", "latest", "--target", join(work, "restic-restore")],
            renv,
          ),
        () => duMiB(repo),
      );
    }
  }

  console.log(
    `\nDataset: ${small} small files + 3 x ${largeMiB} MiB = ${(bytes / MiB).toFixed(0)} MiB\n`,
  );
  console.log("| tool | phase | seconds | MB/s | peak RSS MiB | repo MiB |");
  console.log("|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(
      `| ${r.tool} | ${r.phase} | ${r.seconds} | ${r.mbPerSecond} | ${r.peakRssMiB} | ${r.repoMiB} |`,
    );
  }
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(results, null, 2));
  if (values.dir === undefined) await Deno.remove(work, { recursive: true });
  return results.some((r) => r.code !== 0) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
