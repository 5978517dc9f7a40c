/**
 * Garbage collection benchmark: a synthetic repository with many blobs,
 * written through a real `ddb serve`, then `GC` timed and the server's
 * memory during it measured.
 *
 *     deno run -A scripts/gc_bench.ts [--blobs N] [--per-dir N] [--gc-heap-mib M] [--check]
 *       [--check-repeat K] [--export] [--no-gc] [--data DIR] [--keep]
 *
 * 1. BPUT N tiny distinct blobs (pipelined on 4 connections: they go into
 *    packs), then write two trees following the backup schema (one file of
 *    one chunk per blob, `--per-dir` files per directory): tree A over the
 *    even thousands of blobs (0–999, 2000–2999, …), tree B over the odd
 *    ones. Commit a snapshot of each, then forget B: half the blobs and
 *    metadata become garbage, most packs wholly dead, a few partly. With
 *    `--data DIR` the repository is kept in DIR, and a DIR that already
 *    holds one (its `bench.json`) is used as it is: copy it first to measure
 *    again from the same state, as the gc changes it.
 * 2. Restart the server on the same data (a fresh process, so its peak RSS
 *    is what the steps below need), `GC DRYRUN GRACE 0`, then `GC GRACE 0`
 *    (not with `--no-gc`); meanwhile a client PINGs every 50 ms (the longest
 *    wait shows how well gc shares the server). Reports times and, for every
 *    step, the server's memory before, during (sampled every 50 ms) and
 *    after: VmRSS, its anonymous and file-backed parts (SQLite maps its
 *    file: those pages count in RSS but are the page cache's), VmHWM and
 *    the V8 heap in use (INFO memory). `--gc-heap-mib` restarts the server
 *    with V8's old space capped, to show what the collection needs.
 * 3. With `--check`, times `ddb check` (and its peak RSS) before (`--check-repeat`
 *    times) and after the gc; with `--export`, times `ddb db export` of the
 *    whole database and `ddb db import` of the dump into a new database,
 *    before the gc.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { asArray, asInteger, asText, RespClient } from "../client/remote/resp_client.ts";
import type { RespValue } from "../client/remote/reply_decoder.ts";
import { Repository } from "../client/repo/repository.ts";
import {
  contentId,
  contentKey,
  dirKeyOf,
  metaFields,
  metaKeyOf,
  type NodeMeta,
} from "../client/snapshot/schema.ts";
import { freePort } from "./bench/free_port.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const encoder = new TextEncoder();
const CONNECTIONS = 4;
const WINDOW = 2048;

interface Server {
  child: Deno.ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startServer(dataDir: string, port: number, heapMiB?: number): Promise<Server> {
  const v8 = heapMiB === undefined ? [] : [`--v8-flags=--max-old-space-size=${heapMiB}`];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...v8, MAIN, "serve", "--listen", `127.0.0.1:${port}`, "--data", dataDir],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0;; i++) {
    try {
      const c = await RespClient.connect({ hostname: "127.0.0.1", port });
      await c.call("PING");
      await c.closed();
      break;
    } catch (error) {
      if (i > 300) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    child,
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

function status(pid: number, field: string): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  if (match === null) throw new Error(`Cannot read ${field} of process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The server's memory at one moment. */
interface Memory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
  /** V8 heap in use (INFO memory). */
  heap: number;
  /** Memory outside the V8 heap that it accounts for: array buffers and the like (INFO memory). */
  external: number;
}

async function memoryOf(server: Server, client: RespClient): Promise<Memory> {
  const info = asText(await client.call("INFO", "memory"));
  const pid = server.child.pid;
  return {
    rss: status(pid, "VmRSS"),
    hwm: status(pid, "VmHWM"),
    anon: status(pid, "RssAnon"),
    file: status(pid, "RssFile"),
    heap: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN),
    external: Number(/used_memory_external:(\d+)/.exec(info)?.[1] ?? NaN),
  };
}

/** The largest of each figure in `samples`. */
function peakOf(samples: Memory[]): Memory {
  const max = (f: keyof Memory) => Math.max(...samples.map((m) => m[f]));
  return {
    rss: max("rss"),
    hwm: max("hwm"),
    anon: max("anon"),
    file: max("file"),
    heap: max("heap"),
    external: max("external"),
  };
}

/**
 * Samples the server's memory every 50 ms (and a PING's latency) while
 * `fn` runs; prints before, peak and after. `fresh` is the memory of the
 * freshly started server, `n` the number of blobs (for bytes per blob).
 */
async function measured<T>(
  server: Server,
  label: string,
  fresh: Memory,
  n: number,
  fn: () => Promise<T>,
): Promise<{ value: T; maxPingMs: number; peak: Memory; after: Memory }> {
  const pinger = await RespClient.connect({ hostname: "127.0.0.1", port: server.port });
  const before = await memoryOf(server, pinger);
  const samples: Memory[] = [before];
  let running = true;
  let maxPingMs = 0;
  const sampler = (async () => {
    while (running) {
      const start = performance.now();
      await pinger.call("PING");
      maxPingMs = Math.max(maxPingMs, performance.now() - start);
      samples.push(await memoryOf(server, pinger));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let value: T;
  try {
    value = await fn();
  } finally {
    running = false;
    await sampler;
  }
  const after = await memoryOf(server, pinger);
  await pinger.closed();
  samples.push(after);
  const peak = peakOf(samples);
  // Growth above the fresh server, also per blob (which only means something if it scales with n).
  const perBlob = (bytes: number) =>
    `${bytes >= 0 ? "+" : "-"}${MiB(Math.abs(bytes))} = ${(bytes / n).toFixed(1)} B/blob`;
  console.log(
    `  server during ${label}: RSS ${MiB(before.rss)} -> peak ${MiB(peak.rss)} -> ${
      MiB(after.rss)
    }; anonymous ${MiB(before.anon)} -> peak ${MiB(peak.anon)} -> ${MiB(after.anon)} ` +
      `(${perBlob(after.anon - fresh.anon)} above the fresh server, peak ${
        perBlob(peak.anon - fresh.anon)
      }); file-backed peak ${MiB(peak.file)}; VmHWM ${MiB(before.hwm)} -> ${MiB(after.hwm)}; ` +
      `V8 heap ${MiB(before.heap)} -> peak ${MiB(peak.heap)} -> ${MiB(after.heap)}, external ${
        MiB(before.external)
      } -> peak ${MiB(peak.external)} -> ${MiB(after.external)}`,
  );
  return { value, maxPingMs, peak, after };
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function blobBytes(i: number): Uint8Array {
  return encoder.encode(`gc bench blob ${i}`);
}

/** Runs `fn(i)` for i in [from, to) on `clients`, WINDOW calls in flight per client. */
async function pipelined(
  clients: RespClient[],
  count: number,
  fn: (client: RespClient, i: number) => Promise<unknown>,
): Promise<void> {
  await Promise.all(clients.map(async (client, c) => {
    let pending: Promise<unknown>[] = [];
    for (let i = c; i < count; i += clients.length) {
      pending.push(fn(client, i));
      if (pending.length >= WINDOW) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
  }));
}

interface Tree {
  root: string;
  files: number;
  dirs: number;
  bytes: number;
}

/** Writes a tree over blobs `indexes` (one file each) and resolves with its root meta key. */
async function writeTree(
  clients: RespClient[],
  name: string,
  indexes: number[],
  ids: string[],
  perDir: number,
): Promise<Tree> {
  const flatten = (fields: ReadonlyMap<string, Uint8Array>) => [...fields].flat();
  const node = (n: string, type: "file" | "dir", size: number, ref: string): NodeMeta => ({
    name: encoder.encode(n),
    type,
    size,
    mode: type === "dir" ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    mtimeNs: 1_700_000_000_000_000_000n,
    ref,
  });
  const dirCount = Math.ceil(indexes.length / perDir);
  const dirMetas: string[] = new Array(dirCount);
  let bytes = 0;
  await pipelined(clients, dirCount, async (client, d) => {
    const members: string[] = [];
    const calls: Promise<RespValue>[] = [];
    let size = 0;
    for (const i of indexes.slice(d * perDir, (d + 1) * perDir)) {
      const length = blobBytes(i).length;
      const content = contentKey(contentId([{ id: ids[i], size: length }]));
      calls.push(client.call("LADD", content, String(length), ids[i]));
      const meta = node(`file-${i}`, "file", length, content);
      const key = metaKeyOf(meta);
      calls.push(client.call("HSET", key, ...flatten(metaFields(meta))));
      members.push(key);
      size += length;
    }
    const dirKey = dirKeyOf(members);
    calls.push(client.call("SADD", dirKey, ...members));
    const meta = node(`dir-${d}`, "dir", size, dirKey);
    dirMetas[d] = metaKeyOf(meta);
    calls.push(client.call("HSET", dirMetas[d], ...flatten(metaFields(meta))));
    bytes += size;
    await Promise.all(calls);
  });
  const rootDir = dirKeyOf(dirMetas);
  await clients[0].call("SADD", rootDir, ...dirMetas);
  const root = node(name, "dir", bytes, rootDir);
  const rootKey = metaKeyOf(root);
  await clients[0].call("HSET", rootKey, ...flatten(metaFields(root)));
  return { root: rootKey, files: indexes.length, dirs: dirCount + 1, bytes };
}

function gcReport(reply: RespValue): Record<string, number> {
  const flat = asArray(reply);
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[asText(flat[i])] = asInteger(flat[i + 1]);
  return out;
}

/** Runs GC with `args`, measured (see {@linkcode measured}). */
async function timedGc(server: Server, label: string, fresh: Memory, n: number, args: string[]) {
  const client = await RespClient.connect({ hostname: "127.0.0.1", port: server.port });
  const start = performance.now();
  const run = await measured(server, label, fresh, n, () => client.call("GC", ...args));
  const ms = performance.now() - start;
  await client.closed();
  return { report: gcReport(run.value), ms, maxPingMs: run.maxPingMs, peak: run.peak };
}

/** Writes the repository of step 1 into `dataDir` through a server on `port`. */
async function populate(
  port: number,
  n: number,
  perDir: number,
): Promise<{ keys: number; blobs: number }> {
  const options = { hostname: "127.0.0.1", port };
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => RespClient.connect(options)),
  );
  let t = performance.now();
  const ids: string[] = new Array(n);
  await pipelined(clients, n, async (client, i) => {
    const data = blobBytes(i);
    ids[i] = createHash("sha256").update(data).digest("hex");
    const stored = asText(await client.call("BPUT", data));
    if (stored !== ids[i]) throw new Error(`BPUT ${i}: stored as ${stored}`);
  });
  console.log(`BPUT ${n} blobs: ${seconds(performance.now() - t)}`);

  t = performance.now();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < n; i++) (Math.floor(i / 1000) % 2 === 0 ? a : b).push(i);
  const treeA = await writeTree(clients, "a", a, ids, perDir);
  const treeB = await writeTree(clients, "b", b, ids, perDir);
  console.log(
    `metadata of ${treeA.files + treeB.files} files, ${treeA.dirs + treeB.dirs} dirs: ${
      seconds(performance.now() - t)
    }`,
  );
  const repo = await Repository.open(options, 0);
  const snapshot = (tree: Tree, path: string) => ({
    ref: tree.root,
    host: "bench",
    path,
    timeUs: BigInt(Date.now()) * 1000n,
    tags: [],
    files: tree.files,
    dirs: tree.dirs,
    bytes: tree.bytes,
    newBytes: 0,
    newChunks: 0,
    errors: 0,
    client: "gc_bench",
  });
  await repo.commitSnapshot(snapshot(treeA, "/a"));
  await repo.commitSnapshot(snapshot(treeB, "/b"));
  await repo.removeSnapshots((await repo.listSnapshots()).filter((s) => s.path === "/b"));
  const keys = asInteger(await clients[0].call("DBSIZE"));
  const blobs = asInteger(await clients[0].call("BCNT"));
  await repo.close();
  for (const c of clients) await c.closed();
  return { keys, blobs };
}

function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      blobs: { type: "string", default: "1000000" },
      "per-dir": { type: "string", default: "1000" },
      check: { type: "boolean", default: false },
      "check-repeat": { type: "string", default: "1" },
      export: { type: "boolean", default: false },
      "no-gc": { type: "boolean", default: false },
      data: { type: "string" },
      keep: { type: "boolean", default: false },
      "gc-heap-mib": { type: "string" },
    },
  });
  let n = Number(values.blobs);
  const perDir = Number(values["per-dir"]);
  const dir = values.data ?? await Deno.makeTempDir({ prefix: "ddb-gc-bench-" });
  const keep = values.keep || values.data !== undefined;
  const dataDir = join(dir, "data");
  const described = join(dir, "bench.json");
  const port = freePort();
  let server: Server | undefined;
  try {
    let repository: { n: number; keys: number; blobs: number };
    try {
      repository = JSON.parse(await Deno.readTextFile(described));
      n = repository.n;
      console.log(`gc bench: ${n} blobs, repository in ${dataDir} reused`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await Deno.mkdir(dir, { recursive: true });
      console.log(`gc bench: ${n} blobs, ${perDir} files per directory, data in ${dataDir}`);
      server = await startServer(dataDir, port);
      repository = { n, ...await populate(port, n, perDir) };
      await server.stop();
      server = undefined;
      await Deno.writeTextFile(described, JSON.stringify(repository));
    }
    const { keys, blobs } = repository;
    console.log(`repository: ${keys} keys, ${blobs} blobs; snapshot of /b forgotten`);

    const heapMiB = values["gc-heap-mib"] === undefined ? undefined : Number(values["gc-heap-mib"]);
    server = await startServer(dataDir, port, heapMiB);
    const options = { hostname: "127.0.0.1", port };
    // Open the database, then take the baseline.
    const warm = await RespClient.connect(options);
    await warm.call("DBSIZE");
    const fresh = await memoryOf(server, warm);
    await warm.closed();
    console.log(
      `server restarted: RSS ${MiB(fresh.rss)} (anonymous ${MiB(fresh.anon)}, file-backed ` +
        `${MiB(fresh.file)}), VmHWM ${MiB(fresh.hwm)}, V8 heap ${
          MiB(fresh.heap)
        }; load ${loadAverage()}`,
    );
    const running = server;
    const ddbCheck = async (label: string) => {
      const { value: check } = await measured(
        running,
        label,
        fresh,
        n,
        () => timedDdb(["check", "--server", `127.0.0.1:${port}`]),
      );
      console.log(
        `${label}: ${check.seconds.toFixed(1)} s, client peak RSS ${check.peakMiB} MiB, exit ` +
          `${check.code}: ${check.stdout.trim().split("\n").at(-1)}; load ${loadAverage()}`,
      );
      if (check.code !== 0) console.log(check.stderr.trim());
    };

    if (values.check) {
      const repeat = Number(values["check-repeat"]);
      for (let i = 1; i <= repeat; i++) {
        await ddbCheck(`ddb check (before gc, ${blobs} blobs${repeat > 1 ? `, run ${i}` : ""})`);
      }
    }
    if (values.export) {
      const file = join(dir, "metadata.dump");
      const { value: exported } = await measured(server, "export", fresh, n, () =>
        timedDdb([
          "db",
          "export",
          "default",
          file,
          "--server",
          `127.0.0.1:${port}`,
        ]));
      const size = (await Deno.stat(file)).size;
      console.log(
        `ddb db export (${keys} keys): ${exported.seconds.toFixed(1)} s, ${MiB(size)} dump, ` +
          `client peak RSS ${exported.peakMiB} MiB, exit ${exported.code}`,
      );
      const { value: imported } = await measured(server, "import", fresh, n, () =>
        timedDdb([
          "db",
          "import",
          file,
          "copy",
          "--server",
          `127.0.0.1:${port}`,
        ]));
      console.log(
        `ddb db import: ${imported.seconds.toFixed(1)} s, client peak RSS ${imported.peakMiB} ` +
          `MiB, exit ${imported.code}${imported.code === 0 ? "" : `: ${imported.stderr.trim()}`}`,
      );
      await Deno.remove(file);
    }
    if (values["no-gc"]) return;

    const dry = await timedGc(server, "GC DRYRUN", fresh, n, ["DRYRUN", "GRACE", "0"]);
    console.log(
      `GC DRYRUN: ${seconds(dry.ms)}, would delete ${dry.report.blobs_deleted} blobs and ` +
        `${dry.report.keys_deleted} keys; longest PING ${dry.maxPingMs.toFixed(0)} ms; ` +
        `load ${loadAverage()}`,
    );
    const run = await timedGc(server, "GC", fresh, n, ["GRACE", "0"]);
    console.log(
      `GC: ${seconds(run.ms)}; peak anonymous ${MiB(run.peak.anon)} (+${
        ((run.peak.anon - fresh.anon) / n).toFixed(1)
      } bytes per blob above the fresh server); V8 heap in use at most ${MiB(run.peak.heap)}${
        heapMiB === undefined ? "" : ` (old space capped at ${heapMiB} MiB)`
      }; longest PING ${run.maxPingMs.toFixed(0)} ms; load ${loadAverage()}`,
    );
    console.log(JSON.stringify(run.report));

    if (values.check) await ddbCheck("ddb check (after gc)");
  } finally {
    await server?.stop();
    if (!keep) await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `ddb ARGS` under /usr/bin/time: exit code, output, seconds and the client's peak RSS. */
async function timedDdb(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; seconds: number; peakMiB: number }> {
  const t = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "peak_kib=%M", Deno.execPath(), "run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t) / 1000;
  const stderr = new TextDecoder().decode(out.stderr);
  const peak = /peak_kib=(\d+)/.exec(stderr);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr,
    seconds,
    peakMiB: peak ? Math.round(Number(peak[1]) / 1024) : NaN,
  };
}

if (import.meta.main) await main();
