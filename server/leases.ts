/**
 * Leases: who may work on a database's backup data right now. A backup holds
 * a `backup` lease while it writes records that reference existing data; the
 * garbage collector holds a `gc` lease while it marks and deletes. The two
 * kinds exclude each other: a gc lease cannot be taken while any unexpired
 * backup lease exists, and a backup lease cannot be taken while a gc lease
 * exists. Backups share (any number at once); gc is alone.
 *
 * Leases live in the server's memory, one {@linkcode LeaseTable} per
 * database, and expire after their time to live unless renewed. The server
 * runs one command at a time, so a check and a take are one atomic step.
 *
 * An expired lease is kept (as a tombstone) until a lease of the other kind
 * is taken: renewing it late then still succeeds when nothing happened in
 * between, and fails when the other kind ran meanwhile. So a backup that
 * stalled past its time to live learns, at its next renewal, whether a gc
 * may have deleted what it was about to reference.
 *
 * A lease taken or renewed with an owner (the client connection of `LEASE`)
 * expires at once when that owner closes ({@linkcode LeaseTable.endHeldBy}):
 * a crashed backup does not hold gc off for the rest of its time to live.
 * It becomes a tombstone like any expired lease, so a client that renews it
 * from a new connection still may, unless a gc took the database meanwhile.
 *
 * See docs/gc.md for how backups and gc use leases.
 *
 * @module
 */

import type { Database } from "./database.ts";

/** The two kinds of lease. */
export type LeaseKind = "backup" | "gc";

/** The lease kinds, as given to LEASE ACQUIRE. */
export const LEASE_KINDS: readonly LeaseKind[] = ["backup", "gc"];

/** The longest time to live a lease may ask for: one day. */
export const MAX_LEASE_TTL_MS = 24 * 60 * 60 * 1000;

/** Tombstones of expired leases are dropped this long after expiry at the latest. */
export const TOMBSTONE_MS = 24 * 60 * 60 * 1000;

/** Lease ids are 1 to this many characters. */
export const MAX_LEASE_ID_LENGTH = 200;

/** One lease as the table reports it. */
export interface Lease {
  /** Backup or gc. */
  readonly kind: LeaseKind;
  /** The holder's id, chosen by the holder. */
  readonly id: string;
  /** When it was taken (ms since the epoch). */
  readonly acquiredAt: number;
  /** When it expires (ms since the epoch); `Infinity` for a lease held until released. */
  readonly expiresAt: number;
}

/** A lease cannot be taken: a lease of the other kind (or another gc) holds the database. */
export class LeaseConflictError extends Error {
  /** The leases in the way. */
  readonly holders: readonly Lease[];
  /** Builds the error; `message` says who holds what, until when. */
  constructor(message: string, holders: readonly Lease[], options?: ErrorOptions) {
    super(message, options);
    this.name = "LeaseConflictError";
    this.holders = holders;
  }
}

/** A lease to renew or release is not held (never taken, released, or lost after expiry). */
export class LeaseNotHeldError extends Error {
  /** The lease id asked for. */
  readonly id: string;
  /** Builds the error for lease `id`; `message` says why. */
  constructor(id: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LeaseNotHeldError";
    this.id = id;
  }
}

/** When `lease` ends, as text: an ISO time and the seconds left, or "until it ends". */
function until(lease: Lease, now: number): string {
  if (lease.expiresAt === Infinity) return "until it ends";
  const left = Math.max(0, Math.ceil((lease.expiresAt - now) / 1000));
  return `until ${new Date(lease.expiresAt).toISOString()} (${left}s from now)`;
}

function describe(lease: Lease, now: number): string {
  return `${lease.kind} lease "${lease.id}" ${until(lease, now)}`;
}

/**
 * Who holds a lease: a client connection (`server/session.ts`), which says
 * when it closes.
 */
export interface LeaseOwner {
  /** Runs `hook` once when the owner goes (at once if it has gone). */
  onClose(hook: () => void): void;
}

/** The leases of one database. */
export class LeaseTable {
  readonly #name: string;
  readonly #now: () => number;
  readonly #leases = new Map<string, Lease>();
  /** The owner of each lease that has one, by lease id. */
  readonly #owners = new Map<string, LeaseOwner>();
  /** Owners whose closing this table watches. */
  readonly #watched = new WeakSet<LeaseOwner>();

  /** Builds the table of database `name`, reading time from `now` (ms since the epoch). */
  constructor(name: string, now: () => number = Date.now) {
    this.#name = name;
    this.#now = now;
  }

  /**
   * Takes lease `id` of `kind` for `ttlMs` (`Infinity`: until released).
   * Taking a lease the same holder already has extends it. With an `owner`,
   * the lease expires when the owner closes; without one (the `GC`
   * command's own lease), only when released or timed out.
   *
   * @throws {LeaseConflictError} when a lease of the other kind holds the
   *   database (for gc: any unexpired backup lease, or another gc lease).
   */
  acquire(kind: LeaseKind, id: string, ttlMs: number, owner?: LeaseOwner): Lease {
    const now = this.#now();
    this.#dropOld(now);
    const own = this.#leases.get(id);
    if (own !== undefined && own.kind !== kind) {
      throw new LeaseConflictError(
        `Cannot take ${kind} lease "${id}" on database "${this.#name}": ` +
          `the id already names a ${own.kind} lease`,
        [own],
      );
    }
    const blocking = [...this.#leases.values()].filter((l) =>
      l.id !== id && l.expiresAt > now && (kind === "gc" || l.kind === "gc")
    );
    if (blocking.length > 0) {
      const shown = blocking.slice(0, 3).map((l) => describe(l, now)).join(", ");
      const more = blocking.length > 3 ? ` and ${blocking.length - 3} more` : "";
      const why = blocking.some((l) => l.kind === "backup")
        ? "backups are running"
        : "a garbage collection is running";
      throw new LeaseConflictError(
        `Cannot take ${kind} lease "${id}" on database "${this.#name}": ${why}: ${shown}${more}`,
        blocking,
      );
    }
    // Taking one kind ends every expired lease of the other: their holders'
    // late renewals must fail, as the data they saw may change now.
    for (const [other, lease] of this.#leases) {
      if (lease.kind !== kind && lease.expiresAt <= now) {
        this.#leases.delete(other);
        this.#owners.delete(other);
      }
    }
    const lease: Lease = {
      kind,
      id,
      acquiredAt: own?.acquiredAt ?? now,
      expiresAt: now + ttlMs,
    };
    this.#leases.set(id, lease);
    this.#own(id, owner);
    return lease;
  }

  /**
   * Extends lease `id` to `ttlMs` from now. A lease that expired is renewed
   * too, as long as no lease of the other kind was taken since. With an
   * `owner`, the lease passes to it (a client renewing from a new
   * connection): it expires when that one closes.
   *
   * @throws {LeaseNotHeldError} when the lease is not held.
   */
  renew(id: string, ttlMs: number, owner?: LeaseOwner): Lease {
    const now = this.#now();
    const lease = this.#leases.get(id);
    if (lease === undefined) {
      throw new LeaseNotHeldError(
        id,
        `Cannot renew lease "${id}" on database "${this.#name}": it is not held ` +
          "(released, or expired and taken over by the other kind)",
      );
    }
    const renewed: Lease = { ...lease, expiresAt: now + ttlMs };
    this.#leases.set(id, renewed);
    this.#own(id, owner);
    return renewed;
  }

  /** Ends lease `id`; returns whether it was held. */
  release(id: string): boolean {
    this.#owners.delete(id);
    return this.#leases.delete(id);
  }

  /**
   * Expires now every unexpired lease `owner` holds, as if its time to live
   * had run out (it stays a tombstone: see the module documentation).
   * Returns them as they were. Called when the owner closes.
   */
  endHeldBy(owner: LeaseOwner): Lease[] {
    const now = this.#now();
    const ended: Lease[] = [];
    for (const [id, holder] of this.#owners) {
      if (holder !== owner) continue;
      this.#owners.delete(id);
      const lease = this.#leases.get(id);
      if (lease === undefined || lease.expiresAt <= now) continue;
      ended.push(lease);
      this.#leases.set(id, { ...lease, expiresAt: now });
    }
    return ended;
  }

  /**
   * Calls `onEnd` with the leases `owner` held whenever it closes, once per
   * owner and table (taking and renewing many leases adds no more hooks).
   */
  watch(owner: LeaseOwner, onEnd: (ended: Lease[]) => void): void {
    if (this.#watched.has(owner)) return;
    this.#watched.add(owner);
    owner.onClose(() => {
      const ended = this.endHeldBy(owner);
      if (ended.length > 0) onEnd(ended);
    });
  }

  /** Whether lease `id` is held and unexpired. */
  holds(id: string): boolean {
    const lease = this.#leases.get(id);
    return lease !== undefined && lease.expiresAt > this.#now();
  }

  /** The unexpired leases, by kind then id. */
  list(): Lease[] {
    const now = this.#now();
    return [...this.#leases.values()].filter((l) => l.expiresAt > now).sort((a, b) =>
      a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    );
  }

  #own(id: string, owner: LeaseOwner | undefined): void {
    if (owner !== undefined) this.#owners.set(id, owner);
  }

  #dropOld(now: number): void {
    for (const [id, lease] of this.#leases) {
      if (lease.expiresAt + TOMBSTONE_MS <= now) {
        this.#leases.delete(id);
        this.#owners.delete(id);
      }
    }
  }
}

const tables = new WeakMap<Database, LeaseTable>();

/** The lease table of `db` (made on first use), reading time from `now`. */
export function leasesOf(db: Database, now: () => number = Date.now): LeaseTable {
  let table = tables.get(db);
  if (table === undefined) {
    table = new LeaseTable(db.name, now);
    tables.set(db, table);
  }
  return table;
}
