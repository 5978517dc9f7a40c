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
import { formatHelp, type FlagSpecs, parseFlags, stringFlag, UsageError } from "../cli/flags.ts";
import { resolveClientSettings } from "./connection.ts";
import { Repository } from "./repo/repository.ts";
import { backup, type BackupStats } from "./backup/backup.ts";
import { denoSourceFs } from "./backup/source_fs.ts";

const encoder = new TextEncoder();

/** Flags every client command takes. */
export const CONNECTION_FLAGS: FlagSpecs = {
  server: { type: "string", value: "HOST:PORT", help: "Server address ($DDB_SERVER; 127.0.0.1:9736)" },
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

/** Human units: 1.5 KiB, 2.0 GiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
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
  const { ExcludeMatcher } = await import("./backup/exclude.ts");
  const patterns = strings(flags.values.exclude);
  const matchers = [new ExcludeMatcher(patterns)];
  for (const file of strings(flags.values["exclude-file"])) {
    matchers.push(await ExcludeMatcher.fromFile(file));
  }
  const exclude = (path: string, isDir: boolean) => matchers.some((m) => m.excludes(path, isDir));
  const settings = await resolveClientSettings({
    server: stringFlag(flags, "server"),
    db: stringFlag(flags, "db"),
    config: stringFlag(flags, "config"),
  });
  const { FileCache, cachePathFor, defaultCacheDir } = await import("./cache/file_cache.ts");
  const repo = await Repository.open(settings);
  const tty = !json && !quiet && Deno.stderr.isTerminal();
  let errors = 0;
  try {
    for (const given of flags.positionals) {
      const path = resolve(given);
      const cache = FileCache.open(
        cachePathFor({ cacheDir: defaultCacheDir(), server: settings.server, db: settings.db, host, path }),
      );
      try {
        if (cache.snapshotKey !== undefined && !(await repo.exists(cache.snapshotKey))) cache.reset();
        let last = 0;
        const result = await backup({
          path,
          host,
          tags: strings(flags.values.tag),
          exclude,
          oneFileSystem: flags.values["one-file-system"] === true,
          dryRun: flags.values["dry-run"] === true,
        }, {
          fs: denoSourceFs,
          repo,
          cache,
          now: () => new Date(),
          progress: (stats, current) => {
            const now = Date.now();
            if (now - last < 250) return;
            last = now;
            if (tty) Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${progressLine(stats, current)}`));
            if (json) console.log(JSON.stringify({ type: "progress", path, ...stats }));
          },
          warn: (p, message) => {
            if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
            console.error(`ddb backup: cannot read ${p}: ${message}`);
          },
        });
        if (tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
        if (result.snapshotKey !== undefined) cache.commit(result.snapshotKey);
        errors += result.stats.errors;
        if (json) {
          console.log(JSON.stringify({
            type: "summary",
            path,
            snapshot: result.snapshotKey?.slice(2) ?? null,
            dryRun: result.snapshotKey === undefined,
            ...result.stats,
          }));
        } else if (!quiet) {
          console.log(summaryLine(path, result.snapshotKey, result.stats));
        }
      } finally {
        cache.close();
      }
    }
  } finally {
    await repo.close();
  }
  return exitCodeFor(errors);
}

function progressLine(stats: BackupStats, current: string): string {
  const line = `${stats.files} files, ${formatBytes(stats.bytes)}, ${
    formatBytes(stats.newBytes)
  } new  ${current}`;
  const width = Deno.consoleSize?.().columns ?? 80;
  return line.length > width - 1 ? line.slice(0, width - 2) + "…" : line;
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
  const settings = await resolveClientSettings({
    server: stringFlag(flags, "server"),
    db: stringFlag(flags, "db"),
    config: stringFlag(flags, "config"),
  });
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
