/**
 * Checking a server's host key against an OpenSSH `known_hosts` file.
 *
 * Supported: plain host patterns (`host`, `[host]:port`, comma lists, `*` and
 * `?` wildcards, `!` negations), hashed names (`|1|salt|hash`, as written by
 * `ssh-keygen -H` or `HashKnownHosts yes`) and `@revoked` lines.
 * `@cert-authority` lines are ignored (host certificates are not supported).
 *
 * This module does no I/O: the file's text is passed in.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";

/** The outcome of {@linkcode checkHostKey}. */
export type HostKeyVerdict =
  /** A line for this host holds this key. */
  | { kind: "trusted" }
  /** No line names this host. */
  | { kind: "unknown" }
  /** Lines name this host, with other keys only (`knownTypes`: their key types). */
  | { kind: "mismatch"; knownTypes: string[] }
  /** A `@revoked` line holds this key. */
  | { kind: "revoked" };

/** The name of `host` at `port` as written in known_hosts: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Checks `key` (the raw public key blob the server sent) for `host`:`port`
 * against the text of a known_hosts file.
 *
 * @example
 * ```ts
 * const verdict = checkHostKey(knownHostsText, "nas.lan", 22, keyBlob);
 * if (verdict.kind !== "trusted") throw new Error(`refused: ${verdict.kind}`);
 * ```
 */
export function checkHostKey(
  text: string,
  host: string,
  port: number,
  key: Uint8Array,
): HostKeyVerdict {
  const name = knownHostsName(host, port).toLowerCase();
  const keyBase64 = toBase64(key);
  let matched = false;
  let trusted = false;
  const knownTypes: string[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith("@")) marker = fields.shift();
    if (fields.length < 3) continue;
    const [hosts, type, blob] = fields;
    if (!hostsMatch(hosts, name)) continue;
    const sameKey = blob === keyBase64;
    if (marker === "@revoked") {
      if (sameKey) return { kind: "revoked" };
      continue;
    }
    if (marker !== undefined) continue; // @cert-authority: not supported.
    matched = true;
    if (sameKey) trusted = true;
    else knownTypes.push(type);
  }
  if (trusted) return { kind: "trusted" };
  return matched ? { kind: "mismatch", knownTypes } : { kind: "unknown" };
}

/** The OpenSSH fingerprint of a raw public key blob: `SHA256:` and unpadded base64. */
export function fingerprint(key: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named at the start of a raw public key blob, such as `ssh-ed25519`. */
export function keyType(key: Uint8Array): string {
  if (key.length < 4) return "unknown";
  const length = new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0);
  if (length > 64 || 4 + length > key.length) return "unknown";
  return new TextDecoder().decode(key.subarray(4, 4 + length));
}

/** Whether the host field of a known_hosts line (`hosts`) names `name`. */
function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (salt === undefined || hash === undefined) return false;
    const actual = createHmac("sha1", fromBase64(salt)).update(name).digest("base64");
    return actual === hash;
  }
  let positive = false;
  for (const pattern of hosts.toLowerCase().split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) {
      positive = true;
    }
  }
  return positive;
}

/** Whether `text` matches the OpenSSH pattern `pattern` (`*` any run, `?` one character). */
function globMatch(pattern: string, text: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll(
    "?",
    ".",
  );
  return new RegExp(`^${regex}$`).test(text);
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}
