/**
 * Where the backup benchmark (`scripts/backup_bench.ts`) stores its backups:
 * the server's own local storage, a directory on a private sshd (SFTP), or a
 * bucket on a throwaway Ceph radosgw (S3). Each remote kind also says how
 * restic reaches the same server, in a separate directory or bucket, so both
 * tools write over the same transport.
 *
 * @module
 */

import { join } from "node:path";
import { parseListObjectsV2 } from "../../storage/s3/s3_xml.ts";
import { canRunRadosgw, s3Request, startRadosgw, type TestRadosgw } from "../../tests/_radosgw.ts";
import { canRunSshd, startSshd } from "../../tests/_sshd.ts";
import { duBytes } from "./du_bytes.ts";

/** The kinds of storage the benchmark can back up to. */
export const STORAGE_KINDS = ["local", "sftp", "s3"] as const;

/** One of {@linkcode STORAGE_KINDS}. */
export type StorageKind = typeof STORAGE_KINDS[number];

/** How restic reaches its repository on the same server. */
export interface ResticTarget {
  /** `RESTIC_REPOSITORY`. */
  readonly repository: string;
  /** Environment restic needs besides the repository and the password (keys). */
  readonly env: Record<string, string>;
  /** Options put before the subcommand (`-o sftp.command=…`). */
  readonly args: string[];
  /** The bytes the repository holds now. */
  bytes(): Promise<number>;
}

/** A storage ready for `ddb serve`, and for restic. */
export interface BackupStorage {
  /** Which kind it is. */
  readonly kind: StorageKind;
  /** The storage URL of the benchmark's database. */
  readonly url: string;
  /**
   * Whether the server must be given {@linkcode BackupStorage.url} in a config
   * file; false for `local`, whose URL is the server's default storage.
   */
  readonly configured: boolean;
  /** Environment the server (and `scripts/storage_bench.ts`) needs to open the URL. */
  readonly env: Record<string, string>;
  /** Bytes ddb keeps outside the server's data directory (0 for `local`). */
  remoteBytes(): Promise<number>;
  /** restic's repository on the same server. */
  readonly restic: ResticTarget;
  /** Stops the servers it started; idempotent. Their data goes with them or stays in `work`. */
  stop(): Promise<void>;
}

/** The requested storage cannot be set up (a tool is missing, a server did not start). */
export class BackupStorageError extends Error {
  /** Builds the error with a message such as `Cannot start storage "sftp": reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackupStorageError";
  }
}

/** Whether `text` names a {@linkcode StorageKind}. */
export function isStorageKind(text: string): text is StorageKind {
  return (STORAGE_KINDS as readonly string[]).includes(text);
}

/**
 * Sets up a storage of `kind`. Files go under `work` (`work/sftp/…` for SFTP;
 * the local storage is `serverDataDir/blobs/default`, where the server puts it
 * by default); a radosgw keeps its objects in RAM. The caller must call
 * `stop()`, and removes `work` itself.
 */
export async function startBackupStorage(
  kind: StorageKind,
  work: string,
  serverDataDir: string,
): Promise<BackupStorage> {
  switch (kind) {
    case "local":
      return localStorage(work, serverDataDir);
    case "sftp":
      return await sftpStorage(work);
    case "s3":
      return await s3Storage();
  }
}

function localStorage(work: string, serverDataDir: string): BackupStorage {
  const repository = join(work, "restic-repo");
  return {
    kind: "local",
    url: join(serverDataDir, "blobs", "default"),
    configured: false,
    env: {},
    remoteBytes: () => Promise.resolve(0),
    restic: { repository, env: {}, args: [], bytes: () => duBytes(repository) },
    stop: () => Promise.resolve(),
  };
}

async function sftpStorage(work: string): Promise<BackupStorage> {
  if (!canRunSshd()) throw new BackupStorageError(`Cannot start storage "sftp": no sshd`);
  const sshd = await startSshd();
  const host = "127.0.0.1";
  const ddbDir = join(work, "sftp", "ddb");
  const resticDir = join(work, "sftp", "restic");
  const query = new URLSearchParams({ key: sshd.keyPath, known_hosts: sshd.knownHostsPath });
  const ssh = [
    "ssh",
    `-p ${sshd.port}`,
    `-i ${sshd.keyPath}`,
    `-o UserKnownHostsFile=${sshd.knownHostsPath}`,
    "-o StrictHostKeyChecking=yes",
    "-o IdentitiesOnly=yes",
    "-o BatchMode=yes",
    `${sshd.user}@${host}`,
    "-s sftp",
  ].join(" ");
  return {
    kind: "sftp",
    url: `sftp://${sshd.user}@${host}:${sshd.port}${ddbDir}?${query}`,
    configured: true,
    env: {},
    remoteBytes: () => duBytes(ddbDir),
    restic: {
      repository: `sftp:${sshd.user}@${host}:${resticDir}`,
      env: {},
      args: ["-o", `sftp.command=${ssh}`],
      bytes: () => duBytes(resticDir),
    },
    stop: () => sshd.stop(),
  };
}

/** The RAM the OSD may fill: the dataset twice (ddb and restic) with room to spare. */
const RADOSGW_MEMORY_BYTES = 8 * 1024 ** 3;

async function s3Storage(): Promise<BackupStorage> {
  if (!canRunRadosgw()) throw new BackupStorageError(`Cannot start storage "s3": no radosgw`);
  const gw = await startRadosgw({ memoryBytes: RADOSGW_MEMORY_BYTES });
  const env = { AWS_ACCESS_KEY_ID: gw.accessKey, AWS_SECRET_ACCESS_KEY: gw.secretKey };
  const query = new URLSearchParams({ endpoint: gw.endpoint, create_bucket: "true" });
  return {
    kind: "s3",
    url: `s3://ddb-bench/blobs?${query}`,
    configured: true,
    env,
    remoteBytes: () => bucketBytes(gw, "ddb-bench", "blobs/"),
    restic: {
      repository: `s3:${gw.endpoint}/restic-bench`,
      env,
      args: ["-o", `s3.region=${gw.region}`],
      bytes: () => bucketBytes(gw, "restic-bench", ""),
    },
    stop: () => gw.stop(),
  };
}

/** The total size of the objects under `prefix` in `bucket` (0 when there is no bucket). */
async function bucketBytes(gw: TestRadosgw, bucket: string, prefix: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ "list-type": "2", prefix });
    if (token) query.set("continuation-token", token);
    const reply = await s3Request(gw, "GET", `/${bucket}?${query}`);
    if (reply.status === 404) return 0;
    if (reply.status !== 200) {
      throw new BackupStorageError(`Cannot list bucket "${bucket}": HTTP ${reply.status}`);
    }
    const page = parseListObjectsV2(reply.text);
    for (const object of page.objects) total += object.size;
    token = page.nextContinuationToken;
  } while (token);
  return total;
}
