/**
 * `ddb serve --meta-backup-every DURATION`: a metadata backup (METABACKUP)
 * of every open database at that interval, for as long as the server runs.
 *
 * @module
 */

import { UsageError } from "../../cli/flags.ts";
import type { ServerState } from "../commands/command_spec.ts";
import { dumpServiceOf } from "./dump_service.ts";
import { parseDuration } from "../../cli/duration.ts";

/** The shortest interval accepted: 1 s. */
export const MIN_INTERVAL_MS = 1000;

/** A server whose end can be awaited (`Server`). */
export interface SchedulableServer extends ServerState {
  /** Resolves when the server has shut down. */
  readonly finished: Promise<void>;
}

/**
 * The interval of `--meta-backup-every` in ms, or `undefined` when the flag
 * is absent. Throws `UsageError` for a malformed or too short duration.
 */
export function metaBackupInterval(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(flag);
  } catch (cause) {
    throw new UsageError(`--meta-backup-every: ${(cause as Error).message}`, { cause });
  }
  if (ms < MIN_INTERVAL_MS) {
    throw new UsageError(`--meta-backup-every: "${flag}" is shorter than 1s`);
  }
  return ms;
}

/**
 * Backs up the metadata of every open database every `everyMs` (nothing when
 * undefined) until the server finishes. A round that is still running when
 * the next is due makes that one skip. Outcomes are logged
 * (`meta_backup.done`, `meta_backup.failed`).
 */
export function startMetaBackups(server: SchedulableServer, everyMs: number | undefined): void {
  if (everyMs === undefined) return;
  const service = dumpServiceOf(server);
  let running = false;
  let stopped = false;
  const round = async () => {
    if (running || stopped) return;
    running = true;
    try {
      for (const db of server.databases.opened()) {
        if (stopped) break;
        // Failures are logged by the service; the other databases still run.
        await service.metaBackup(db.name).catch(() => {});
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(round, everyMs);
  server.logger.info("meta_backup.scheduled", { every_ms: everyMs });
  server.finished.then(() => {
    stopped = true;
    clearInterval(timer);
  });
}
