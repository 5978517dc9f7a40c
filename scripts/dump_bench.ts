/**
 * Benchmark of metadata dumps: export, import (into a file, and into an open
 * store), metadata backup into a local storage and recovery from it, for a
 * database of N records written directly with `SqliteKvStore`; then
 * `ddb db export` and `ddb db import` through a real server. Each step runs
 * in its own process so that its peak RSS (VmHWM) is its own.
 *
 *     deno run -A scripts/dump_bench.ts [--records 1000000] [--dir DIR] [--keep]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SqliteKvStore } from "../server/kv/sqlite_kv_store.ts";
import { KvExport } from "../server/dump/export.ts";
import { copyIntoEmpty, DumpImporter, installKvFile } from "../server/dump/import.ts";
import { writeMetaBackup } from "../server/dump/meta_backup.ts";
import { recoverFromStorage } from "../server/dump/recover.ts";
import { LocalStorage } from "../storage/local/local_storage.ts";
import { dbCommand } from "../server/dump/cli.ts";

const SELF = fileURLToPath(import.meta.url);
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const encoder = new TextEncoder();

/** Peak resident set size of process `pid` (bytes). */
function peakRss(pid: number | "self" = "self"): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return Number(match?.[1] ?? 0) * 1024;
}

/**
 * `ddb db export` and `ddb db import` (in this process) through a real
 * `ddb serve` whose default database is a copy of the source; the server's
 * peak RSS is reported.
 */
async function throughServer(dir: string): Promise<Record<string, number>> {
  const dataDir = join(dir, "server");
  await Deno.mkdir(join(dataDir, "db"), { recursive: true });
  await Deno.copyFile(join(dir, "source.sqlite"), join(dataDir, "db", "default.sqlite"));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--listen", "127.0.0.1:0", "--data", dataDir],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  let port = 0;
  while (port === 0) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ddb serve exited:\n${log}`);
    log += value;
    port = Number(/server\.start .*address=\S+:(\d+)/.exec(log)?.[1] ?? 0);
  }
  const draining = (async () => {
    while (!(await reader.read()).done) {
      // Keep the pipe from filling.
    }
  })();
  Deno.env.set("DDB_SERVER", `127.0.0.1:${port}`);
  const file = join(dir, "server.dump");
  try {
    const exportStarted = performance.now();
    if (await dbCommand(["export", "default", file]) !== 0) throw new Error("export failed");
    const exportMs = performance.now() - exportStarted;
    const importStarted = performance.now();
    if (await dbCommand(["import", file, "copy"]) !== 0) throw new Error("import failed");
    const importMs = performance.now() - importStarted;
    return {
      export_ms: Math.round(exportMs),
      import_ms: Math.round(importMs),
      server_peak_rss_mb: Math.round(peakRss(child.pid) / 1e6),
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await draining;
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(file);
  }
}

/** Metadata-like records: hash fields of content-addressed keys, ~130 bytes each. */
function build(path: string, records: number): void {
  const kv = SqliteKvStore.open(path);
  try {
    const batch = 10_000;
    for (let start = 0; start < records; start += batch) {
      kv.transaction(() => {
        for (let i = start; i < Math.min(records, start + batch); i++) {
          const id = (i * 2654435761 >>> 0).toString(16).padStart(8, "0").repeat(8);
          kv.set(
            encoder.encode(`h\0\0\0\x42m:${id}${["name", "mode", "mtime", "ref"][i % 4]}`),
            encoder.encode(`value of record ${i} `.repeat(2)),
          );
        }
      });
    }
  } finally {
    kv.close();
  }
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path);
  for await (const chunk of file.readable) yield chunk;
}

/** One step, in this process; prints a JSON line. */
async function step(name: string, dir: string): Promise<void> {
  const started = performance.now();
  const kvPath = join(dir, "source.sqlite");
  const dumpPath = join(dir, "source.dump");
  let detail: Record<string, number | string> = {};
  switch (name) {
    case "export": {
      using out = await Deno.open(dumpPath, { write: true, create: true, truncate: true });
      const dump = KvExport.open(kvPath, "bench", Date.now());
      for (const chunk of dump) {
        let at = 0;
        while (at < chunk.length) at += await out.write(chunk.subarray(at));
      }
      detail = { records: dump.summary!.records, bytes: dump.summary!.bytes };
      break;
    }
    case "import-file": {
      const importer = DumpImporter.create(join(dir, ".import.sqlite"));
      for await (const chunk of fileChunks(dumpPath)) importer.push(chunk);
      const { summary } = importer.finish();
      installKvFile(join(dir, ".import.sqlite"), join(dir, "imported.sqlite"));
      detail = { records: summary.records };
      break;
    }
    case "import-online": {
      const importer = DumpImporter.create(join(dir, ".online.sqlite"));
      for await (const chunk of fileChunks(dumpPath)) importer.push(chunk);
      importer.finish();
      const streamed = performance.now();
      const kv = SqliteKvStore.open(join(dir, "online.sqlite"));
      try {
        detail = {
          records: copyIntoEmpty(
            join(dir, ".online.sqlite"),
            join(dir, "online.sqlite"),
            kv,
            "online",
          ),
          copy_ms: Math.round(performance.now() - streamed),
        };
      } finally {
        kv.close();
        importer.abort();
      }
      break;
    }
    case "meta-backup": {
      const storage = await LocalStorage.open(join(dir, "blobs"));
      try {
        const { manifest } = await writeMetaBackup({
          kvPath,
          database: "bench",
          storage,
          now: Date.now,
          pause: () => Promise.resolve(),
        });
        detail = { pieces: manifest.pieces.length, bytes: manifest.bytes };
      } finally {
        await storage.close();
      }
      break;
    }
    case "recover": {
      const storage = await LocalStorage.open(join(dir, "blobs"));
      try {
        const result = await recoverFromStorage({ storage, dataDir: join(dir, "recovered") });
        detail = { records: result.backup.manifest.records };
      } finally {
        await storage.close();
      }
      break;
    }
    case "server":
      detail = await throughServer(dir);
      break;
    default:
      throw new Error(`Unknown step "${name}"`);
  }
  console.log(JSON.stringify({
    step: name,
    ms: Math.round(performance.now() - started),
    peak_rss_mb: Math.round(peakRss() / 1e6),
    ...detail,
  }));
}

async function runStep(name: string, dir: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--step", name, "--dir", dir],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`Step ${name} failed`);
  // The last line: `ddb db` commands print their own before it.
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const line = JSON.parse(lines[lines.length - 1]);
  console.log(JSON.stringify(line));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      records: { type: "string", default: "1000000" },
      dir: { type: "string" },
      step: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  if (values.step !== undefined) {
    await step(values.step, values.dir!);
  } else {
    const dir = values.dir ?? await Deno.makeTempDir({ prefix: "ddb-dump-bench-" });
    await Deno.mkdir(dir, { recursive: true });
    try {
      const records = Number(values.records);
      const source = join(dir, "source.sqlite");
      let built = false;
      try {
        await Deno.stat(source);
      } catch {
        const started = performance.now();
        build(source, records);
        built = true;
        console.log(JSON.stringify({
          step: "build",
          records,
          ms: Math.round(performance.now() - started),
          file_mb: Math.round((await Deno.stat(source)).size / 1e6),
        }));
      }
      if (!built) console.log(JSON.stringify({ step: "build", reused: source }));
      // Each step, after removing what an earlier run of it left.
      const steps: [string, string | undefined][] = [
        ["export", undefined],
        ["import-file", "imported.sqlite"],
        ["import-online", "online.sqlite"],
        ["meta-backup", "blobs"],
        ["recover", "recovered"],
        ["server", undefined],
      ];
      for (const [name, output] of steps) {
        if (output !== undefined) {
          await Deno.remove(join(dir, output), { recursive: true }).catch(() => {});
        }
        await runStep(name, dir);
      }
    } finally {
      if (!values.keep && values.dir === undefined) await Deno.remove(dir, { recursive: true });
    }
  }
}
