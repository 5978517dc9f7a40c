/**
 * Dump commands: DBEXPORT, DBIMPORT, METABACKUP (see `docs/dump-format.md`).
 *
 * - `DBEXPORT name 0` starts an export of a consistent snapshot of database
 *   `name` and answers `[cursor, bytes]`: the first page of the dump and the
 *   cursor of the next; `DBEXPORT name cursor` answers the next page. The
 *   cursor `0` marks the last page. The dump's bytes are the pages in order.
 * - `DBIMPORT BEGIN name` → token; `DBIMPORT PUT token bytes` (in order);
 *   `DBIMPORT COMMIT token` → the record count, once the whole dump is
 *   verified and copied into the (empty) database in one transaction;
 *   `DBIMPORT ABORT token`.
 * - `METABACKUP [name] [KEEP n]` writes a dump of the database (the selected
 *   one by default) into its own blob storage, for `ddb db recover`.
 *
 * @module
 */

import { KvFormatError } from "../kv/sqlite_kv_store.ts";
import { array, bulk, int, map, OK, type Reply } from "../resp/reply.ts";
import type { CommandContext, CommandSpec } from "./command_spec.ts";
import { count, keyword, text } from "./args.ts";
import { CommandError, syntaxError } from "./command_error.ts";
import { DumpFormatError } from "../dump/dump_format.ts";
import { DumpRequestError, dumpServiceOf } from "../dump/dump_service.ts";
import { DEFAULT_KEEP } from "../dump/meta_backup.ts";

/** Runs `fn`, answering the errors a client can act on with their message. */
async function answering(fn: () => Reply | Promise<Reply>): Promise<Reply> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof DumpRequestError) throw new CommandError(error.message, { cause: error });
    if (error instanceof DumpFormatError || error instanceof KvFormatError) {
      throw new CommandError(`ERR ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function dbexport({ server }: CommandContext, [name, cursor]: Uint8Array[]): Promise<Reply> {
  return answering(async () => {
    const service = dumpServiceOf(server);
    const [db, at] = [text(name), text(cursor)];
    const page = at === "0" ? await service.startExport(db) : service.continueExport(db, at);
    return array([bulk(page.cursor), bulk(page.bytes)]);
  });
}

function dbimport({ server }: CommandContext, args: Uint8Array[]): Promise<Reply> {
  return answering(async () => {
    const service = dumpServiceOf(server);
    const sub = keyword(args[0]);
    if (sub === "BEGIN" && args.length === 2) return bulk(await service.beginImport(text(args[1])));
    if (sub === "PUT" && args.length === 3) {
      service.putImport(text(args[1]), args[2]);
      return OK;
    }
    if (sub === "COMMIT" && args.length === 2) {
      const { summary } = await service.commitImport(text(args[1]));
      return int(summary.records);
    }
    if (sub === "ABORT" && args.length === 2) {
      service.abortImport(text(args[1]));
      return OK;
    }
    throw syntaxError();
  });
}

function metabackup({ server, session }: CommandContext, args: Uint8Array[]): Promise<Reply> {
  return answering(async () => {
    let name = session.db.name;
    let keep = DEFAULT_KEEP;
    let i = 0;
    if (args.length % 2 === 1) name = text(args[i++]);
    for (; i < args.length; i += 2) {
      if (keyword(args[i]) !== "KEEP") throw syntaxError();
      keep = count(args[i + 1]);
      if (keep < 1) throw new CommandError("ERR KEEP must be at least 1");
    }
    const report = await dumpServiceOf(server).metaBackup(name, keep);
    return map([
      [bulk("manifest"), bulk(report.manifestId)],
      [bulk("records"), int(report.manifest.records)],
      [bulk("bytes"), int(report.manifest.bytes)],
      [bulk("pieces"), int(report.manifest.pieces.length)],
      [bulk("pruned"), int(report.prunedManifests)],
    ]);
  });
}

/** The dump commands. */
export const DUMP_COMMANDS: readonly CommandSpec[] = [
  {
    name: "DBEXPORT",
    arity: 3,
    flags: ["admin", "notx"],
    synopsis: "name cursor",
    summary: "A page of a dump of a database: [next cursor, bytes]; cursor 0 starts, and ends.",
    async: dbexport,
  },
  {
    name: "DBIMPORT",
    arity: -3,
    flags: ["write", "admin", "notx"],
    synopsis: "BEGIN name | PUT token bytes | COMMIT token | ABORT token",
    summary: "Loads a dump into an empty database, all or nothing; COMMIT returns the records.",
    async: dbimport,
  },
  {
    name: "METABACKUP",
    arity: -1,
    flags: ["admin", "notx"],
    synopsis: "[name] [KEEP n]",
    summary: "Writes a dump of the database into its blob storage (keeps the newest n, 3).",
    async: metabackup,
  },
];
