/**
 * Types for the part of npm `ssh2` that the SFTP storage uses, and the one
 * cast of the untyped import. (`@types/ssh2` is not used: it pulls
 * `@types/node@18`, which replaces Deno's Node types for the whole project.)
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import ssh2 from "ssh2";

/** File attributes as SFTP returns them (times in seconds). */
export interface SftpAttributes {
  /** File type and permission bits (`st_mode`). */
  mode: number;
  /** Size in bytes. */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

/** One entry of a directory listing. */
export interface SftpEntry {
  /** The name within the directory. */
  filename: string;
  /** The entry's attributes. */
  attrs: SftpAttributes;
}

/** A node-style completion callback. */
export type Done = (error: Error | null | undefined) => void;

/** The client side of an SFTP channel (`SFTPWrapper`). */
export interface SftpChannel {
  /** Channel errors. */
  on(event: "error", listener: (error: Error) => void): this;
  /** The channel closed. */
  on(event: "close", listener: () => void): this;
  /** Opens a file; `flags` as in node `fs.open` (`r`, `wx`, …). */
  open(
    path: string,
    flags: string,
    attrs: { mode?: number },
    cb: (error: Error | undefined, handle: Buffer) => void,
  ): void;
  /** Closes a file or directory handle. */
  close(handle: Buffer, cb: Done): void;
  /** Attributes of an open file. */
  fstat(handle: Buffer, cb: (error: Error | undefined, attrs: SftpAttributes) => void): void;
  /** Attributes of a path, following symlinks. */
  stat(path: string, cb: (error: Error | undefined, attrs: SftpAttributes) => void): void;
  /** Creates a directory. */
  mkdir(path: string, attrs: { mode?: number }, cb: Done): void;
  /** Removes a file. */
  unlink(path: string, cb: Done): void;
  /** Renames (SFTP v3: fails when the target exists). */
  rename(from: string, to: string, cb: Done): void;
  /** Canonical absolute path. */
  realpath(path: string, cb: (error: Error | undefined, path: string) => void): void;
  /** Opens a directory for `readdir`. */
  opendir(path: string, cb: (error: Error | undefined, handle: Buffer) => void): void;
  /** The next batch of entries of an open directory (an EOF status error at its end). */
  readdir(handle: Buffer, cb: (error: Error | undefined, list: SftpEntry[]) => void): void;
  /** `posix-rename@openssh.com`; throws synchronously when the server lacks it. */
  ext_openssh_rename(from: string, to: string, cb: Done): void;
  /** `fsync@openssh.com`; throws synchronously when the server lacks it. */
  ext_openssh_fsync(handle: Buffer, cb: Done): void;
  /** Writes `length` bytes of `buffer` from `offset` at file position `position`. */
  write(
    handle: Buffer,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    cb: Done,
  ): void;
  /** Reads up to `length` bytes at `position` into `buffer` at `offset` (0 at end of file). */
  read(
    handle: Buffer,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    cb: (error: Error | undefined, bytesRead: number) => void,
  ): void;
}

/** An error from `ssh2`: `level` says which stage failed. */
export interface Ssh2Error extends Error {
  /** `client-authentication`, `client-timeout`, `client-socket`, `client-dns`, … */
  level?: string;
}

/** The subset of `ConnectConfig` used. */
export interface ConnectConfig {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Login name. */
  username: string;
  /** Private key bytes; must be a Buffer. */
  privateKey?: Buffer;
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
  /** Password. */
  password?: string;
  /** Handshake timeout (ms). */
  readyTimeout: number;
  /** Interval of SSH keepalives (ms). */
  keepaliveInterval: number;
  /** Unanswered keepalives before the connection is dropped. */
  keepaliveCountMax: number;
  /** Algorithm preferences. */
  algorithms?: { cipher?: string[] };
  /** Called with the raw host key blob; returns whether to trust it. */
  hostVerifier: (key: Buffer) => boolean;
}

/** An SSH client connection (`ssh2.Client`). */
export interface SshClient {
  /** Starts connecting. */
  connect(config: ConnectConfig): this;
  /** Ends the connection gracefully. */
  end(): this;
  /** Drops the connection at once. */
  destroy(): this;
  /** Sets TCP_NODELAY on the socket. */
  setNoDelay(noDelay: boolean): this;
  /** Opens the SFTP subsystem. */
  sftp(cb: (error: Error | undefined, sftp: SftpChannel) => void): void;
  /** The handshake and login succeeded, or the connection closed. */
  on(event: "ready" | "close", listener: () => void): this;
  /** A connection error. */
  on(event: "error", listener: (error: Ssh2Error) => void): this;
  /** As `on`, once. */
  once(event: "ready" | "close", listener: () => void): this;
  /** Removes a listener. */
  off(event: "ready" | "close", listener: () => void): this;
  /** Removes a listener. */
  off(event: "error", listener: (error: Ssh2Error) => void): this;
}

interface Ssh2Module {
  Client: new () => SshClient;
  utils: { parseKey(data: Buffer, passphrase?: string): object | Error };
}

const typed = ssh2 as unknown as Ssh2Module;

/** `ssh2.Client`. */
export const Client: new () => SshClient = typed.Client;

/** Parses a private key; returns an Error when it cannot be used (`ssh2.utils.parseKey`). */
export function parseKey(data: Buffer, passphrase?: string): object | Error {
  return typed.utils.parseKey(data, passphrase);
}
