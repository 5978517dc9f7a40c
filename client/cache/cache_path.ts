/**
 * Where a backup target's file cache (`FileCache`) lives.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** What identifies a backup target's cache. */
export interface CacheTarget {
  /** The cache directory, e.g. {@linkcode defaultCacheDir}. */
  cacheDir: string;
  /** The server, `host:port`. */
  server: string;
  /** The server database (number or name). */
  db: string | number;
  /** The host name recorded in the snapshots. */
  host: string;
  /** The absolute path backed up. */
  path: string;
}

/**
 * `<cacheDir>/ddb/<id>.sqlite`, where `<id>` is the first 32 hex digits of
 * the SHA-256 of `server`, `db`, `host` and `path` joined by NUL bytes: one
 * cache per (server, database, host, path).
 */
export function cachePathFor(target: CacheTarget): string {
  const { server, db, host, path } = target;
  const id = createHash("sha256").update(`${server}\0${db}\0${host}\0${path}`).digest("hex")
    .slice(0, 32);
  const dir = target.cacheDir.length > 1 ? target.cacheDir.replace(/\/+$/, "") : target.cacheDir;
  return `${dir === "/" ? "" : dir}/ddb/${id}.sqlite`;
}

/** No cache directory can be derived from the environment. */
export class CacheDirError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CacheDirError";
  }
}

/**
 * The user's cache directory: `$XDG_CACHE_HOME` when set to an absolute path
 * (the XDG spec ignores relative ones), else `$HOME/.cache`. Throws
 * {@linkcode CacheDirError} when neither is set. `getEnv` reads an
 * environment variable (default `Deno.env.get`, which needs `--allow-env`).
 */
export function defaultCacheDir(
  getEnv: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string {
  const xdg = getEnv("XDG_CACHE_HOME");
  if (xdg !== undefined && xdg.startsWith("/")) return xdg;
  const home = getEnv("HOME");
  if (home !== undefined && home !== "") return `${home.replace(/\/+$/, "")}/.cache`;
  throw new CacheDirError(
    "Cannot find a cache directory: neither XDG_CACHE_HOME (absolute) nor HOME is set",
  );
}
