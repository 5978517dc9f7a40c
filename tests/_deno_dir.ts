/**
 * The module cache (DENO_DIR) of this process, for child processes run with
 * their own `XDG_CACHE_HOME`: Deno derives its cache from that variable, so
 * without an explicit DENO_DIR each such child would download the npm
 * packages and transpile every module again (seconds per fresh directory,
 * which benchmarks would count as ddb's time).
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
