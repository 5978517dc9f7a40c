/**
 * `ddb db`: export, import and recovery of a database's metadata.
 *
 * - `ddb db export NAME FILE` pages a dump of database NAME out of a running
 *   server (DBEXPORT), checking it as it arrives; FILE appears only once the
 *   dump is complete and verified.
 * - `ddb db import FILE [NAME]` streams a dump into an empty database of a
 *   running server (DBIMPORT), which applies it all or nothing.
 * - `ddb db recover --from-storage URL [--data DIR] [NAME]` rebuilds a
 *   database's kv file in a stopped server's data directory from the newest
 *   metadata backup (METABACKUP) in the storage.
 * - `ddb db backups --from-storage URL [NAME]` lists those backups.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";
import { CONNECTION_FLAGS } from "../../client/cli.ts";
import { resolveClientSettings } from "../../client/connection.ts";
import { asArray, asInteger, asText, RespClient } from "../../client/remote/resp_client.ts";
import { openStorage } from "../../storage/registry.ts";
import { isValidDatabaseName } from "../config.ts";
import { defaultDataDir } from "./data_dir.ts";
import { DumpDecoder, type DumpSummary } from "./dump_format.ts";
import { listManifests } from "./meta_backup.ts";
import { recoverFromStorage } from "./recover.ts";

/** Bytes read from a dump file per DBIMPORT PUT: 1 MiB. */
const PUT_BYTES = 1024 * 1024;
/** DBIMPORT PUTs sent before the first of them is answered. */
const PUTS_IN_FLIGHT = 4;

const encoder = new TextEncoder();

const { db: _db, ...SERVER_FLAGS } = CONNECTION_FLAGS;

const STORAGE_FLAGS: FlagSpecs = {
  "from-storage": {
    type: "string",
    value: "URL",
    help: "The blob storage holding the metadata backups (file:///…, /path, s3://…, sftp://…)",
  },
};

const RECOVER_FLAGS: FlagSpecs = {
  ...STORAGE_FLAGS,
  data: {
    type: "string",
    value: "DIR",
    help: "Data directory of the (stopped) server ($DDB_DATA, ~/.local/share/ddb)",
  },
};

const EXPORT_HELP = formatHelp(
  "ddb db export NAME FILE [options]",
  `Writes a dump of database NAME, a consistent snapshot taken while the server keeps
running, to FILE (- for standard output). FILE appears only once the whole dump has
arrived and its checksum is verified. Format: docs/dump-format.md.`,
  SERVER_FLAGS,
);

const IMPORT_HELP = formatHelp(
  "ddb db import FILE [NAME] [options]",
  `Loads the dump in FILE (- for standard input) into database NAME (by default the name
recorded in the dump), which must be empty. The server verifies the whole dump before
it writes anything: a damaged or truncated dump changes nothing. The database must use
the same blob storage (or a copy of it) as the one the dump was taken from.`,
  SERVER_FLAGS,
);

const RECOVER_HELP = formatHelp(
  "ddb db recover --from-storage URL [--data DIR] [NAME]",
  `Rebuilds database NAME (by default the database of the newest backup) in a data
directory from the newest metadata backup (METABACKUP, ddb serve --meta-backup-every)
found in its blob storage. The server of that data directory must be stopped; the
database must not exist or be empty. A backup that cannot be read is skipped for the
next older one. Index records of blobs the storage no longer holds are dropped.`,
  RECOVER_FLAGS,
);

const BACKUPS_HELP = formatHelp(
  "ddb db backups --from-storage URL [NAME]",
  "Lists the metadata backups in a blob storage (of database NAME only, when given), newest first.",
  STORAGE_FLAGS,
);

/** The help of `ddb db`. */
export const DB_HELP = `Usage: ddb db <command> ...

Export, import and recovery of a database's metadata (keys, snapshots, blob index).

Commands:
  export NAME FILE                               Dump a database of a running server to FILE
  import FILE [NAME]                             Load a dump into an empty database
  recover --from-storage URL [--data DIR] [NAME] Rebuild a database from its storage's backups
  backups --from-storage URL [NAME]              List the metadata backups in a storage

Run 'ddb db <command> --help' for its options.
`;

async function writeAll(file: Deno.FsFile | typeof Deno.stdout, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}

function databaseName(name: string): string {
  if (!isValidDatabaseName(name)) {
    throw new UsageError(
      `Invalid database name "${name}": 1-64 letters, digits, '_', '-' or '.', not starting with '.'`,
    );
  }
  return name;
}

async function connect(flags: ReturnType<typeof parseFlags>): Promise<RespClient> {
  const settings = await resolveClientSettings({
    server: stringFlag(flags, "server"),
    config: stringFlag(flags, "config"),
  });
  return await RespClient.connect({
    hostname: settings.hostname,
    port: settings.port,
    ...(settings.password !== undefined ? { password: settings.password } : {}),
  });
}

function describe(summary: DumpSummary): string {
  return `${summary.records} records, ${summary.bytes} bytes, checksum ${summary.checksum}`;
}

async function exportCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, SERVER_FLAGS);
  if (flags.values.help) {
    console.log(EXPORT_HELP);
    return 0;
  }
  if (flags.positionals.length !== 2) throw new UsageError("Expected NAME and FILE");
  const [name, path] = [databaseName(flags.positionals[0]), flags.positionals[1]];
  const client = await connect(flags);
  const toStdout = path === "-";
  const temp = `${path}.${randomUUID().slice(0, 8)}.partial`;
  const file = toStdout ? undefined : await Deno.open(temp, { write: true, createNew: true });
  const out = file ?? Deno.stdout;
  let summary: DumpSummary;
  try {
    const dump = new DumpDecoder();
    let cursor = "0";
    do {
      const [next, bytes] = asArray(await client.call("DBEXPORT", name, cursor));
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError("Cannot read DBEXPORT reply: no bytes");
      }
      dump.push(bytes);
      while (dump.next() !== undefined) {
        // Checked as it arrives; the trailer's checksum is verified at the end.
      }
      await writeAll(out, bytes);
      cursor = asText(next);
    } while (cursor !== "0");
    summary = dump.finish();
    if (file !== undefined) {
      await file.sync();
      file.close();
      await Deno.rename(temp, path);
    }
  } catch (error) {
    if (file !== undefined) {
      try {
        file.close();
      } catch {
        // Already closed.
      }
      await Deno.remove(temp).catch(() => {});
    }
    throw error;
  } finally {
    await client.closed();
  }
  const message = `Exported database "${name}" (${describe(summary)})` +
    (toStdout ? "" : ` to ${path}`);
  if (toStdout) console.error(message);
  else console.log(message);
  return 0;
}

/** Reads `file` in pieces of up to `size` bytes. */
async function* pieces(file: Deno.FsFile | typeof Deno.stdin, size: number) {
  for (;;) {
    const buffer = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled > 0) yield buffer.subarray(0, filled);
    if (filled < size) return;
  }
}

async function importCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, SERVER_FLAGS);
  if (flags.values.help) {
    console.log(IMPORT_HELP);
    return 0;
  }
  const [path, given] = flags.positionals;
  if (path === undefined || flags.positionals.length > 2) {
    throw new UsageError("Expected FILE and optionally NAME");
  }
  if (given !== undefined) databaseName(given);
  const file = path === "-" ? Deno.stdin : await Deno.open(path);
  try {
    const dump = new DumpDecoder();
    const reader = pieces(file, PUT_BYTES);
    const first = await reader.next();
    if (!first.done) dump.push(first.value);
    const head = dump.next();
    if (head?.kind !== "header") dump.finish();
    const name = given ?? (head?.kind === "header" ? head.header.database : "");
    databaseName(name);
    const client = await connect(flags);
    try {
      const token = asText(await client.call("DBIMPORT", "BEGIN", name));
      try {
        const sent: Promise<unknown>[] = [];
        const put = async (bytes: Uint8Array) => {
          sent.push(client.call("DBIMPORT", "PUT", token, bytes));
          if (sent.length >= PUTS_IN_FLIGHT) await sent.shift();
        };
        if (!first.done) await put(first.value);
        for await (const piece of reader) {
          dump.push(piece);
          while (dump.next() !== undefined) {
            // Checked here too, to stop sending a bad dump early.
          }
          await put(piece);
        }
        while (dump.next() !== undefined) {
          // The rest of the first piece.
        }
        dump.finish();
        await Promise.all(sent);
        const records = asInteger(await client.call("DBIMPORT", "COMMIT", token));
        console.log(`Imported ${records} records into database "${name}"`);
      } catch (error) {
        await client.call("DBIMPORT", "ABORT", token).catch(() => {});
        throw error;
      }
    } finally {
      await client.closed();
    }
  } finally {
    if (file !== Deno.stdin) file.close();
  }
  return 0;
}

function storageUrl(flags: ReturnType<typeof parseFlags>): string {
  const url = stringFlag(flags, "from-storage");
  if (url === undefined) throw new UsageError("--from-storage URL is required");
  return url;
}

async function recoverCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, RECOVER_FLAGS);
  if (flags.values.help) {
    console.log(RECOVER_HELP);
    return 0;
  }
  if (flags.positionals.length > 1) throw new UsageError("Expected at most one NAME");
  const database = flags.positionals[0] === undefined
    ? undefined
    : databaseName(flags.positionals[0]);
  const url = storageUrl(flags);
  const dataDir = stringFlag(flags, "data") ?? (Deno.env.get("DDB_DATA") || defaultDataDir());
  const storage = await openStorage(url);
  try {
    const result = await recoverFromStorage({
      storage,
      dataDir,
      ...(database !== undefined ? { database } : {}),
      onSkip: (stored, reason) =>
        console.error(
          `ddb db recover: skipping the backup ${stored.id} of ` +
            `${new Date(stored.manifest.createdAt).toISOString()}: ${reason}`,
        ),
    });
    const { manifest } = result.backup;
    console.log(
      `Recovered database "${result.database}" from the metadata backup ${result.backup.id} ` +
        `of ${new Date(manifest.createdAt).toISOString()} (${manifest.records} records, ` +
        `${result.indexedBlobs} blobs indexed) into ${result.path}`,
    );
    if (result.droppedBlobs.length > 0) {
      console.error(
        `ddb db recover: ${result.droppedBlobs.length} indexed blobs are not in the storage ` +
          "(deleted or lost since the backup) and were dropped from the index; snapshots that " +
          "need them are damaged (ddb check lists them)",
      );
    }
  } finally {
    await storage.close();
  }
  return 0;
}

async function backupsCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, STORAGE_FLAGS);
  if (flags.values.help) {
    console.log(BACKUPS_HELP);
    return 0;
  }
  if (flags.positionals.length > 1) throw new UsageError("Expected at most one NAME");
  const database = flags.positionals[0];
  const storage = await openStorage(storageUrl(flags));
  try {
    const found = await listManifests(storage, database);
    for (const { id, manifest } of found) {
      await writeAll(
        Deno.stdout,
        encoder.encode(
          `${new Date(manifest.createdAt).toISOString()}  ${manifest.database}  ` +
            `${manifest.records} records  ${manifest.bytes} bytes  ` +
            `${manifest.pieces.length} pieces  ${id}\n`,
        ),
      );
    }
    if (found.length === 0) console.error("No metadata backups found");
  } finally {
    await storage.close();
  }
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  export: exportCommand,
  import: importCommand,
  recover: recoverCommand,
  backups: backupsCommand,
};

/** Runs `ddb db ARGS…`; resolves with the exit code (throws `UsageError` on bad usage). */
export async function dbCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(DB_HELP);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) throw new UsageError(`Unknown command "db ${name}"`);
  return await command(rest);
}
