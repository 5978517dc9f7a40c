/**
 * One SSH connection with its SFTP channel, as promises with timeouts.
 *
 * Every request gets an answer or fails: a request unanswered for the
 * target's `timeoutMs` kills the session, and a session that dies rejects
 * every request in flight with {@linkcode SftpConnectionError}.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  Client,
  type ConnectConfig,
  type SftpAttributes,
  type SftpChannel,
  type SftpEntry,
  type Ssh2Error,
  type SshClient,
} from "./_ssh2.ts";
import { checkHostKey, fingerprint, keyType, knownHostsName } from "./known_hosts.ts";
import {
  SftpAuthError,
  SftpConnectionError,
  SftpHostKeyError,
  SftpStorageError,
} from "./sftp_errors.ts";
import type { SftpTarget } from "./sftp_url.ts";

/** SFTP status code: end of file or of a directory listing. */
export const STATUS_EOF = 1;
/** SFTP status code: no such file. */
export const STATUS_NO_SUCH_FILE = 2;
/** SFTP status code: permission denied. */
export const STATUS_PERMISSION_DENIED = 3;

/**
 * Bytes per read or write request: OpenSSH's largest (its limits@openssh.com
 * answer, 256 KiB less 1 KiB of headers). Larger requests measured faster
 * here than 64 or 128 KiB ones.
 */
const CHUNK_BYTES = 255 * 1024;
/** Read or write requests in flight for one file. */
const CHUNK_WINDOW = 8;
/** Ciphers in order of preference. */
const CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
];
/** Interval of SSH keepalives, which detect a dead idle connection. */
const KEEPALIVE_MS = 15_000;

/** What a session needs besides the target: the secrets, read by the caller. */
export interface SessionCredentials {
  /** The private key file's bytes (a Buffer: ssh2 ignores a plain Uint8Array). */
  privateKey?: Buffer;
  /** Path of the private key, for messages. */
  privateKeyPath?: string;
  /** The known_hosts text; undefined skips the host key check. */
  knownHosts?: string;
}

/** The SFTP status code of an error from a request, if it has one. */
export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** A live SSH connection and SFTP channel. */
export class SftpSession {
  readonly #client: SshClient;
  readonly #sftp: SftpChannel;
  readonly #target: SftpTarget;
  readonly #pending = new Set<(error: Error) => void>();
  readonly #closed: Promise<void>;
  #death: Error | undefined;
  /** Whether the server offers `fsync@openssh.com`. */
  fsyncSupported = true;
  /** Whether the server offers `posix-rename@openssh.com`. */
  posixRenameSupported = true;

  private constructor(client: SshClient, sftp: SftpChannel, target: SftpTarget) {
    this.#client = client;
    this.#sftp = sftp;
    this.#target = target;
    this.#closed = new Promise((resolve) => client.once("close", () => resolve()));
    const die = (error: Error) => {
      this.#death ??= error;
      for (const reject of this.#pending) reject(this.#lost());
      this.#pending.clear();
    };
    client.on("error", (error: Error) => die(error));
    client.on("close", () => die(new Error("the connection closed")));
    sftp.on("error", (error: Error) => die(error));
    sftp.on("close", () => {
      die(new Error("the SFTP channel closed"));
      client.end();
    });
  }

  /**
   * Connects to `target` and opens the SFTP channel.
   *
   * @throws {SftpHostKeyError} when the host key is unknown, changed or revoked.
   * @throws {SftpAuthError} when the server refuses the login.
   * @throws {SftpConnectionError} when the server cannot be reached or does
   * not answer within the target's timeout.
   * @throws {SftpStorageError} when the server has no SFTP subsystem.
   */
  static async connect(target: SftpTarget, credentials: SessionCredentials): Promise<SftpSession> {
    const client = new Client();
    let hostKeyError: SftpHostKeyError | undefined;
    const fail = (reason: string) => `Cannot connect to storage "${target.displayUrl}": ${reason}`;
    const knownHosts = credentials.knownHosts;
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey: credentials.privateKey,
      passphrase: target.passphrase,
      password: target.password,
      readyTimeout: target.timeoutMs,
      keepaliveInterval: KEEPALIVE_MS,
      keepaliveCountMax: 3,
      // chacha20-poly1305 first: AES-GCM is slow in Deno. (A "prepend" would not
      // move it: it is already in ssh2's default list, after the AES ciphers.)
      algorithms: { cipher: CIPHERS },
      hostVerifier: (key: Buffer): boolean => {
        if (knownHosts === undefined) return true;
        const verdict = checkHostKey(knownHosts, target.host, target.port, key);
        if (verdict.kind === "trusted") return true;
        const name = knownHostsName(target.host, target.port);
        const shown = `${keyType(key)} ${fingerprint(key)}`;
        const file = target.knownHostsPath;
        const reason = verdict.kind === "unknown"
          ? `the host key of ${name} (${shown}) is unknown: it is not in ${file}. Check the ` +
            `fingerprint, then add it (ssh-keyscan -p ${target.port} ${target.host} >> ${file}), ` +
            "or set insecure_ignore_host_key=true to skip the check"
          : verdict.kind === "revoked"
          ? `the host key of ${name} (${shown}) is marked @revoked in ${file}`
          : `the host key of ${name} (${shown}) does not match the ` +
            `${verdict.knownTypes.join(", ")} key(s) in ${file}: the key changed, or someone ` +
            "is intercepting the connection";
        hostKeyError = new SftpHostKeyError(fail(reason));
        return false;
      },
    };
    const ready = Promise.withResolvers<void>();
    const onError = (error: Ssh2Error) => {
      if (hostKeyError) return ready.reject(hostKeyError);
      if (error.level === "client-authentication") {
        const tried = [
          credentials.privateKey && `key ${credentials.privateKeyPath}`,
          target.password !== undefined && "password",
        ].filter(Boolean).join(" and ");
        return ready.reject(
          new SftpAuthError(
            fail(`the server refused the login of "${target.user}" with ${tried || "nothing"}`),
            { cause: error },
          ),
        );
      }
      if (error.level === "client-timeout") {
        return ready.reject(
          new SftpConnectionError(fail(`no SSH handshake within ${target.timeoutMs} ms`), {
            cause: error,
          }),
        );
      }
      const where = `${target.host}:${target.port}`;
      ready.reject(
        new SftpConnectionError(fail(`cannot reach ${where}: ${error.message}`), { cause: error }),
      );
    };
    const onClose = () =>
      ready.reject(
        hostKeyError ??
          new SftpConnectionError(fail("the server closed the connection during the handshake")),
      );
    client.on("error", onError);
    client.on("close", onClose);
    client.once("ready", () => ready.resolve());
    try {
      client.connect(config);
      // Without TCP_NODELAY every request waits ~40 ms for delayed ACKs.
      client.setNoDelay(true);
      await ready.promise;
    } catch (error) {
      client.destroy();
      throw error;
    } finally {
      client.off("error", onError);
      client.off("close", onClose);
    }
    client.setNoDelay(true);
    // Errors after the handshake are handled by the session; keep one listener
    // meanwhile so an error event never goes unhandled.
    const early: Error[] = [];
    const keep = (error: Error) => early.push(error);
    client.on("error", keep);
    let sftp: SftpChannel;
    try {
      sftp = await withTimeout(
        new Promise<SftpChannel>((resolve, reject) =>
          client.sftp((error, sftp) => error ? reject(error) : resolve(sftp))
        ),
        target.timeoutMs,
        () => client.destroy(),
      );
    } catch (error) {
      client.destroy();
      throw new SftpStorageError(
        fail(`cannot start SFTP: ${error instanceof Error ? error.message : error}`),
        { cause: error },
      );
    } finally {
      client.off("error", keep);
    }
    const session = new SftpSession(client, sftp, target);
    if (early.length > 0) session.#death = early[0];
    return session;
  }

  /** Whether the session can still carry requests. */
  get alive(): boolean {
    return this.#death === undefined;
  }

  /** Ends the connection and waits until it is closed. */
  async close(): Promise<void> {
    this.#death ??= new Error("the storage closed the session");
    this.#client.end();
    const timer = setTimeout(() => this.#client.destroy(), 1_000);
    await this.#closed;
    clearTimeout(timer);
  }

  /** Drops the connection at once (used when a request timed out). */
  #kill(reason: Error): void {
    this.#death ??= reason;
    for (const reject of this.#pending) reject(this.#lost());
    this.#pending.clear();
    this.#client.destroy();
  }

  #lost(): SftpConnectionError {
    return new SftpConnectionError(
      `Cannot use storage "${this.#target.displayUrl}": the connection was lost ` +
        `(${this.#death?.message ?? "unknown reason"})`,
      { cause: this.#death },
    );
  }

  /**
   * Runs one request: `start` issues it with a node-style callback. Rejects
   * with the server's error (see {@linkcode statusCode}), or with
   * {@linkcode SftpConnectionError} when the session dies or the request is
   * not answered within the timeout (which kills the session).
   */
  #call<T>(
    what: string,
    start: (done: (error: Error | null | undefined, value: T) => void) => void,
  ): Promise<T> {
    if (this.#death !== undefined) return Promise.reject(this.#lost());
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        this.#pending.delete(onLost);
      };
      const onLost = (error: Error) => {
        if (settled) return;
        settle();
        reject(error);
      };
      const timer = setTimeout(() => {
        this.#kill(new Error(`no answer to ${what} within ${this.#target.timeoutMs} ms`));
      }, this.#target.timeoutMs);
      this.#pending.add(onLost);
      try {
        start((error, value) => {
          if (settled) return;
          settle();
          if (!error) resolve(value);
          else if (this.#death !== undefined) reject(this.#lost());
          else reject(error);
        });
      } catch (error) {
        settle();
        reject(error);
      }
    });
  }

  /** Opens `path` with `flags` (`r`, `wx`, …), creating files with `mode`. */
  open(path: string, flags: "r" | "wx", mode = 0o644): Promise<Buffer> {
    return this.#call(`open ${path}`, (done) => this.#sftp.open(path, flags, { mode }, done));
  }

  /** Closes a handle. */
  closeHandle(handle: Buffer): Promise<void> {
    return this.#call(
      "close",
      (done) => this.#sftp.close(handle, (error) => done(error, undefined)),
    );
  }

  /** The attributes of an open file. */
  fstat(handle: Buffer): Promise<SftpAttributes> {
    return this.#call("fstat", (done) => this.#sftp.fstat(handle, done));
  }

  /** The attributes of `path`, following symlinks. */
  stat(path: string): Promise<SftpAttributes> {
    return this.#call(`stat ${path}`, (done) => this.#sftp.stat(path, done));
  }

  /** Creates directory `path`. */
  mkdir(path: string): Promise<void> {
    return this.#call(
      `mkdir ${path}`,
      (done) => this.#sftp.mkdir(path, { mode: 0o755 }, (error) => done(error, undefined)),
    );
  }

  /** Removes file `path`. */
  unlink(path: string): Promise<void> {
    return this.#call(
      `unlink ${path}`,
      (done) => this.#sftp.unlink(path, (error) => done(error, undefined)),
    );
  }

  /** The absolute, canonical form of `path` (`.` is the home directory). */
  realpath(path: string): Promise<string> {
    return this.#call(`realpath ${path}`, (done) => this.#sftp.realpath(path, done));
  }

  /** Opens directory `path` for {@linkcode SftpSession.readdir}. */
  opendir(path: string): Promise<Buffer> {
    return this.#call(`opendir ${path}`, (done) => this.#sftp.opendir(path, done));
  }

  /** The next batch of entries of an open directory, or undefined at its end. */
  readdir(handle: Buffer): Promise<SftpEntry[] | undefined> {
    return this.#call("readdir", (done) =>
      this.#sftp.readdir(handle, (error, list) => {
        if (statusCode(error) === STATUS_EOF) done(undefined, undefined);
        else done(error, list);
      }));
  }

  /**
   * Renames `from` to `to`, replacing `to` atomically with
   * `posix-rename@openssh.com`; without that extension, a plain rename
   * (which fails when `to` exists).
   */
  rename(from: string, to: string): Promise<void> {
    return this.#call(`rename ${from}`, (done) => {
      const callback = (error: Error | null | undefined) => done(error, undefined);
      if (this.posixRenameSupported) {
        try {
          return this.#sftp.ext_openssh_rename(from, to, callback);
        } catch (error) {
          if (!isUnsupported(error)) throw error;
          this.posixRenameSupported = false;
        }
      }
      this.#sftp.rename(from, to, callback);
    });
  }

  /**
   * Flushes an open file (or directory) to stable storage with
   * `fsync@openssh.com`. Resolves to false, doing nothing, when the server
   * does not offer the extension.
   */
  fsync(handle: Buffer): Promise<boolean> {
    if (!this.fsyncSupported) return Promise.resolve(false);
    return this.#call("fsync", (done) => {
      try {
        this.#sftp.ext_openssh_fsync(handle, (error) => done(error, true));
      } catch (error) {
        if (!isUnsupported(error)) throw error;
        this.fsyncSupported = false;
        done(undefined, false);
      }
    });
  }

  /** Writes all of `data` at offset 0, several requests in flight. */
  async writeAll(handle: Buffer, data: Uint8Array): Promise<void> {
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let next = 0;
    const worker = async () => {
      while (next < buffer.length) {
        const offset = next;
        const length = Math.min(CHUNK_BYTES, buffer.length - offset);
        next += length;
        await this.#call(
          "write",
          (done) =>
            this.#sftp.write(
              handle,
              buffer,
              offset,
              length,
              offset,
              (error) => done(error, undefined),
            ),
        );
      }
    };
    await Promise.all(Array.from({ length: CHUNK_WINDOW }, worker));
  }

  /**
   * Reads `length` bytes from file offset `position`, several requests in
   * flight. The result is shorter when the file ends earlier.
   */
  async readRange(handle: Buffer, position: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.allocUnsafe(length);
    let next = 0;
    let end = length;
    const worker = async () => {
      while (next < end) {
        let offset = next;
        const stop = Math.min(offset + CHUNK_BYTES, end);
        next = stop;
        // A server may answer with fewer bytes than asked: ask for the rest.
        while (offset < stop) {
          const at = offset;
          const read = await this.#call<number>(
            "read",
            (done) =>
              this.#sftp.read(
                handle,
                buffer,
                at,
                stop - at,
                position + at,
                (error, n) => done(error, n),
              ),
          );
          if (read === 0) {
            end = Math.min(end, at);
            break;
          }
          offset += read;
        }
      }
    };
    await Promise.all(Array.from({ length: CHUNK_WINDOW }, worker));
    return new Uint8Array(buffer.buffer, buffer.byteOffset, end);
  }
}

function isUnsupported(error: unknown): boolean {
  return error instanceof Error && /does not support this extended request/.test(error.message);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
