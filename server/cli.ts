/**
 * `ddb serve`: flags and environment → configuration → a running server.
 *
 * @module
 */

import { join } from "node:path";
import { homedir } from "node:os";
import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../cli/flags.ts";
import { ConfigError, type ConfigFile, parseConfigFile, resolveConfig } from "./config.ts";
import { Logger } from "./log/logger.ts";
import { Server } from "./server.ts";
import { SqliteKvStore } from "./kv/sqlite_kv_store.ts";
import { openStorage, redactUrl } from "../storage/registry.ts";
import { LocalStorage } from "../storage/local/local_storage.ts";
import type { DatabaseOpeners } from "./database.ts";
import { VERSION } from "../version.ts";
import { metaBackupInterval, startMetaBackups } from "./dump/meta_backup_schedule.ts";

const FLAGS: FlagSpecs = {
  listen: { type: "string", value: "HOST:PORT", help: "Address to listen on (127.0.0.1:9736)" },
  data: {
    type: "string",
    value: "DIR",
    help: "Data directory: SQLite files and default blob storage ($DDB_DATA, ~/.local/share/ddb)",
  },
  config: { type: "string", value: "FILE", help: "JSON config file (see docs/server.md)" },
  requirepass: {
    type: "string",
    value: "PASSWORD",
    help: "Require AUTH with this password ($DDB_REQUIREPASS; prefer the env or config file)",
  },
  "log-level": { type: "string", value: "LEVEL", help: "debug, info, warn or error (info)" },
  "meta-backup-every": {
    type: "string",
    value: "DURATION",
    help: "Back up each open database's metadata into its storage this often (e.g. 1h)",
  },
};

const DESCRIPTION = `Runs the ddb server: a Redis-protocol (RESP) server keeping metadata in SQLite
and blobs in each database's storage. Stops cleanly on SIGINT, SIGTERM or SHUTDOWN.`;

/** The help text of `ddb serve`. */
export const SERVE_HELP = formatHelp("ddb serve [options]", DESCRIPTION, FLAGS);

function defaultDataDir(): string {
  const xdg = Deno.env.get("XDG_DATA_HOME");
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".local", "share"), "ddb");
}

async function readConfigFile(path: string | undefined): Promise<ConfigFile> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ConfigError(`Cannot read config file "${path}": ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    return parseConfigFile(JSON.parse(text));
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError(`Cannot parse config file "${path}": ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Takes an exclusive lock on the data directory, or fails if another server holds it. */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dataDir, { recursive: true });
  const file = await Deno.open(join(dataDir, "ddb.lock"), { write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new ConfigError(
      `Cannot use data directory "${dataDir}": another ddb server is using it`,
    );
  }
  return file;
}

/** Runs `ddb serve` with `args`; resolves with the exit code when the server stops. */
export async function serveCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  if (flags.values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (flags.positionals.length > 0) {
    throw new UsageError(`Unexpected argument "${flags.positionals[0]}"`);
  }
  const file = await readConfigFile(stringFlag(flags, "config"));
  const config = resolveConfig(file, {
    listen: stringFlag(flags, "listen"),
    data: stringFlag(flags, "data") ?? Deno.env.get("DDB_DATA"),
    requirepass: stringFlag(flags, "requirepass") ?? Deno.env.get("DDB_REQUIREPASS"),
    logLevel: stringFlag(flags, "log-level"),
  }, defaultDataDir());
  const logger = new Logger({ level: config.logLevel });
  const metaBackupEvery = metaBackupInterval(stringFlag(flags, "meta-backup-every"));
  const lock = await lockDataDir(config.dataDir);
  const openers: DatabaseOpeners = {
    async openKv(name) {
      await Deno.mkdir(join(config.dataDir, "db"), { recursive: true });
      return SqliteKvStore.open(join(config.dataDir, "db", `${name}.sqlite`));
    },
    openStorage(name) {
      const url = config.databases[name];
      if (url !== undefined) return openStorage(url);
      return LocalStorage.open(join(config.dataDir, "blobs", name));
    },
  };
  const server = await Server.start({ config, logger, openers });
  startMetaBackups(server, metaBackupEvery);
  logger.info("server.start", {
    version: VERSION,
    address: server.address,
    data: config.dataDir,
    auth: config.requirePass === undefined ? "off" : "on",
  });
  for (const db of server.databases.opened()) {
    logger.info("db.open", { db: db.name, storage: db.storage.displayUrl });
  }
  for (const [name, url] of Object.entries(config.databases)) {
    if (name !== "default") logger.info("db.configured", { db: name, storage: redactUrl(url) });
  }
  const onSignal = (signal: Deno.Signal) => () => server.requestShutdown(signal);
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, onSignal(s)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  await server.finished;
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  lock.close();
  return 0;
}
