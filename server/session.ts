/**
 * Per-connection state: the selected database, authentication, protocol
 * version, and a transaction being queued.
 *
 * @module
 */

import type { Database } from "./database.ts";
import type { CommandSpec } from "./commands/command_spec.ts";

/** A command queued by MULTI or TXINIT, run by EXEC or TXCOMMIT. */
export interface QueuedCommand {
  /** The command to run. */
  readonly spec: CommandSpec;
  /** Its arguments, without the command name. */
  readonly args: Uint8Array[];
}

/** A transaction being queued on a connection. */
export interface PendingTransaction {
  /** `multi`: Redis MULTI/EXEC semantics; `txinit`: all-or-nothing TXCOMMIT. */
  readonly mode: "multi" | "txinit";
  /** The queued commands. */
  readonly queue: QueuedCommand[];
  /** Set when queuing failed; EXEC then aborts with this reason. */
  aborted?: string;
}

/** The state of one client connection. */
export class Session {
  /** Unique id, as in CLIENT ID. */
  readonly id: number;
  /** The remote address, for logs. */
  readonly peer: string;
  /** The selected database. */
  db: Database;
  /** Whether AUTH succeeded (or no password is required). */
  authenticated: boolean;
  /** RESP version of replies. */
  protocol: 2 | 3 = 2;
  /** The name given by CLIENT SETNAME / HELLO SETNAME. */
  clientName = "";
  /** The open transaction, if any. */
  transaction: PendingTransaction | undefined;
  /** Set by QUIT: close after replying. */
  closeAfterReply = false;
  #closeHooks: (() => void)[] = [];
  #ended = false;

  /** Builds the session of a new connection. */
  constructor(id: number, peer: string, db: Database, authenticated: boolean) {
    this.id = id;
    this.peer = peer;
    this.db = db;
    this.authenticated = authenticated;
  }

  /** Whether the connection has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Runs `hook` once when the connection ends, however it ends (the client
   * closes or resets it, or the server closes it); at once if it has ended.
   */
  onClose(hook: () => void): void {
    if (this.#ended) hook();
    else this.#closeHooks.push(hook);
  }

  /** Ends the session: runs its close hooks, once. Called by the connection as it closes. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const hooks = this.#closeHooks;
    this.#closeHooks = [];
    for (const hook of hooks) hook();
  }
}
