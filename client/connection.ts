/**
 * Where the client finds its server: flags, then environment (`DDB_SERVER`,
 * `DDB_DB`, `DDB_PASSWORD`), then the client config file
 * (`$XDG_CONFIG_HOME/ddb/client.json` or `~/.config/ddb/client.json`, or
 * `--config`), then defaults (`127.0.0.1:9736`, database `default`).
 *
 * The config file is JSON: `{ "server": "nas:9736", "db": "photos",
 * "password": "…" }` (keep it mode 0600 when it holds a password).
 *
 * @module
 */

import { join } from "node:path";
import { homedir } from "node:os";
import { type ParsedFlags, stringFlag, UsageError } from "../cli/flags.ts";
import type { ConnectOptions } from "./remote/resp_client.ts";

/** The resolved connection settings. */
export interface ClientSettings extends ConnectOptions {
  /** `host:port` as given, for the cache key and messages. */
  server: string;
  /** Database name. */
  db: string;
}

/** Settings a user can give. */
export interface ClientOverrides {
  /** `--server`. */
  server?: string;
  /** `--db`. */
  db?: string;
  /** `--config`. */
  config?: string;
}

function defaultConfigPath(): string {
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".config"), "ddb", "client.json");
}

async function readConfig(path: string, explicit: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (!explicit && cause instanceof Deno.errors.NotFound) return {};
    throw new UsageError(`Cannot read client config "${path}": ${(cause as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`Cannot parse client config "${path}": ${(cause as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new UsageError(`Cannot read client config "${path}": expected an object`);
  }
  for (const key of Object.keys(json)) {
    if (!["server", "db", "password"].includes(key)) {
      throw new UsageError(`Cannot read client config "${path}": unknown setting "${key}"`);
    }
  }
  return json as Record<string, unknown>;
}

/** Resolves the server address, database and password. */
export async function resolveClientSettings(overrides: ClientOverrides): Promise<ClientSettings> {
  const file = await readConfig(
    overrides.config ?? defaultConfigPath(),
    overrides.config !== undefined,
  );
  const text = (v: unknown) => typeof v === "string" && v !== "" ? v : undefined;
  const server = overrides.server ?? text(Deno.env.get("DDB_SERVER")) ?? text(file.server) ??
    "127.0.0.1:9736";
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(server);
  if (!match || Number(match[3]) > 65535) {
    throw new UsageError(`Cannot use server address "${server}": expected HOST:PORT`);
  }
  const db = overrides.db ?? text(Deno.env.get("DDB_DB")) ?? text(file.db) ?? "default";
  const password = text(Deno.env.get("DDB_PASSWORD")) ?? text(file.password);
  return {
    server,
    hostname: match[1] ?? match[2],
    port: Number(match[3]),
    db,
    ...(password !== undefined ? { password } : {}),
  };
}

/** {@linkcode resolveClientSettings} from a command's `--server`, `--db` and `--config` flags. */
export function settingsFromFlags(flags: ParsedFlags): Promise<ClientSettings> {
  return resolveClientSettings({
    server: stringFlag(flags, "server"),
    db: stringFlag(flags, "db"),
    config: stringFlag(flags, "config"),
  });
}
