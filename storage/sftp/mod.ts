/**
 * The SFTP blob storage: a storage directory on an SSH server, reached with
 * an `sftp://` URL. See `docs/storage.md` ("SFTP").
 *
 * @example
 * ```ts
 * import { SftpStorage } from "./storage/sftp/mod.ts";
 *
 * const storage = await SftpStorage.open("sftp://backup@nas.lan/srv/ddb");
 * await storage.close();
 * ```
 *
 * @module
 */

export * from "./sftp_storage.ts";
export * from "./sftp_url.ts";
export * from "./sftp_errors.ts";
export * from "./known_hosts.ts";
