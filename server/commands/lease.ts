/**
 * The LEASE command (`server/leases.ts`): backups and garbage collection
 * announce themselves on the selected database and exclude each other.
 *
 * - `LEASE ACQUIRE backup|gc id ttl-ms` → `OK`, or `ERR LEASE …` naming the
 *   leases in the way and until when they hold;
 * - `LEASE RENEW id ttl-ms` → `OK`, or `ERR LEASE …` when the lease is lost;
 * - `LEASE RELEASE id` → 1 if it was held, else 0;
 * - `LEASE LIST` → one map per unexpired lease: kind, id, ttl_ms (-1: held
 *   until its holder ends).
 *
 * A lease taken or renewed here belongs to the connection that sent the
 * command and expires as soon as that connection closes (it stays a
 * tombstone: renewing it from another connection works until a lease of the
 * other kind is taken).
 *
 * @module
 */

import { array, bulk, int, map, OK, type Reply } from "../resp/reply.ts";
import type { CommandContext, CommandSpec } from "./command_spec.ts";
import { count, keyword, text } from "./args.ts";
import { CommandError, syntaxError } from "./command_error.ts";
import {
  LEASE_KINDS,
  LeaseConflictError,
  type LeaseKind,
  LeaseNotHeldError,
  leasesOf,
  MAX_LEASE_ID_LENGTH,
  MAX_LEASE_TTL_MS,
} from "../leases.ts";

function leaseId(arg: Uint8Array): string {
  const id = text(arg);
  if (id.length === 0 || id.length > MAX_LEASE_ID_LENGTH) {
    throw new CommandError(`ERR LEASE id must be 1 to ${MAX_LEASE_ID_LENGTH} characters`);
  }
  return id;
}

function ttl(arg: Uint8Array): number {
  const ms = count(arg);
  if (ms < 1 || ms > MAX_LEASE_TTL_MS) {
    throw new CommandError(`ERR LEASE ttl must be 1 to ${MAX_LEASE_TTL_MS} ms`);
  }
  return ms;
}

function kindOf(arg: Uint8Array): LeaseKind {
  const kind = LEASE_KINDS.find((k) => k === text(arg).toLowerCase());
  if (kind === undefined) {
    throw new CommandError(`ERR LEASE kind must be one of ${LEASE_KINDS.join(", ")}`);
  }
  return kind;
}

/** Runs `fn`, answering lease errors with `ERR LEASE <message>`. */
function answering(fn: () => Reply): Reply {
  try {
    return fn();
  } catch (error) {
    if (error instanceof LeaseConflictError || error instanceof LeaseNotHeldError) {
      throw new CommandError(`ERR LEASE ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function lease({ server, session }: CommandContext, args: Uint8Array[]): Reply {
  const db = session.db;
  const table = leasesOf(db, server.now);
  const sub = keyword(args[0]);
  // A lease taken or renewed here belongs to this connection and expires
  // when it closes: a crashed backup does not keep gc waiting.
  const own = () =>
    table.watch(session, (ended) => {
      for (const l of ended) {
        server.logger.info("lease.closed", { db: db.name, kind: l.kind, id: l.id });
      }
    });
  return answering(() => {
    if (sub === "ACQUIRE" && args.length === 4) {
      const held = table.acquire(kindOf(args[1]), leaseId(args[2]), ttl(args[3]), session);
      own();
      server.logger.info("lease.acquire", { db: db.name, ...logged(held) });
      return OK;
    }
    if (sub === "RENEW" && args.length === 3) {
      table.renew(leaseId(args[1]), ttl(args[2]), session);
      own();
      return OK;
    }
    if (sub === "RELEASE" && args.length === 2) {
      const id = leaseId(args[1]);
      const held = table.release(id);
      if (held) server.logger.info("lease.release", { db: db.name, id });
      return int(held ? 1 : 0);
    }
    if (sub === "LIST" && args.length === 1) {
      const now = server.now();
      return array(
        table.list().map((l) =>
          map([
            [bulk("kind"), bulk(l.kind)],
            [bulk("id"), bulk(l.id)],
            [bulk("ttl_ms"), int(l.expiresAt === Infinity ? -1 : l.expiresAt - now)],
          ])
        ),
      );
    }
    throw syntaxError();
  });
}

function logged(l: { kind: LeaseKind; id: string; expiresAt: number }) {
  return {
    kind: l.kind,
    id: l.id,
    until: l.expiresAt === Infinity ? "released" : new Date(l.expiresAt).toISOString(),
  };
}

/** The LEASE command. */
export const LEASE_COMMANDS: readonly CommandSpec[] = [
  {
    name: "LEASE",
    arity: -2,
    flags: ["notx"],
    synopsis: "ACQUIRE backup|gc id ttl-ms | RENEW id ttl-ms | RELEASE id | LIST",
    summary: "Backup and gc leases of the selected database: backups share, gc excludes them.",
    sync: lease,
  },
];
