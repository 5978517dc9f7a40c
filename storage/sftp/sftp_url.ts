/**
 * Parsing `sftp:` storage URLs.
 *
 * ```text
 * sftp://[user[:password]@]host[:port]/path[?param=value&…]
 * ```
 *
 * | Part / parameter                | Meaning                                                        |
 * | ------------------------------- | -------------------------------------------------------------- |
 * | `user`                          | login name (default: the local user name)                      |
 * | `password`                      | password login (prefer `$DDB_SFTP_PASSWORD`)                   |
 * | `host`, `port`                  | the SSH server (port 22 by default)                            |
 * | `/path`                         | the storage directory, absolute; `/~/dir` is `dir` in the home |
 * | `key=/path/id_ed25519`          | private key (default `~/.ssh/id_ed25519`, else `~/.ssh/id_rsa`) |
 * | `known_hosts=/path/known_hosts` | host keys to trust (default `~/.ssh/known_hosts`)              |
 * | `insecure_ignore_host_key=true` | accept any host key (tests only: allows man-in-the-middle)     |
 * | `concurrency=8`                 | requests in flight on the session (1 to 64)                    |
 * | `timeout_ms=30000`              | a request or connection attempt with no answer this long fails |
 *
 * The password may also come from the environment variable
 * `DDB_SFTP_PASSWORD`, and the passphrase of an encrypted key from
 * `DDB_SFTP_KEY_PASSPHRASE`; neither belongs in a URL that may be logged.
 *
 * This module does no I/O: the environment and home directory are passed in.
 *
 * @module
 */

import { join } from "node:path";
import { redactUrl } from "../registry.ts";

/** Environment variable holding the SFTP password. */
export const PASSWORD_ENV = "DDB_SFTP_PASSWORD";
/** Environment variable holding the passphrase of an encrypted private key. */
export const PASSPHRASE_ENV = "DDB_SFTP_KEY_PASSPHRASE";

/** Default number of requests in flight on one session. */
export const DEFAULT_CONCURRENCY = 8;
/** Default time after which an unanswered request or connection attempt fails (ms). */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Everything needed to reach an SFTP storage, parsed from its URL. */
export interface SftpTarget {
  /** The URL with secrets removed, for messages and `displayUrl`. */
  displayUrl: string;
  /** SSH server host name or address (IPv6 without brackets). */
  host: string;
  /** SSH server port. */
  port: number;
  /** Login name. */
  user: string;
  /**
   * Storage directory on the server: an absolute path, or a path relative to
   * the login's home directory when the URL path starts with `/~/`.
   */
  path: string;
  /** Whether {@linkcode SftpTarget.path} is relative to the home directory. */
  homeRelative: boolean;
  /** Private key files to try, in order; the first that exists is used. */
  keyPaths: string[];
  /** Whether the key was named in the URL (then it must exist). */
  keyExplicit: boolean;
  /** Password, from the URL or the environment. */
  password?: string;
  /** Passphrase of an encrypted private key, from the environment. */
  passphrase?: string;
  /** The known_hosts file; undefined when host keys are not checked. */
  knownHostsPath?: string;
  /** Whether `known_hosts` was named in the URL. */
  knownHostsExplicit: boolean;
  /** Requests in flight on one session. */
  concurrency: number;
  /** Timeout of a request or connection attempt (ms). */
  timeoutMs: number;
}

/** Where {@linkcode parseSftpUrl} finds defaults. */
export interface SftpUrlContext {
  /** Environment variables (`DDB_SFTP_PASSWORD`, `DDB_SFTP_KEY_PASSPHRASE`). */
  env: Record<string, string | undefined>;
  /** The local home directory, for the default key and known_hosts. */
  home: string;
  /** The local user name, the default login. */
  localUser: string;
}

/** The SFTP URL is malformed or names an unknown parameter. */
export class SftpUrlError extends Error {
  /** Builds the error for `url` (redacted here); `reason` says what is wrong. */
  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(`Cannot open storage "${redactUrl(url)}": ${reason}`, options);
    this.name = "SftpUrlError";
  }
}

const PARAMS = new Set([
  "key",
  "known_hosts",
  "insecure_ignore_host_key",
  "concurrency",
  "timeout_ms",
]);

/**
 * Parses an `sftp:` URL (see the module documentation).
 *
 * @throws {SftpUrlError} when the URL is not a well-formed `sftp:` URL, has
 * no host or path, or has an unknown or invalid parameter.
 *
 * @example
 * ```ts
 * const target = parseSftpUrl(
 *   "sftp://backup@nas.lan:2222/srv/ddb?known_hosts=/etc/ddb/known_hosts",
 *   { env: {}, home: "/home/me", localUser: "me" },
 * );
 * target.port; // 2222
 * target.keyPaths; // ["/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_rsa"]
 * ```
 */
export function parseSftpUrl(url: string, context: SftpUrlContext): SftpTarget {
  const fail = (reason: string, cause?: unknown) =>
    new SftpUrlError(url, reason, cause === undefined ? undefined : { cause });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw fail("not a URL", error);
  }
  if (parsed.protocol !== "sftp:") throw fail(`not an sftp: URL`);
  if (parsed.hash) throw fail("an sftp: URL takes no fragment");
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw fail("no host");
  const port = parsed.port ? Number(parsed.port) : 22;

  const rawPath = decode(parsed.pathname, "path", fail);
  const homeRelative = rawPath === "/~" || rawPath.startsWith("/~/");
  const path = homeRelative ? rawPath.slice(3) || "." : rawPath;
  if (!homeRelative && (path === "" || path === "/")) {
    throw fail(
      "no storage directory: give a path such as sftp://host/srv/ddb or sftp://host/~/ddb",
    );
  }
  if (path.split("/").some((part) => part === "..")) throw fail('the path may not contain ".."');

  const params = new Map<string, string>();
  for (const [name, value] of parsed.searchParams) {
    if (!PARAMS.has(name)) {
      throw fail(`unknown parameter "${name}" (known: ${[...PARAMS].join(", ")})`);
    }
    if (params.has(name)) throw fail(`parameter "${name}" given twice`);
    params.set(name, value);
  }

  const insecure = params.get("insecure_ignore_host_key");
  if (insecure !== undefined && insecure !== "true" && insecure !== "false") {
    throw fail("insecure_ignore_host_key must be true or false");
  }
  const knownHostsParam = params.get("known_hosts");
  if (insecure === "true" && knownHostsParam !== undefined) {
    throw fail("known_hosts and insecure_ignore_host_key=true contradict each other");
  }
  const keyParam = params.get("key");
  for (const [name, value] of [["key", keyParam], ["known_hosts", knownHostsParam]]) {
    if (value !== undefined && !value.startsWith("/")) {
      throw fail(`${name} must be an absolute path`);
    }
  }
  const sshDir = join(context.home, ".ssh");
  const user = decode(parsed.username, "user name", fail) || context.localUser;
  const password = decode(parsed.password, "password", fail) || context.env[PASSWORD_ENV] ||
    undefined;
  return {
    displayUrl: redactUrl(url),
    host,
    port,
    user,
    path,
    homeRelative,
    keyPaths: keyParam !== undefined
      ? [keyParam]
      : [join(sshDir, "id_ed25519"), join(sshDir, "id_rsa")],
    keyExplicit: keyParam !== undefined,
    password,
    passphrase: context.env[PASSPHRASE_ENV] || undefined,
    knownHostsPath: insecure === "true"
      ? undefined
      : knownHostsParam ?? join(sshDir, "known_hosts"),
    knownHostsExplicit: knownHostsParam !== undefined,
    concurrency: integerParam(params, "concurrency", DEFAULT_CONCURRENCY, 1, 64, fail),
    timeoutMs: integerParam(params, "timeout_ms", DEFAULT_TIMEOUT_MS, 100, 3_600_000, fail),
  };
}

function decode(
  text: string,
  what: string,
  fail: (reason: string, cause?: unknown) => SftpUrlError,
): string {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    throw fail(`bad percent-encoding in the ${what}`, error);
  }
}

function integerParam(
  params: Map<string, string>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  fail: (reason: string) => SftpUrlError,
): number {
  const text = params.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw fail(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
