/**
 * The environment of a `ddb` child process that must not touch the user's
 * cache and config: its own `XDG_CACHE_HOME` and `XDG_CONFIG_HOME` under a
 * test directory, and this process's module cache (DENO_DIR). Deno derives
 * its cache from `XDG_CACHE_HOME`, so without an explicit DENO_DIR each such
 * child would download the npm packages and transpile every module again
 * (seconds per fresh directory, which benchmarks would count as ddb's time).
 *
 * @module
 */

import { join } from "node:path";

/** DENO_DIR as Deno resolves it: $DENO_DIR, else $XDG_CACHE_HOME/deno, else ~/.cache/deno. */
export function denoDir(getEnv: (name: string) => string | undefined = Deno.env.get): string {
  const explicit = getEnv("DENO_DIR");
  if (explicit) return explicit;
  const xdg = getEnv("XDG_CACHE_HOME");
  if (xdg?.startsWith("/")) return join(xdg, "deno");
  return join(getEnv("HOME") ?? "/root", ".cache", "deno");
}

/** `XDG_CACHE_HOME` and `XDG_CONFIG_HOME` under `dir`, and this process's DENO_DIR. */
export function isolatedEnv(dir: string): Record<string, string> {
  return {
    XDG_CACHE_HOME: join(dir, "cache"),
    XDG_CONFIG_HOME: join(dir, "config"),
    DENO_DIR: denoDir(),
  };
}
