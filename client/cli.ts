/**
 * The client commands: `ddb backup`, `ddb snapshots` (and, wired in
 * main.ts, `ddb ls` and `ddb restore`). Flags → settings → engines; the only
 * place of the client that prints.
 *
 * Exit codes: 0 success; 1 failure; 2 bad usage; 3 finished, but some files
 * could not be read (they are listed on stderr).
 *
 * @module
 */

import { resolve } from "node:path";
import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../cli/flags.ts";
import { settingsFromFlags } from "./connection.ts";
import { Repository } from "./repo/repository.ts";
import { startHeapGovernor } from "../memory/heap_governor.ts";
import { backup, type BackupStats } from "./backup/backup.ts";
import { DenoSourceFs } from "./backup/source_fs.ts";
import { excludeAny, ExcludeMatcher } from "./backup/exclude.ts";
import { FileCache, FileCacheError } from "./cache/file_cache.ts";
import { cachePathFor, defaultCacheDir } from "./cache/cache_path.ts";
import { createReporter, type ProgressReporter, type ReporterMode } from "./progress/progress.ts";
import { formatBytes } from "./progress/format.ts";
import { RespClient } from "./remote/resp_client.ts";
import { BackupLease, backupLeaseId, leasedRepository } from "./backup/lease.ts";

const encoder = new TextEncoder();

/** The reporter for a command's output flags: json on stdout, a live line on a terminal. */
export function reporterFor(json: boolean, quiet: boolean): ProgressReporter {
  const tty = Deno.stderr.isTerminal();
  const mode: ReporterMode = json ? "json" : quiet ? "quiet" : tty ? "tty" : "plain";
  const out = json ? Deno.stdout : Deno.stderr;
  return createReporter({
    mode,
    write: (text) => out.writeSync(encoder.encode(text)),
    now: () => performance.now(),
    columns: () => tty ? Deno.consoleSize().columns : 80,
  });
}

/** Flags every client command takes. */
export const CONNECTION_FLAGS: FlagSpecs = {
  server: {
    type: "string",
    value: "HOST:PORT",
    help: "Server address ($DDB_SERVER; 127.0.0.1:9736)",
  },
  db: { type: "string", value: "NAME", help: "Database ($DDB_DB; default)" },
  config: {
    type: "string",
    value: "FILE",
    help: "Client config (~/.config/ddb/client.json); password from $DDB_PASSWORD or the file",
  },
};

const BACKUP_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  exclude: { type: "string", multiple: true, value: "GLOB", help: "Leave out matching paths" },
  "exclude-file": { type: "string", multiple: true, value: "FILE", help: "Patterns from a file" },
  "one-file-system": { type: "boolean", short: "x", help: "Do not cross file system boundaries" },
  tag: { type: "string", multiple: true, value: "TAG", help: "Tag the snapshot" },
  host: { type: "string", value: "NAME", help: "Host name to record (this machine's)" },
  "dry-run": { type: "boolean", short: "n", help: "Read and compare, upload and record nothing" },
  json: { type: "boolean", help: "Machine-readable progress and summary on stdout" },
  quiet: { type: "boolean", short: "q", help: "Print nothing but errors" },
};

/** Help of `ddb backup`. */
export const BACKUP_HELP = formatHelp(
  "ddb backup PATH... [options]",
  `Backs up each PATH as a new snapshot of (host, absolute path). Unchanged files are
skipped without reading them (local cache); only chunks the server lacks are uploaded.
Exit codes: 0 ok, 1 failure, 2 bad usage, 3 some files could not be read.`,
  BACKUP_FLAGS,
);

const SNAPSHOTS_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  json: { type: "boolean", help: "JSON output" },
};

/** Help of `ddb snapshots`. */
export const SNAPSHOTS_HELP = formatHelp(
  "ddb snapshots [PATH] [options]",
  "Lists snapshots (of PATH only, when given), oldest first.",
  SNAPSHOTS_FLAGS,
);

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** The exit code for a finished backup or restore with `errors` unreadable entries. */
export function exitCodeFor(errors: number): number {
  return errors > 0 ? 3 : 0;
}

/** Runs `ddb backup`. */
export async function backupCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, BACKUP_FLAGS);
  if (flags.values.help) {
    console.log(BACKUP_HELP);
    return 0;
  }
  if (flags.positionals.length === 0) throw new UsageError("Nothing to back up: give a PATH");
  const json = flags.values.json === true;
  const quiet = flags.values.quiet === true;
  const host = stringFlag(flags, "host") ?? Deno.hostname();
  const matchers = [new ExcludeMatcher(strings(flags.values.exclude))];
  for (const file of strings(flags.values["exclude-file"])) {
    matchers.push(await ExcludeMatcher.fromFile(file));
  }
  const exclude = excludeAny(matchers);
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings);
  const reporter = reporterFor(json, quiet);
  // Many small files make much short-lived garbage: keep the heap near its live size.
  const governor = startHeapGovernor();
  // Directories are scanned on worker threads (./backup/dir_scanner.ts). Two
  // keep up with the rest of a backup on this 2-core machine; a third cost
  // about 20 MiB of peak RSS and no time (session 4).
  const sourceFs = new DenoSourceFs({ scanWorkers: 2 });
  let errors = 0;
  let leaseConn: RespClient | undefined;
  let lease: BackupLease | undefined;
  try {
    // Held from before the cache is trusted until the last commit: no gc
    // deletes what this backup references (docs/gc.md).
    leaseConn = await RespClient.connect(settings);
    lease = await BackupLease.acquire(leaseConn, backupLeaseId(host), {
      onWait: (message) => reporter.log(`ddb backup: ${message}`),
    });
    for (const given of flags.positionals) {
      const path = resolve(given);
      const cache = openCache(settings.server, settings.db, host, path, reporter);
      try {
        if (cache?.snapshotKey !== undefined && !(await repo.exists(cache.snapshotKey))) {
          cache.reset();
        }
        const result = await backup({
          path,
          host,
          tags: strings(flags.values.tag),
          exclude,
          oneFileSystem: flags.values["one-file-system"] === true,
          dryRun: flags.values["dry-run"] === true,
        }, {
          fs: sourceFs,
          repo: leasedRepository(repo, lease),
          cache,
          now: () => new Date(),
          progress: (stats, current) => reporter.update(progressState(stats, current)),
          warn: (p, message) => {
            const line = `ddb backup: cannot read ${p}: ${message}`;
            reporter.log(line);
            if (json) console.error(line);
          },
        });
        if (result.snapshotKey !== undefined) cache?.commit(result.snapshotKey);
        errors += result.stats.errors;
        reporter.finish();
        reporter.summary({
          path,
          snapshot: result.snapshotKey?.slice(2) ?? null,
          dryRun: result.snapshotKey === undefined,
          ...result.stats,
        });
        if (!json && !quiet) console.log(summaryLine(path, result.snapshotKey, result.stats));
      } finally {
        cache?.close();
      }
    }
  } finally {
    await lease?.release();
    await leaseConn?.closed();
    sourceFs.close();
    governor.stop();
    reporter.finish();
    await repo.close();
  }
  return exitCodeFor(errors);
}

function openCache(
  server: string,
  db: string,
  host: string,
  path: string,
  reporter: ProgressReporter,
): FileCache | undefined {
  try {
    return FileCache.open(cachePathFor({ cacheDir: defaultCacheDir(), server, db, host, path }), {
      onWarning: (message) => reporter.log(`ddb backup: ${message}`),
    });
  } catch (error) {
    if (!(error instanceof FileCacheError)) throw error;
    reporter.log(`ddb backup: ${error.message}; backing up without the cache`);
    return undefined;
  }
}

function progressState(stats: BackupStats, current: string) {
  return {
    phase: "backup",
    files: stats.files,
    dirs: stats.dirs,
    bytesDone: stats.bytes,
    newBytes: stats.newBytes,
    errors: stats.errors,
    currentPath: current,
  };
}

function summaryLine(path: string, key: string | undefined, stats: BackupStats): string {
  const id = key === undefined ? "(dry run, nothing saved)" : `snapshot ${key.slice(2, 10)}`;
  return `${path}: ${id}: ${stats.files} files, ${stats.dirs} dirs, ${
    formatBytes(stats.bytes)
  } (${stats.filesUnchanged} unchanged), ${stats.newChunks} new chunks, ${
    formatBytes(stats.newBytes)
  } uploaded` + (stats.errors > 0 ? `, ${stats.errors} unreadable` : "");
}

/** Runs `ddb snapshots`. */
export async function snapshotsCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, SNAPSHOTS_FLAGS);
  if (flags.values.help) {
    console.log(SNAPSHOTS_HELP);
    return 0;
  }
  if (flags.positionals.length > 1) throw new UsageError("Give at most one PATH");
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings, 0);
  try {
    let snapshots = await repo.listSnapshots();
    if (flags.positionals.length === 1) {
      const path = resolve(flags.positionals[0]);
      snapshots = snapshots.filter((s) => s.path === path);
    }
    if (flags.values.json === true) {
      console.log(JSON.stringify(
        snapshots.map((s) => ({
          id: s.key.slice(2),
          time: new Date(Number(s.timeUs / 1000n)).toISOString(),
          host: s.host,
          path: s.path,
          tags: s.tags,
          files: s.files,
          dirs: s.dirs,
          bytes: s.bytes,
          newBytes: s.newBytes,
          errors: s.errors,
        })),
        null,
        2,
      ));
      return 0;
    }
    const rows = snapshots.map((s) => [
      s.key.slice(2, 10),
      new Date(Number(s.timeUs / 1000n)).toISOString().replace(/\.\d+Z$/, "Z"),
      s.host,
      s.path,
      String(s.files),
      formatBytes(s.bytes),
      formatBytes(s.newBytes),
    ]);
    const header = ["ID", "Time", "Host", "Path", "Files", "Size", "New data"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    console.log(`${snapshots.length} snapshot${snapshots.length === 1 ? "" : "s"}`);
    return 0;
  } finally {
    await repo.close();
  }
}
