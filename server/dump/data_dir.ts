/**
 * Where `ddb serve` keeps each database's kv file in its data directory, and
 * the data directory's lock: the layout of `server/cli.ts`, for the tools
 * that work on a data directory with or without its server (dumps, recovery).
 *
 * ```text
 * <data>/ddb.lock           held (flock) while a server runs
 * <data>/db/<name>.sqlite   the kv file of database <name>
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { homedir } from "node:os";

/** The data directory used when none is given: `$XDG_DATA_HOME/ddb` or `~/.local/share/ddb`. */
export function defaultDataDir(): string {
  const xdg = Deno.env.get("XDG_DATA_HOME");
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".local", "share"), "ddb");
}

/** The directory of the kv files in `dataDir`. */
export function kvDir(dataDir: string): string {
  return join(dataDir, "db");
}

/** The kv file of database `name` in `dataDir`. */
export function kvFilePath(dataDir: string, name: string): string {
  return join(kvDir(dataDir), `${name}.sqlite`);
}

/** A server runs on the data directory (or another tool holds its lock). */
export class DataDirBusyError extends Error {
  /** Builds the error for `dataDir`. */
  constructor(dataDir: string, options?: ErrorOptions) {
    super(`Cannot use data directory "${dataDir}": a ddb server is using it`, options);
    this.name = "DataDirBusyError";
  }
}

/**
 * Takes the data directory's exclusive lock (creating the directory), as
 * `ddb serve` does, so that no server starts on it meanwhile. Throws
 * {@linkcode DataDirBusyError} when it is held. Close the file to release.
 */
export async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dataDir, { recursive: true });
  const file = await Deno.open(join(dataDir, "ddb.lock"), { write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new DataDirBusyError(dataDir);
  }
  return file;
}
