/**
 * Server configuration: defaults, the JSON config file, and validation.
 *
 * The config file (`ddb serve --config FILE`) is JSON:
 *
 * ```json
 * {
 *   "listen": "127.0.0.1:9736",
 *   "data": "/var/lib/ddb",
 *   "requirepass": "secret",
 *   "logLevel": "info",
 *   "databases": {
 *     "default": { "storage": "file:///srv/ddb/blobs/default" },
 *     "photos": { "storage": "file:///mnt/nas/ddb-photos" }
 *   }
 * }
 * ```
 *
 * Every field is optional. Command-line flags win over the file. A database
 * that is not listed gets a local storage under `<data>/blobs/<name>`.
 *
 * @module
 */

import { type LogLevel, parseLogLevel } from "./log/logger.ts";

/** A host and port to listen on. */
export interface ListenAddress {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port (0 picks a free one). */
  port: number;
}

/** Limits that protect the server from bad or hostile clients. */
export interface ServerLimits {
  /** Largest single argument (bulk string) in bytes. */
  maxBulkBytes: number;
  /** Largest whole request in bytes. */
  maxRequestBytes: number;
  /** Most arguments in one request. */
  maxArgs: number;
  /** Most simultaneous client connections. */
  maxClients: number;
  /** A partly received request that makes no progress for this long is dropped (ms). */
  requestTimeoutMs: number;
}

/** Everything `ddb serve` needs to run. */
export interface ServerConfig {
  /** Where to listen. */
  listen: ListenAddress;
  /** Data directory: SQLite files, default blob storage, lock file. */
  dataDir: string;
  /** Password required by AUTH; none when undefined. */
  requirePass?: string;
  /** Database name → storage URL, for databases with a configured storage. */
  databases: Record<string, string>;
  /** Lowest log level written. */
  logLevel: LogLevel;
  /** Protective limits. */
  limits: ServerLimits;
}

/** Default port: the original Data Database's. */
export const DEFAULT_PORT = 9736;

/** Default limits. */
export const DEFAULT_LIMITS: ServerLimits = {
  maxBulkBytes: 64 * 1024 * 1024,
  maxRequestBytes: 512 * 1024 * 1024,
  maxArgs: 1024 * 1024,
  maxClients: 10_000,
  requestTimeoutMs: 60_000,
};

/** A database name: 1 to 64 of letters, digits, `_`, `-`, `.`, not starting with `.`. */
export const DATABASE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

/** The configuration is invalid. */
export class ConfigError extends Error {
  /** Builds the error with a message naming the bad setting. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** Parses `host:port` (`[::1]:port` for IPv6). */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new ConfigError(`Cannot parse listen address "${text}": expected HOST:PORT`);
  }
  return { hostname: match[1] ?? (match[2] || "127.0.0.1"), port };
}

/** Checks a database name against {@linkcode DATABASE_NAME}. */
export function isValidDatabaseName(name: string): boolean {
  return DATABASE_NAME.test(name);
}

/** The settings a config file may hold, all optional. */
export interface ConfigFile {
  /** `host:port`. */
  listen?: string;
  /** Data directory. */
  data?: string;
  /** AUTH password. */
  requirepass?: string;
  /** Log level name. */
  logLevel?: string;
  /** Database name → `{ storage: URL }`. */
  databases?: Record<string, { storage: string }>;
  /** Overrides of {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<ServerLimits>;
}

function expectType(value: unknown, type: string, what: string): void {
  if (value !== undefined && typeof value !== type) {
    throw new ConfigError(`Cannot read config: "${what}" must be a ${type}`);
  }
}

/** Validates parsed JSON as a {@linkcode ConfigFile}. */
export function parseConfigFile(json: unknown): ConfigFile {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError("Cannot read config: the top level must be an object");
  }
  const known = new Set(["listen", "data", "requirepass", "logLevel", "databases", "limits"]);
  for (const key of Object.keys(json)) {
    if (!known.has(key)) throw new ConfigError(`Cannot read config: unknown setting "${key}"`);
  }
  const file = json as Record<string, unknown>;
  expectType(file.listen, "string", "listen");
  expectType(file.data, "string", "data");
  expectType(file.requirepass, "string", "requirepass");
  expectType(file.logLevel, "string", "logLevel");
  expectType(file.databases, "object", "databases");
  expectType(file.limits, "object", "limits");
  const databases = (file.databases ?? {}) as Record<string, unknown>;
  for (const [name, entry] of Object.entries(databases)) {
    if (!isValidDatabaseName(name)) {
      throw new ConfigError(`Cannot read config: invalid database name "${name}"`);
    }
    const storage = (entry as { storage?: unknown } | null)?.storage;
    if (typeof storage !== "string") {
      throw new ConfigError(`Cannot read config: databases.${name}.storage must be a URL string`);
    }
  }
  const limits = (file.limits ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in DEFAULT_LIMITS)) {
      throw new ConfigError(`Cannot read config: unknown limit "${key}"`);
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new ConfigError(`Cannot read config: limits.${key} must be a positive integer`);
    }
  }
  return file as ConfigFile;
}

/** Overrides given on the command line (or environment), winning over the file. */
export interface ConfigOverrides {
  /** `--listen`. */
  listen?: string;
  /** `--data`. */
  data?: string;
  /** `--requirepass` or `DDB_REQUIREPASS`. */
  requirepass?: string;
  /** `--log-level`. */
  logLevel?: string;
}

function configLogLevel(text: string): LogLevel {
  try {
    return parseLogLevel(text);
  } catch (cause) {
    throw new ConfigError((cause as Error).message, { cause });
  }
}

/** Merges defaults, a config file and overrides into a {@linkcode ServerConfig}. */
export function resolveConfig(
  file: ConfigFile,
  overrides: ConfigOverrides,
  defaultDataDir: string,
): ServerConfig {
  const databases: Record<string, string> = {};
  for (const [name, entry] of Object.entries(file.databases ?? {})) databases[name] = entry.storage;
  const requirePass = overrides.requirepass ?? file.requirepass;
  return {
    listen: parseListenAddress(overrides.listen ?? file.listen ?? `127.0.0.1:${DEFAULT_PORT}`),
    dataDir: overrides.data ?? file.data ?? defaultDataDir,
    requirePass: requirePass === "" ? undefined : requirePass,
    databases,
    logLevel: configLogLevel(overrides.logLevel ?? file.logLevel ?? "info"),
    limits: { ...DEFAULT_LIMITS, ...file.limits },
  };
}
